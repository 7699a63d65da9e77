"""What the web edge is handed by the composition root: wired services and edge limits."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.requests import Request

from openucwa.auth.grants import SignIn
from openucwa.auth.tokens import Tokens
from openucwa.domain.clock import Clock
from openucwa.domain.users import Organization
from openucwa.services.applications import ApplicationService
from openucwa.services.event_channel import EventChannel
from openucwa.services.meetings import MeetingService
from openucwa.services.messaging import MessagingService
from openucwa.services.ports import UserRepository
from openucwa.web.proxies import TrustedProxies


@dataclass(frozen=True, slots=True)
class EdgeConfig:
    max_body_bytes: int = 256 * 1024
    meet_url: str = ""  # base of joinUrl; "" = this server's own origin
    trusted_proxies: TrustedProxies = TrustedProxies()  # peers whose X-Forwarded-For counts
    xframe_origins: tuple[str, ...] = ()  # web origins the XFrame relay serves; () = any


@dataclass(frozen=True, slots=True)
class Services:
    applications: ApplicationService
    meetings: MeetingService
    events: EventChannel
    messaging: MessagingService
    tokens: Tokens
    sign_in: SignIn
    users: UserRepository
    organization: Organization
    clock: Clock
    edge: EdgeConfig


def services(request: Request) -> Services:
    scope = request.scope
    found: Services | None = scope.get(SCOPE_KEY)
    if found is None:
        found = request.app.state.services
        scope[SCOPE_KEY] = found  # looked up several times per request
    return found


SCOPE_KEY = "openucwa.services"
# A list in a request's ASGI scope of what to call if its connection is lost before it is
# answered (web/http_protocol.py calls them; the event channel's held P-GETs register).
ON_CLOSE = "openucwa.on_close"
# In the lifespan state (which uvicorn hands each connection's protocol): what to call when the
# server starts to shut down (web/http_protocol.py calls it; held P-GETs answer at once).
ON_SHUTDOWN = "openucwa.on_shutdown"

"""Who may touch what: every resource under an application goes through ``application_of``."""

from __future__ import annotations

from starlette.requests import Request

from openucwa.auth import scopes
from openucwa.domain.applications import Application
from openucwa.domain.errors import Forbidden
from openucwa.domain.users import Caller
from openucwa.web.context import services
from openucwa.web.security import authenticate


async def application_of(
    request: Request, needs: str = scopes.APPLICATIONS
) -> tuple[Caller, Application]:
    """The caller and their application named in the path: 401 without a valid token, 404 when
    the application is not the caller's (no hint that it exists), 410 once it expired."""
    caller = await authenticate(request)
    if not scopes.allows(caller.scopes, needs):
        raise Forbidden(message="The token does not allow this operation.")
    app = await services(request).applications.get(caller, request.path_params["app_id"])
    return caller, app

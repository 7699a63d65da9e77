"""The Starlette application. The middleware order is written out once, here:

    PathNormalizer (leading "//" -> "/")
      -> the hottest routes (the event channel, GET of a meeting, POST myOnlineMeetings):
         their endpoint, called directly
      -> Starlette(ServerErrorMiddleware -> ExceptionMiddleware(web/errors.py) -> Router)

The P-GET skips Starlette's middleware and router frames because thousands of them are held
open at once (measured: ~6 KB per held poll); the meeting GET and POST skip them for speed
(measured: ~15 us of ~75 us per GET). All go through the same endpoint functions and the same
error handlers as every other request, and stay in the route table (for links and HEAD).

Authentication is per endpoint (``web/guard.py``), not a middleware: discovery, the token
endpoint and the join page are public, and the hot paths pay for nothing they do not use.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, Protocol

from starlette.applications import Starlette
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from openucwa.domain.errors import UcwaError
from openucwa.services.housekeeping import Job, run_forever
from openucwa.web.context import Services
from openucwa.web.errors import http_error, ucwa_error, unexpected_error
from openucwa.web.resources import events, my_online_meetings
from openucwa.web.routes import ROUTES
from openucwa.web.security import Unauthorized, challenge


class IndexedHeaders(Headers):
    """Request headers looked up through a dict made once (Starlette scans the list on every
    lookup; a meeting GET looks up seven). The first value of a repeated name wins, as there."""

    def __init__(self, scope: Scope) -> None:
        super().__init__(scope=scope)
        self._index: dict[bytes, bytes] = {}
        for name, value in reversed(self._list):
            self._index[name] = value

    def __getitem__(self, key: str) -> str:
        found = self._index.get(key.lower().encode("latin-1"))
        if found is None:
            raise KeyError(key)
        return found.decode("latin-1")

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.lower().encode("latin-1") in self._index

    def get(self, key: str, default: Any = None) -> Any:
        found = self._index.get(key.lower().encode("latin-1"))
        return default if found is None else found.decode("latin-1")


class Lifecycle(Protocol):
    async def start(self) -> None: ...
    async def close(self) -> None: ...


Endpoint = Callable[[Request], Awaitable[Response]]
_APP = r"^/ucwa/oauth/v1/applications/(?P<app_id>[^/]+)"
DIRECT: tuple[tuple[str, re.Pattern[str], Endpoint], ...] = (
    ("GET", re.compile(_APP + r"/events$"), events.get_events),
    (
        "GET",
        re.compile(_APP + r"/onlineMeetings/myOnlineMeetings/(?P<meeting_id>[^/]+)$"),
        my_online_meetings.get_meeting,
    ),
    (
        "POST",
        re.compile(_APP + r"/onlineMeetings/myOnlineMeetings$"),
        my_online_meetings.create_meeting,
    ),
)


class PathNormalizer:
    """Treat a leading ``//`` as ``/`` (a real client sends ``GET //ucwa/...``), and hand
    event-channel P-GETs straight to their endpoint."""

    def __init__(self, app: Starlette) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if path.startswith("//"):
                scope = dict(scope)
                scope["path"] = "/" + path.lstrip("/")
                scope["raw_path"] = scope["path"].encode()
                path = scope["path"]
            method = scope["method"]
            for wanted, pattern, endpoint in DIRECT:
                if method == wanted and (match := pattern.match(path)) is not None:
                    await self._direct(scope, receive, send, endpoint, match.groupdict())
                    return
        await self.app(scope, receive, send)

    async def _direct(
        self, scope: Scope, receive: Receive, send: Send, endpoint: Endpoint, params: dict[str, str]
    ) -> None:
        scope["app"] = self.app
        scope["path_params"] = params
        request = Request(scope, receive, send)
        request._headers = IndexedHeaders(scope)  # Starlette's cache slot for .headers
        try:
            response = await endpoint(request)
        except UcwaError as exc:
            response = await ucwa_error(request, exc)
        except Unauthorized as exc:
            response = await challenge(request, exc)
        except Exception as exc:  # noqa: BLE001 - logged, answered as ServiceFailure
            response = await unexpected_error(request, exc)
        await response(scope, receive, send)


def create_app(
    services: Services,
    lifecycle: Lifecycle | None = None,
    jobs: Mapping[str, Job] | None = None,
    housekeeping_interval: float = 60.0,
) -> PathNormalizer:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if lifecycle is not None:
            await lifecycle.start()
        task = asyncio.create_task(run_forever(jobs, housekeeping_interval)) if jobs else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if lifecycle is not None:
                await lifecycle.close()

    handlers: dict[type[Exception] | int, Callable[..., Awaitable[object]]] = {
        UcwaError: ucwa_error,
        HTTPException: http_error,
        Unauthorized: challenge,
        Exception: unexpected_error,
    }
    app = Starlette(routes=ROUTES, exception_handlers=handlers, lifespan=lifespan)  # type: ignore[arg-type]
    app.state.services = services
    return PathNormalizer(app)

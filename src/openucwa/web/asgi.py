"""The Starlette application. The middleware order is written out once, here:

    PathNormalizer (leading "//" -> "/")
      -> the hottest routes (the event channel, GET of a meeting, POST myOnlineMeetings):
         their endpoint, called directly
      -> Starlette(ServerErrorMiddleware -> ExceptionMiddleware(unexpected errors)
                   -> ExceptionMiddleware(web/errors.py) -> Router)

The P-GET skips Starlette's middleware and router frames because thousands of them are held
open at once (measured: ~6 KB per held poll); the meeting GET and POST skip them for speed
(measured: ~15 us of ~75 us per GET). All go through the same endpoint functions and the same
error handlers as every other request, and stay in the route table (for links, for the
meeting GET's HEAD, and for the events URL's 405 to other methods, HEAD included). Their
Request is a ``DirectRequest`` (headers indexed once), their responses wait for the end of the
loop turn to leave together (``send_gate.py``), and a rendered response is sent as the two ASGI
messages Starlette's Response would send.

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
from starlette.middleware import Middleware
from starlette.middleware.exceptions import ExceptionMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from openucwa.domain.errors import UcwaError
from openucwa.services.housekeeping import Job, run_forever
from openucwa.web.context import ON_SHUTDOWN, SCOPE_KEY, Services
from openucwa.web.errors import (
    client_gone,
    failure_log,
    http_error,
    ucwa_error,
    unexpected_error,
)
from openucwa.web.resources import events, my_online_meetings
from openucwa.web.respond import EncodedResponse
from openucwa.web.routes import ROUTES
from openucwa.web.security import Unauthorized, challenge
from openucwa.web.send_gate import SendGate


class IndexedHeaders(Headers):
    """Request headers looked up through a dict made once (Starlette scans the list on every
    lookup; a meeting GET looks up seven). The first value of a repeated name wins, as there.
    Names are ASGI's, already lower case; the bytes key of a name asked for is kept."""

    def __init__(self, scope: Scope) -> None:
        raw = scope["headers"]
        if type(raw) is not list:  # as Starlette: the scope's iterable becomes a list
            raw = scope["headers"] = list(raw)
        self._list = raw
        self._index: dict[bytes, bytes] = dict(reversed(raw))

    def __getitem__(self, key: str) -> str:
        found = self._index.get(_KEYS.get(key) or _key(key))
        if found is None:
            raise KeyError(key)
        return found.decode("latin-1")

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and (_KEYS.get(key) or _key(key)) in self._index

    def get(self, key: str, default: Any = None) -> Any:
        found = self._index.get(_KEYS.get(key) or _key(key))
        return default if found is None else found.decode("latin-1")


_KEYS: dict[str, bytes] = {}  # header name as the code asks for it -> ASGI bytes name


def _key(name: str) -> bytes:
    key = name.lower().encode("latin-1")
    if len(_KEYS) < 256:  # the names asked for are the code's own: a few dozen
        _KEYS[name] = key
    return key


class DirectRequest(Request):
    """A Request for the direct routes, made without Starlette's checks (PathNormalizer saw an
    http scope) and with its headers indexed. ``headers`` and ``method`` are plain slots that
    shadow Starlette's properties: a meeting POST reads them ~10 times, ~1k instructions less
    each than through the property."""

    __slots__ = ("headers", "method")
    headers: IndexedHeaders
    method: str

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Starlette's Request.__init__ sets exactly these (and asserts the scope type).
        self.scope = scope
        self._receive = receive
        self._send = send
        self._stream_consumed = False
        self._is_disconnected = False
        self._form = None
        self.headers = IndexedHeaders(scope)
        self.method = scope["method"]


class Lifecycle(Protocol):
    async def start(self) -> None: ...
    async def close(self) -> None: ...


Endpoint = Callable[[Request], Awaitable[Response]]
_APP_PREFIX = "/ucwa/oauth/v1/applications/"
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
_DIRECT_BY_METHOD: dict[str, tuple[tuple[re.Pattern[str], Endpoint], ...]] = {
    method: tuple((p, e) for m, p, e in DIRECT if m == method) for method, _, _ in DIRECT
}


# Discovery and the token endpoint in any letter case: real servers run on IIS, whose paths
# are case-insensitive, and clients hard-code them in lower case (the PyPI ``ucwa`` package
# GETs /autodiscover/autodiscoverservice.svc/root, as MS-OCDISCWS spells it).
_CASELESS: dict[str, str] = {
    route.path.lower(): route.path
    for route in ROUTES
    if isinstance(route, Route) and route.path.startswith(("/Autodiscover/", "/WebTicket/"))
}


class PathNormalizer:
    """Treat a leading ``//`` as ``/`` (a real client sends ``GET //ucwa/...``), match
    discovery and token paths in any letter case, and hand event-channel P-GETs straight to
    their endpoint."""

    def __init__(self, app: Starlette) -> None:
        self.app = app
        self.send_gate = SendGate()
        self._services: Services | None = getattr(app.state, "services", None)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if path.startswith("//"):
                scope = dict(scope)
                scope["path"] = "/" + path.lstrip("/")
                scope["raw_path"] = scope["path"].encode()
                path = scope["path"]
            if not path.startswith(_APP_PREFIX):
                canonical = _CASELESS.get(path.lower())
                if canonical is not None and canonical != path:
                    scope = dict(scope)
                    scope["path"] = canonical
                    scope["raw_path"] = canonical.encode()
                    path = canonical
            candidates = _DIRECT_BY_METHOD.get(scope["method"])
            if candidates is not None and path.startswith(_APP_PREFIX):
                for pattern, endpoint in candidates:
                    if (match := pattern.match(path)) is not None:
                        await self._direct(scope, receive, send, endpoint, match.groupdict())
                        return
        await self.app(scope, receive, send)

    async def _direct(
        self, scope: Scope, receive: Receive, send: Send, endpoint: Endpoint, params: dict[str, str]
    ) -> None:
        scope["app"] = self.app
        scope["path_params"] = params
        if self._services is not None:  # what services(request) would find through app.state
            scope[SCOPE_KEY] = self._services
        request = DirectRequest(scope, receive, send)
        try:
            response = await endpoint(request)
        except UcwaError as exc:
            response = await ucwa_error(request, exc)
        except Unauthorized as exc:
            response = await challenge(request, exc)
        except ClientDisconnect as exc:
            response = await client_gone(request, exc)
        except Exception as exc:  # noqa: BLE001 - logged, answered as ServiceFailure
            response = await unexpected_error(request, exc)
        await self.send_gate.wait()  # leave with the others ready in this turn (send_gate.py)
        if type(response) is EncodedResponse:  # what Response.__call__ sends, one frame less
            await send(
                {
                    "type": "http.response.start",
                    "status": response.status_code,
                    "headers": response.raw_headers,
                }
            )
            await send({"type": "http.response.body", "body": response.body})
        else:
            await response(scope, receive, send)


def create_app(
    services: Services,
    lifecycle: Lifecycle | None = None,
    jobs: Mapping[str, Job] | None = None,
    housekeeping_interval: float = 60.0,
) -> PathNormalizer:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        if lifecycle is not None:
            await lifecycle.start()
        task = asyncio.create_task(run_forever(jobs, housekeeping_interval)) if jobs else None
        try:
            # uvicorn waits for every running request before the lifespan's shutdown, held
            # P-GETs too: its protocol releases them as soon as shutdown begins.
            yield {ON_SHUTDOWN: services.events.stop_holding}
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if lifecycle is not None:
                await lifecycle.close()
            services.sign_in.close()

    handlers: dict[type[Exception] | int, Callable[..., Awaitable[object]]] = {
        UcwaError: ucwa_error,
        HTTPException: http_error,
        Unauthorized: challenge,
        ClientDisconnect: client_gone,
        Exception: unexpected_error,  # the last resort: what the middleware below lets through
    }
    # Starlette hands a handler keyed by Exception to its ServerErrorMiddleware, which re-raises
    # once it has answered: uvicorn then logged the error a second time and closed the
    # connection. An ExceptionMiddleware of its own answers it and is done.
    answer_unexpected = Middleware(ExceptionMiddleware, handlers={Exception: unexpected_error})
    app = Starlette(
        routes=ROUTES,
        middleware=[answer_unexpected],
        exception_handlers=handlers,  # type: ignore[arg-type]
        lifespan=lifespan,
    )
    app.state.services = services
    app.state.failures = failure_log()  # what unexpected_error logs (web/log_limits.py)
    return PathNormalizer(app)  # after app.state.services is set: the direct routes take it

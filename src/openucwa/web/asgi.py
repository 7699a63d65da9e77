"""The Starlette application. The middleware order is written out once, here:

    PathNormalizer (leading "//" -> "/")
      -> Starlette(ServerErrorMiddleware -> ExceptionMiddleware(web/errors.py) -> Router)

Authentication is per endpoint (``web/guard.py``), not a middleware: discovery, the token
endpoint and the join page are public, and the hot paths pay for nothing they do not use.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Protocol

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from openucwa.domain.errors import UcwaError
from openucwa.services.housekeeping import Job, run_forever
from openucwa.web.context import Services
from openucwa.web.errors import http_error, ucwa_error, unexpected_error
from openucwa.web.routes import ROUTES
from openucwa.web.security import Unauthorized, challenge


class Lifecycle(Protocol):
    async def start(self) -> None: ...
    async def close(self) -> None: ...


class PathNormalizer:
    """Treat a leading ``//`` as ``/`` (a real client sends ``GET //ucwa/...``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path: str = scope["path"]
            if path.startswith("//"):
                scope = dict(scope)
                scope["path"] = "/" + path.lstrip("/")
                scope["raw_path"] = scope["path"].encode()
        await self.app(scope, receive, send)


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

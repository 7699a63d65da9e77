"""The one table from UCWA error code to HTTP status, and the handlers that render errors.

No other module picks an HTTP status for an error. Anything unexpected becomes a bare
500 ServiceFailure body: the traceback goes to the log, never to the client, once per kind of
failure (then a line with the count every 10 s: web/log_limits.py).
"""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route

from openucwa.domain.errors import UcwaError
from openucwa.representation.resource import ErrorBody
from openucwa.web.log_limits import FailureLog
from openucwa.web.respond import render_error

log = logging.getLogger("openucwa.web")


def failure_log() -> FailureLog:
    """One per ASGI app (``app.state.failures``), so its timers run on that app's loop."""
    return FailureLog(log)


STATUS: dict[str, int] = {
    "BadRequest": 400,
    "Forbidden": 403,
    "NotFound": 404,
    "MethodNotAllowed": 405,
    "NotAcceptable": 406,
    "Conflict": 409,
    "Gone": 410,
    "PreconditionFailed": 412,
    "EntityTooLarge": 413,
    "UnsupportedMediaType": 415,
    "PreconditionRequired": 428,
    "TooManyRequests": 429,
    "ServiceFailure": 500,
    "ServiceUnavailable": 503,
    "Timeout": 504,
}

_BY_STATUS = {
    404: ErrorBody("NotFound", None, "The requested resource was not found."),
    405: ErrorBody("MethodNotAllowed", None, "The method is not supported on this resource."),
}


def body_of(error: UcwaError) -> ErrorBody:
    return ErrorBody(error.code, error.subcode, error.message, error.parameters)


async def ucwa_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, UcwaError)
    status = STATUS.get(exc.code, 500)
    # 503 (the database is locked by another process, ...): worth retrying soon
    headers = {"Retry-After": "1"} if status == 503 else None
    return render_error(request, status, body_of(exc), headers)


def _allowed_methods(request: Request, fallback: str) -> str:
    """Every method some route serves at this path (Starlette names only the first route's)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.methods:
            match, _ = route.matches(request.scope)
            if match is not Match.NONE:
                methods |= route.methods
    return ", ".join(sorted(methods)) if methods else fallback


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    body = _BY_STATUS.get(exc.status_code) or ErrorBody("BadRequest", None, str(exc.detail))
    headers = None
    if exc.headers and "Allow" in exc.headers:
        headers = {"Allow": _allowed_methods(request, exc.headers["Allow"])}
    return render_error(request, exc.status_code, body, headers)


async def client_gone(request: Request, exc: Exception) -> Response:
    """The client hung up (or was cut off, web/http_protocol.py) before its body was read
    whole: nobody is left to answer, and it is no server error. Logged in one line, without a
    traceback; the response is never sent (uvicorn drops what is sent after a disconnect)."""
    log.info("client went away before its body was read: %s %s", request.method, request.url.path)
    return Response(status_code=400)


async def unexpected_error(request: Request, exc: Exception) -> Response:
    failures: FailureLog = request.app.state.failures
    failures.failed(exc, f"{request.method} {request.url.path}")
    return render_error(
        request,
        500,
        ErrorBody("ServiceFailure", None, "The server encountered an error. Please try again."),
    )

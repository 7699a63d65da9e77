"""The OAuth token endpoint ``/WebTicket/oauthtoken`` (spec §2.1.6, CLIENT-COMPAT sign-in)."""

from __future__ import annotations

from urllib.parse import parse_qsl

import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from openucwa.auth.grants import OAuthError, SignInBusy
from openucwa.domain.errors import ServiceUnavailable, UcwaError
from openucwa.web.body import read_body
from openucwa.web.context import services
from openucwa.web.proxies import TrustedProxies

MAX_FORM_BYTES = 16 * 1024
MAX_FIELDS = 32
_HEADERS = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_JSON = "application/json;charset=UTF-8"


def _answer(status: int, body: dict[str, object]) -> Response:
    return Response(orjson.dumps(body), status_code=status, headers=_HEADERS, media_type=_JSON)


def _error(error: str, description: str = "", status: int = 400) -> Response:
    body: dict[str, object] = {"error": error}
    if description:
        body["error_description"] = description
    return _answer(status, body)


def client_address(request: Request, trusted_proxies: TrustedProxies) -> str:
    """The address a sign-in is counted against: the peer's, or, when the peer is a trusted
    proxy, the nearest ``X-Forwarded-For`` entry that is not itself one (entries further left
    are the client's own say and could be anything)."""
    peer = request.client.host if request.client is not None else ""
    if peer not in trusted_proxies:
        return peer
    hops = [h.strip() for v in request.headers.getlist("x-forwarded-for") for h in v.split(",")]
    for hop in reversed(hops):
        if hop and hop not in trusted_proxies:
            return hop
    return peer


async def _form(request: Request) -> dict[str, str]:
    content_type = request.headers.get("content-type", "").lower()
    body = await read_body(request, MAX_FORM_BYTES)  # the same limit for every encoding
    if content_type.startswith("multipart/form-data"):
        request._body = body  # Starlette's form parser reads the body from here
        async with request.form(max_files=0, max_fields=MAX_FIELDS) as form:
            return {k: v for k, v in form.items() if isinstance(v, str)}
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FIELDS)
    except (UnicodeDecodeError, ValueError):
        raise OAuthError("invalid_request", "The form could not be read.") from None
    return dict(pairs)


async def token(request: Request) -> Response:
    try:
        form = await _form(request)
    except OAuthError as exc:
        return _error(exc.error, exc.description)
    except UcwaError as exc:  # oversized or unreadable bodies still answer in the OAuth shape
        return _error("invalid_request", exc.message)
    except ClientDisconnect:  # nobody to answer: web/errors.py client_gone logs it
        raise
    except Exception:  # noqa: BLE001 - a malformed multipart body, whatever the parser raised
        return _error("invalid_request", "The form could not be read.")
    svc = services(request)
    address = client_address(request, svc.edge.trusted_proxies)
    try:
        return _answer(200, await svc.sign_in.token(form, address))
    except OAuthError as exc:
        return _error(exc.error, exc.description)
    except SignInBusy as exc:
        return _unavailable("Too many sign-ins at once; try again shortly.", exc.retry_after)
    except ServiceUnavailable:  # the database is locked by another process
        return _unavailable("The service is busy; try again shortly.", 1)


def _unavailable(description: str, retry_after: int) -> Response:
    """503 in the OAuth shape (RFC 6749 ``temporarily_unavailable``), with ``Retry-After``."""
    response = _error("temporarily_unavailable", description, 503)
    response.headers["Retry-After"] = str(retry_after)
    return response

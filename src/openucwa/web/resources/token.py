"""The OAuth token endpoint ``/WebTicket/oauthtoken`` (spec §2.1.6, CLIENT-COMPAT sign-in)."""

from __future__ import annotations

from urllib.parse import parse_qsl

import orjson
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from openucwa.auth.grants import OAuthError
from openucwa.domain.errors import UcwaError
from openucwa.web.body import read_body
from openucwa.web.context import services

MAX_FORM_BYTES = 16 * 1024
MAX_FIELDS = 32
_HEADERS = {"Cache-Control": "no-store", "Pragma": "no-cache"}
_JSON = "application/json;charset=UTF-8"


def _answer(status: int, body: dict[str, object]) -> Response:
    return Response(orjson.dumps(body), status_code=status, headers=_HEADERS, media_type=_JSON)


def _error(error: str, description: str = "") -> Response:
    body: dict[str, object] = {"error": error}
    if description:
        body["error_description"] = description
    return _answer(400, body)


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
    try:
        return _answer(200, await services(request).sign_in.token(form))
    except OAuthError as exc:
        return _error(exc.error, exc.description)

"""Bearer authentication and the MsRtcOAuth 401 challenge (spec §2.1.5)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from openucwa.auth.grants import OFFERED_GRANTS
from openucwa.domain.users import Caller
from openucwa.representation.media_types import HTML_UTF8
from openucwa.web.context import services
from openucwa.web.links import Links
from openucwa.web.respond import render_bytes

_UNAUTHORIZED_PAGE = (
    b"<!DOCTYPE html><html><head><title>401 - Unauthorized</title></head>"
    b"<body><h1>401 - Unauthorized: Access is denied due to invalid credentials.</h1>"
    b"</body></html>"
)


class Unauthorized(Exception):
    """No token, an unknown one, an expired or a revoked one."""


async def authenticate(request: Request) -> Caller:
    header = request.headers.get("authorization")
    if header is None:
        raise Unauthorized()
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized()
    caller = await services(request).tokens.verify(token.strip())
    if caller is None:
        raise Unauthorized()
    return caller


# The on-premises Bearer parameters as the 2015 capture sends them (conformance sample
# user/get-unauthenticated.json): the trusted issuer is named in the organisation's realm.
TRUSTED_ISSUER = "00000002-0000-0ff1-ce00-000000000000"
CLIENT_ID = "00000004-0000-0ff1-ce00-000000000000"


def challenge_header(request: Request) -> str:
    token_url = Links(request).token()
    realm = services(request).organization.primary_domain
    return (
        f'Bearer trusted_issuers="{TRUSTED_ISSUER}@{realm}", client_id="{CLIENT_ID}", '
        f'MsRtcOAuth href="{token_url}",grant_type="{",".join(OFFERED_GRANTS)}"'
    )


async def challenge(request: Request, exc: Exception) -> Response:
    """The HTML 401 with the MsRtcOAuth challenge, gzipped like any GET that asks for it (a
    HEAD gets the header fields GET would)."""
    headers = {"WWW-Authenticate": challenge_header(request)}
    return render_bytes(request, 401, _UNAUTHORIZED_PAGE, HTML_UTF8, headers)

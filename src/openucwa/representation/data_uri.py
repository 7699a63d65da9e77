"""Data URIs for instant-message bodies (spec §4.5): emitted URL-encoded
(``data:text/plain;charset=utf-8,Hi+Tosh%0d%0a``), accepted URL-encoded or base64."""

from __future__ import annotations

import base64
import binascii
import re
from urllib.parse import quote_plus, unquote, unquote_plus

from openucwa.domain.errors import BadRequest

_DATA = re.compile(r"^data:([^,;]*)((?:;[^,;]*)*),(.*)$", re.DOTALL)


def encode(content_type: str, text: str) -> str:
    body = quote_plus(text.replace("\r\n", "\n").replace("\n", "\r\n"), safe="")
    body = body.replace("%0D%0A", "%0d%0a")
    return f"data:{content_type};charset=utf-8,{body}"


def decode(uri: str) -> tuple[str, str]:
    """``(content type, text)``; 400 for anything that is not a text data URI."""
    match = _DATA.match(uri.strip())
    if match is None:
        raise BadRequest("ParameterValidationFailure", "message: not a data URI.")
    media = (match.group(1) or "text/plain").strip().lower()
    params = [p.strip().lower() for p in match.group(2).split(";") if p.strip()]
    if media not in ("text/plain", "text/html"):
        raise BadRequest("ParameterValidationFailure", "message: only text/plain or text/html.")
    payload = match.group(3)
    try:
        if "base64" in params:
            # Strict alphabet: junk must not silently decode to an empty or truncated message.
            # Percent-escapes (a URL may carry %2B, %3D) and line breaks are tolerated.
            compact = re.sub(r"\s+", "", unquote(payload, errors="strict"))
            raw = base64.b64decode(compact, validate=True)
            return media, raw.decode("utf-8")
        return media, unquote_plus(payload, errors="strict")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise BadRequest("ParameterValidationFailure", "message: undecodable data URI.") from None

"""Content negotiation (spec §4.1): which codec answers, and which request bodies are ours."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Format = Literal["json", "xml"]

JSON = "application/json"
XML = "application/xml"
VND_JSON = "application/vnd.microsoft.com.ucwa+json"
VND_XML = "application/vnd.microsoft.com.ucwa+xml"
HTML_UTF8 = "text/html; charset=utf-8"  # the pages: the 401 challenge, xframe, the join page

_BY_TYPE: dict[str, tuple[Format, str]] = {
    JSON: ("json", JSON),
    VND_JSON: ("json", VND_JSON),
    XML: ("xml", XML),
    "text/xml": ("xml", XML),
    VND_XML: ("xml", VND_XML),
}


@dataclass(frozen=True, slots=True)
class Negotiated:
    format: Format
    content_type: str  # with "; charset=utf-8"


_DEFAULT = Negotiated("json", JSON + "; charset=utf-8")


_WILDCARDS = frozenset({"*/*", "application/*"})  # JSON candidates (spec: XML only if preferred)


def quality(params: list[str]) -> float:
    """The q-value among a list entry's parameters (RFC 9110 §12.4.2): 1 when absent, 0 when
    it is not a number from 0 to 1 (``q=abc``, ``q=nan``, ``q=2``), so a broken entry never
    wins."""
    for param in params:
        key, _, value = param.partition("=")
        if key.strip().lower() == "q":
            try:
                q = float(value.strip())
            except ValueError:
                return 0.0
            return q if 0.0 <= q <= 1.0 else 0.0  # False for nan too
    return 1.0


def negotiate(accept: str | None) -> Negotiated:
    """JSON unless XML is explicitly preferred; unknown types fall back to JSON.

    The highest q wins. ``*/*`` and ``application/*`` compete as JSON at their own q, unless
    ``application/json`` is listed itself: the most specific range names a type's q (RFC 9110
    §12.5.1). At equal q a listed type beats a wildcard, then the first listed wins."""
    if not accept or accept == JSON or accept == "*/*":
        return _DEFAULT
    best: tuple[float, int, int, Format, str] | None = None
    wildcard: tuple[float, int, int, Format, str] | None = None
    json_listed = False
    for position, part in enumerate(accept.split(",")):
        pieces = part.split(";")
        media = pieces[0].strip().lower()
        if media in _WILDCARDS:
            q = quality(pieces[1:])
            if q > 0 and (wildcard is None or q > wildcard[0]):
                wildcard = (q, 0, -position, "json", JSON)
            continue
        if media not in _BY_TYPE:
            continue
        json_listed = json_listed or media == JSON
        q = quality(pieces[1:])
        if q <= 0:
            continue
        fmt, echoed = _BY_TYPE[media]
        candidate = (q, 1, -position, fmt, echoed)
        if best is None or candidate[:3] > best[:3]:
            best = candidate
    if wildcard is not None and not json_listed and (best is None or wildcard[:3] > best[:3]):
        best = wildcard
    if best is None:
        return _DEFAULT
    return Negotiated(best[3], best[4] + "; charset=utf-8")


# Accept-Encoding values as clients send them, answered without parsing (browsers, httpx,
# curl --compressed, .NET); any other value is parsed.
_GZIP_COMMON: dict[str, bool] = {
    "gzip": True,
    "gzip, deflate": True,
    "gzip,deflate": True,
    "gzip, deflate, br": True,
    "gzip, deflate, br, zstd": True,
    "gzip, deflate, zstd": True,
    "deflate, gzip": True,
    "deflate, gzip, br, zstd": True,
    "br, gzip, deflate": True,
    "identity": False,
    "": False,
}


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an Accept-Encoding value accepts gzip (RFC 9110 §12.5.3): ``gzip`` (or its alias
    ``x-gzip``) at q > 0, or, when it is not listed, ``*`` at q > 0. ``gzip;q=0`` refuses it."""
    known = _GZIP_COMMON.get(accept_encoding)
    if known is not None:
        return known
    listed: float | None = None
    star: float | None = None
    for part in accept_encoding.split(","):
        pieces = part.split(";")
        coding = pieces[0].strip().lower()
        if coding in ("gzip", "x-gzip"):
            if listed is None:
                listed = quality(pieces[1:])
        elif coding == "*" and star is None:
            star = quality(pieces[1:])
    q = listed if listed is not None else star
    return q is not None and q > 0


def body_format(content_type: str | None) -> Format | None:
    """The codec for a request body, or None if the type is not a UCWA resource type."""
    if not content_type:
        return None
    exact = _BY_TYPE.get(content_type)  # "application/json" as sent: nothing to split
    if exact is not None:
        return exact[0]
    media = content_type.split(";", 1)[0].strip().lower()
    found = _BY_TYPE.get(media)
    return found[0] if found else None


def charset_of(content_type: str | None) -> str | None:
    """The ``charset`` parameter of a Content-Type, unquoted (``'utf-8'`` and ``"utf-8"`` are
    sent too), or None when it names none."""
    if not content_type or ";" not in content_type:
        return None
    for param in content_type.split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset":
            return value.strip().strip("\"'").strip() or None
    return None

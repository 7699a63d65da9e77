"""Content negotiation (spec §4.1): which codec answers, and which request bodies are ours."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Format = Literal["json", "xml"]

JSON = "application/json"
XML = "application/xml"
VND_JSON = "application/vnd.microsoft.com.ucwa+json"
VND_XML = "application/vnd.microsoft.com.ucwa+xml"

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


def negotiate(accept: str | None) -> Negotiated:
    """JSON unless XML is explicitly preferred. Unknown types fall back to JSON."""
    if not accept or accept == JSON or accept == "*/*":
        return _DEFAULT
    best: tuple[float, int, Format, str] | None = None
    for position, part in enumerate(accept.split(",")):
        pieces = part.split(";")
        media = pieces[0].strip().lower()
        if media not in _BY_TYPE:
            continue
        quality = 1.0
        for param in pieces[1:]:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    quality = float(value.strip())
                except ValueError:
                    quality = 0.0
        if quality <= 0:
            continue
        fmt, echoed = _BY_TYPE[media]
        candidate = (quality, -position, fmt, echoed)
        if best is None or candidate[:2] > best[:2]:
            best = candidate
    if best is None:
        return _DEFAULT
    return Negotiated(best[2], best[3] + "; charset=utf-8")


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

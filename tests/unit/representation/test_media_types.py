"""Content negotiation (spec §4.1): the answer's codec and Content-Type, and request bodies."""

from __future__ import annotations

import pytest

from openucwa.representation.media_types import (
    JSON,
    VND_JSON,
    VND_XML,
    XML,
    Negotiated,
    body_format,
    charset_of,
    negotiate,
)

CHARSET = "; charset=utf-8"


@pytest.mark.parametrize(
    ("accept", "fmt", "content_type"),
    [
        (None, "json", JSON),
        ("", "json", JSON),
        ("*/*", "json", JSON),
        ("application/json", "json", JSON),
        ("application/json; charset=utf-8", "json", JSON),
        (VND_JSON, "json", VND_JSON),
        ("application/vnd.microsoft.com.ucwa+JSON", "json", VND_JSON),
        (XML, "xml", XML),
        ("Application/XML", "xml", XML),
        (VND_XML, "xml", VND_XML),
        ("text/xml", "xml", XML),
        # q-values: the highest wins; ties go to the first listed.
        ("application/json;q=0.5, application/xml", "xml", XML),
        ("application/xml;q=0.4, application/json;q=0.9", "json", JSON),
        ("application/xml , application/json", "xml", XML),
        ("application/json, application/xml", "json", JSON),
        ("application/xml;q=0.5, application/vnd.microsoft.com.ucwa+xml;q=0.5", "xml", XML),
        ("application/xml; Q=1, application/json; q=0.1", "xml", XML),
        ("application/xml;q=0, application/json;q=0.1", "json", JSON),
        ("application/xml;q=0", "json", JSON),
        ("application/xml;q=abc, text/xml;q=0.2", "xml", XML),
        ("application/xml;level=1;q=0.3, application/json;q=0.2", "xml", XML),
        ("text/html, application/xml;q=0.1", "xml", XML),
        ("text/html, */*", "json", JSON),
        # Anything we cannot make falls back to JSON.
        ("text/html", "json", JSON),
        ("image/png;q=1", "json", JSON),
        (";;;,,,", "json", JSON),
        ("garbage", "json", JSON),
    ],
)
def test_negotiate(accept: str | None, fmt: str, content_type: str) -> None:
    assert negotiate(accept) == Negotiated(fmt, content_type + CHARSET)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("content_type", "fmt"),
    [
        (None, None),
        ("", None),
        ("application/json", "json"),
        ("application/json; charset=utf-8", "json"),
        ("Application/JSON;charset=UTF-8", "json"),
        (VND_JSON, "json"),
        (XML, "xml"),
        ("text/xml; charset=utf-8", "xml"),
        (VND_XML + "; charset=utf-8", "xml"),
        (" application/xml ", "xml"),
        ("text/plain", None),
        ("multipart/batching", None),
        ("application/x-www-form-urlencoded", None),
        ("application/jsonp", None),
    ],
)
def test_body_format(content_type: str | None, fmt: str | None) -> None:
    assert body_format(content_type) == fmt


@pytest.mark.parametrize(
    ("content_type", "charset"),
    [
        (None, None),
        ("", None),
        ("application/xml", None),
        ("application/xml;", None),
        ("application/xml; charset=iso-8859-1", "iso-8859-1"),
        ("application/xml;CHARSET=UTF-8", "UTF-8"),
        ("application/xml; charset='utf-8'", "utf-8"),
        ('text/xml; charset="windows-1252"', "windows-1252"),
        ("application/xml; q=1; charset = latin1 ", "latin1"),
        ("application/xml; charset=", None),
        ("application/xml; charset=''", None),
        ("application/xml; version=2", None),
    ],
)
def test_charset_of(content_type: str | None, charset: str | None) -> None:
    assert charset_of(content_type) == charset

"""Content negotiation (spec §4.1): the answer's codec and Content-Type, and request bodies."""

from __future__ import annotations

import pytest

from openucwa.representation.media_types import (
    JSON,
    VND_JSON,
    VND_XML,
    XML,
    Negotiated,
    accepts_gzip,
    body_format,
    charset_of,
    negotiate,
    quality,
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
        # */* and application/* are JSON at their own q (CLIENT-COMPAT: XML only if preferred).
        ("application/xml;q=0.5, */*", "json", JSON),
        ("*/*;q=1, application/xml;q=0.1", "json", JSON),
        ("application/*, application/xml;q=0.2", "json", JSON),
        ("application/xml;q=0.9, application/*;q=0.95", "json", JSON),
        ("*/*;q=0.2, application/*;q=0.6, application/xml;q=0.5", "json", JSON),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", "xml", XML),
        ("application/xml, text/xml, */*; q=0.01", "xml", XML),
        ("*/*;q=0.5, application/xml;q=0.5", "xml", XML),  # equal q: the listed type
        ("*/*;q=0, application/xml;q=0.1", "xml", XML),
        ("text/*, application/xml;q=0.1", "xml", XML),  # text/* is not JSON
        # A listed application/json names JSON's own q; the wildcard does not override it.
        ("application/json;q=0.1, application/xml;q=0.5, */*", "xml", XML),
        ("application/json;q=0, application/xml;q=0.1, */*", "xml", XML),
        # A q that is not a number from 0 to 1 counts as 0: that entry never wins.
        ("application/xml;q=nan", "json", JSON),
        ("application/xml;q=NaN, application/json;q=0.1", "json", JSON),
        ("application/xml;q=inf", "json", JSON),
        ("application/xml;q=2", "json", JSON),
        ("application/xml;q=-1", "json", JSON),
        ("application/xml;q=, */*;q=0.1", "json", JSON),
        ("application/xml;q=0.5;q=0, application/json;q=0.4", "xml", XML),  # the first q counts
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


@pytest.mark.parametrize(
    ("params", "q"),
    [
        ([], 1.0),
        (["level=1"], 1.0),
        (["q=0.5"], 0.5),
        ([" Q = 0.25 "], 0.25),
        (["q=1.000"], 1.0),
        (["q=0"], 0.0),
        (["q=abc"], 0.0),
        (["q=nan"], 0.0),
        (["q=inf"], 0.0),
        (["q=1.5"], 0.0),
        (["q=-0.5"], 0.0),
        (["level=1", "q=0.3", "q=0.9"], 0.3),
    ],
)
def test_quality(params: list[str], q: float) -> None:
    assert quality(params) == q


@pytest.mark.parametrize(
    ("accept_encoding", "gzip"),
    [
        ("gzip", True),
        ("gzip, deflate", True),
        ("gzip, deflate, br, zstd", True),
        ("br;q=1.0, gzip;q=0.8, *;q=0.1", True),
        ("GZIP", True),
        ("x-gzip", True),
        ("deflate , Gzip ; q=0.5", True),
        ("*", True),
        ("*;q=0.5", True),
        ("identity", False),
        ("", False),
        ("deflate, br", False),
        ("gzip;q=0", False),
        ("gzip;q=0, identity", False),
        ("gzip; q=0.000", False),
        ("*;q=0", False),
        ("*, gzip;q=0", False),  # the listed coding's own q, not the wildcard's
        ("gzip;q=0.1, *;q=0", True),
        ("gzip;q=nan", False),
        ("gzip;q=abc", False),
        ("gzipped", False),
        ("notgzip, deflate", False),
        ("identity;q=0", False),
    ],
)
def test_accepts_gzip(accept_encoding: str, gzip: bool) -> None:
    assert accepts_gzip(accept_encoding) is gzip

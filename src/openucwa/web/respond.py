"""Turning a Resource (or an error body) into an HTTP response: negotiation, ETag, gzip."""

from __future__ import annotations

import asyncio
import gzip
import zlib
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Hashable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Protocol, TypeVar

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from openucwa.representation import json_codec, media_types, xml_codec
from openucwa.representation.media_types import JSON, VND_JSON, VND_XML, XML, negotiate
from openucwa.representation.resource import ErrorBody, OptionsMetadata, Resource

T = TypeVar("T")


class Codec(Protocol):
    """What json_codec and xml_codec both offer for resources."""

    EMBEDDED_SEPARATOR: bytes

    def encode(self, resource: Resource) -> bytes: ...
    def encode_embedded(self, resource: Resource, key: str) -> bytes: ...


COMMON_HEADERS = {
    "Cache-Control": "no-cache",
    "Pragma": "no-cache",
    "Expires": "-1",
    "X-MS-UcwaVersion": "2.0",
}
GZIP_MIN_BYTES = 0  # some clients gunzip every GET body they asked gzip for


def _wants_gzip(request: Request) -> bool:
    """Only GETs (and HEADs, which answer as GET would) are compressed; the caller checks the
    method first. The usual header values are one dict lookup (``media_types.accepts_gzip``)."""
    accept = request.headers.get("accept-encoding")
    return accept is not None and media_types.accepts_gzip(accept)


_COMMON_RAW = [
    (k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in COMMON_HEADERS.items()
]


class EncodedResponse(Response):
    """A response whose header list is built here, once, already encoded (every rendered
    representation goes out this way; Starlette's ``init_headers`` re-encodes a dict)."""

    def __init__(self, body: bytes, status_code: int, raw_headers: list[tuple[bytes, bytes]]):
        self.status_code = status_code
        self.body = body
        self.background = None
        self.raw_headers = raw_headers


def _finish(
    request: Request,
    status: int,
    body: bytes,
    content_type: str,
    headers: Mapping[str, str],
) -> Response:
    raw = [*_COMMON_RAW]
    for name, value in headers.items():
        raw.append((_RAW_NAMES.get(name) or _raw_name(name), value.encode("latin-1")))
    method = request.method
    if method == "GET" or method == "HEAD":
        # JSON or XML by Accept, gzip or not by Accept-Encoding: whatever this one got, a cache
        # must not hand it to a client that asked otherwise (one ETag covers every form).
        raw.append(_VARY)
        if body and len(body) >= GZIP_MIN_BYTES and _wants_gzip(request):
            body = gzip.compress(body, compresslevel=5)
            raw.append((b"content-encoding", b"gzip"))
    raw.append((b"content-length", b"%d" % len(body)))
    raw.append((b"content-type", _RAW_TYPES.get(content_type) or content_type.encode("latin-1")))
    if method == "HEAD":  # the header fields GET would send, and no content (RFC 9110 §9.3.2)
        body = b""
    return EncodedResponse(body, status, raw)


_VARY = (b"vary", b"Accept, Accept-Encoding")
# Response header names and the negotiated content types, encoded once.
_RAW_NAMES: dict[str, bytes] = {}
_RAW_TYPES: dict[str, bytes] = {
    f"{media}; charset=utf-8": f"{media}; charset=utf-8".encode("latin-1")
    for media in (JSON, VND_JSON, XML, VND_XML)
}


def _raw_name(name: str) -> bytes:
    raw = name.lower().encode("latin-1")
    if len(_RAW_NAMES) < 256:  # the names are the code's own: a handful
        _RAW_NAMES[name] = raw
    return raw


def render_bytes(
    request: Request, status: int, body: bytes, content_type: str, headers: Mapping[str, str] = {}
) -> Response:
    """An already-encoded body (event batches) with the common headers and gzip."""
    return _finish(request, status, body, content_type, headers)


def render(
    request: Request,
    resource: Resource | Callable[[], Resource],
    status: int = 200,
    etag: str | None = None,
    headers: Mapping[str, str] | None = None,
    cache_key: Hashable | None = None,
    embedded_changed: bool = False,
) -> Response:
    """Encode ``resource`` in the negotiated format. With ``cache_key`` (which must name
    everything the representation depends on, e.g. ids and ETags) the encoded bytes are kept
    and ``resource`` may be a builder that is only called on a miss. ``embedded_changed``: an
    embedded resource changed since ``etag`` was minted, so a copy carrying that ETag may be
    older than this one and ``If-None-Match`` naming it gets the whole answer, not ``304``."""
    negotiated = negotiate(request.headers.get("accept"))
    extra = dict(headers) if headers else {}
    if etag is not None:
        extra["ETag"] = f'"{etag}"'
        if request.method == "GET" and not embedded_changed:
            if_none_match = request.headers.get("if-none-match")
            if if_none_match is not None and etag_matches(if_none_match, etag):
                response = Response(status_code=304, headers={**COMMON_HEADERS, **extra})
                response.raw_headers.append(_VARY)
                return response
    codec = json_codec if negotiated.format == "json" else xml_codec
    if cache_key is None:
        built = resource() if callable(resource) else resource
        return _finish(request, status, codec.encode(built), negotiated.content_type, extra)
    key = (cache_key, negotiated.format)
    body = ENCODED.get(key)
    if body is None:
        body = codec.encode(resource() if callable(resource) else resource)
        ENCODED.put(key, body)
    return _finish(request, status, body, negotiated.content_type, extra)


# Pages of large lists are built, encoded and compressed here, one at a time, instead of on the
# event loop: a list of 1000 meetings of 1000 attendees each (within every limit) took 9 s to
# build and encode, and every other request waited for it (bench/README.md). On this thread the
# loop still gets its turns (the GIL changes hands every few milliseconds).
_LARGE = ThreadPoolExecutor(1, thread_name_prefix="render")


class StreamedResponse(Response):
    """A response whose body is sent as it is made, chunk by chunk (no Content-Length: HTTP/1.1
    chunked transfer coding). HEAD gets the header fields and no further chunk is made."""

    def __init__(
        self,
        chunks: AsyncGenerator[bytes, None],
        status_code: int,
        raw_headers: list[tuple[bytes, bytes]],
    ) -> None:
        self.status_code = status_code
        self.body = b""
        self.background = None
        self.raw_headers = raw_headers
        self._chunks = chunks

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        start = {"type": "http.response.start", "status": self.status_code}
        await send({**start, "headers": self.raw_headers})
        chunks = self._chunks
        try:
            if scope.get("method") != "HEAD":
                async for chunk in chunks:
                    if chunk:
                        await send({"type": "http.response.body", "body": chunk, "more_body": True})
        finally:
            await chunks.aclose()
        await send({"type": "http.response.body", "body": b"", "more_body": False})


_HOLE = Resource("openucwa-hole")  # marks where a streamed container's embedded array goes


def _around(codec: Codec, container: Resource, key: str) -> tuple[bytes, bytes]:
    """The encoded ``container`` before and after the contents of its embedded ``key``."""
    holder = replace(container, embedded={**container.embedded, key: [_HOLE]})
    whole = codec.encode(holder)
    mark = codec.encode_embedded(_HOLE, key)
    at = whole.index(mark)
    return whole[:at], whole[at + len(mark) :]


# A list is sent with its Content-Length when its body (as sent, gzipped or not) fits in this
# many bytes, and streamed past it. CLIENT-COMPAT: a client reads exactly Content-Length bytes
# of an ordinary answer; 1000 meetings (the per-user cap) of ordinary size are ~1.2 MB. Only
# lists made huge on purpose (thousands of attendees per meeting) are chunked (deviation 24).
WHOLE_UP_TO = 16 * 1024 * 1024


async def render_stream(
    request: Request,
    container: Resource,
    key: str,
    pages: AsyncIterator[Sequence[T]],
    represent: Callable[[T], Resource],
) -> Response:
    """``container`` with its embedded ``key`` filled from ``pages`` (each item made a resource
    by ``represent``): a page at a time is represented, encoded and gzipped on the render
    thread while the loop serves others. The encoded pages are kept and sent whole, with their
    Content-Length, up to ``WHOLE_UP_TO`` bytes; past that, what was kept is sent and the rest
    follows as it is made (chunked), so the list is never held whole (a list of 1000 large
    meetings was hundreds of MB per request)."""
    negotiated = negotiate(request.headers.get("accept"))
    codec: Codec = json_codec if negotiated.format == "json" else xml_codec
    gzip_it = request.method in ("GET", "HEAD") and _wants_gzip(request)
    raw = [*_COMMON_RAW, _VARY]
    if gzip_it:
        raw.append((b"content-encoding", b"gzip"))
    content_type = negotiated.content_type
    raw.append((b"content-type", _RAW_TYPES.get(content_type) or content_type.encode("latin-1")))
    head, tail = _around(codec, container, key)
    packer = zlib.compressobj(5, zlib.DEFLATED, 31) if gzip_it else None  # 31: gzip framing

    def pack(data: bytes, last: bool = False) -> bytes:
        if packer is None:
            return data
        return packer.compress(data) + (packer.flush() if last else b"")

    async def chunks() -> AsyncGenerator[bytes, None]:
        loop = asyncio.get_running_loop()
        yield pack(head)
        separator = b""
        async for page in pages:
            lead = separator

            def encode_page(page: Sequence[T] = page, lead: bytes = lead) -> bytes:
                items = [codec.encode_embedded(represent(item), key) for item in page]
                return pack(lead + codec.EMBEDDED_SEPARATOR.join(items))

            yield await loop.run_in_executor(_LARGE, encode_page)
            separator = codec.EMBEDDED_SEPARATOR
        yield pack(tail, last=True)

    made = chunks()
    kept: list[bytes] = []
    size = 0
    try:
        async for chunk in made:
            kept.append(chunk)
            size += len(chunk)
            if size > WHOLE_UP_TO:
                return StreamedResponse(_after(kept, made), 200, raw)
    except BaseException:
        await made.aclose()
        raise
    raw.append((b"content-length", b"%d" % size))
    return EncodedResponse(b"" if request.method == "HEAD" else b"".join(kept), 200, raw)


async def _after(
    kept: list[bytes], rest: AsyncGenerator[bytes, None]
) -> AsyncGenerator[bytes, None]:
    """The chunks made already, then the rest as it is made."""
    try:
        while kept:
            yield kept.pop(0)
        async for chunk in rest:
            yield chunk
    finally:
        await rest.aclose()


class EncodedCache:
    """Encoded representations of hot GETs, bounded by their bytes; oldest dropped first.

    Keys hold what clients choose (the ``Host`` they sent, ETags they can change by writing):
    a count bound alone let one user fill memory with large bodies (a 225 KB meeting read
    under 1000 Host names kept 218 MB). A body over ``max_body`` is never kept: the hot GETs
    are ~1-2 KB, and a large body costs more to build than to look up anyway."""

    __slots__ = ("_bodies", "_bytes", "budget", "max_body")

    def __init__(self, budget: int, max_body: int) -> None:
        self._bodies: dict[Hashable, bytes] = {}
        self._bytes = 0
        self.budget = budget
        self.max_body = max_body

    def get(self, key: Hashable) -> bytes | None:
        return self._bodies.get(key)

    def put(self, key: Hashable, body: bytes) -> None:
        if len(body) > self.max_body or key in self._bodies:
            return
        bodies = self._bodies
        bodies[key] = body
        self._bytes += len(body) + _ENTRY_OVERHEAD
        while self._bytes > self.budget:
            oldest = next(iter(bodies))
            self._bytes -= len(bodies.pop(oldest)) + _ENTRY_OVERHEAD

    @property
    def bytes(self) -> int:
        """Bytes held, counting each entry's body plus a fixed overhead for its key."""
        return self._bytes

    def clear(self) -> None:
        self._bodies.clear()
        self._bytes = 0


_ENTRY_OVERHEAD = 512  # the key tuple, its strings and the dict slot, roughly
ENCODED = EncodedCache(budget=32 * 1024 * 1024, max_body=64 * 1024)


def render_options(request: Request, meta: OptionsMetadata) -> Response:
    """An OPTIONS answer (applications_ref) in the negotiated format."""
    negotiated = negotiate(request.headers.get("accept"))
    codec = json_codec if negotiated.format == "json" else xml_codec
    return _finish(request, 200, codec.encode_options(meta), negotiated.content_type, {})


def render_error(
    request: Request, status: int, error: ErrorBody, headers: Mapping[str, str] | None = None
) -> Response:
    negotiated = negotiate(request.headers.get("accept"))
    codec = json_codec if negotiated.format == "json" else xml_codec
    return _finish(
        request, status, codec.encode_error(error), negotiated.content_type, headers or {}
    )


def empty(status: int, headers: Mapping[str, str] | None = None) -> Response:
    """A response without a body. ``Content-Length: 0`` is sent on a 204 too, as real servers
    do (capture 8-response.txt); Starlette leaves it out there."""
    response = Response(status_code=status, headers={**COMMON_HEADERS, **(headers or {})})
    if b"content-length" not in dict(response.raw_headers):
        response.raw_headers.append((b"content-length", b"0"))
    return response


def etag_matches(header: str | None, etag: str) -> bool:
    """If-Match / If-None-Match comparison ignoring quotes and a weak ``W/`` prefix."""
    if header is None:
        return False
    for candidate in header.split(","):
        value = candidate.strip()
        if value == "*":
            return True
        if value[:2] in ("W/", "w/"):
            value = value[2:]
        if value.strip('"') == etag:
            return True
    return False


def parse_if_match(header: str | None) -> frozenset[str]:
    """The ETags an If-Match header names (quotes and ``W/`` removed); empty when absent."""
    if header is None:
        return frozenset()
    found = set()
    for candidate in header.split(","):
        value = candidate.strip()
        if value[:2] in ("W/", "w/"):
            value = value[2:]
        value = value.strip('"')
        if value:
            found.add(value)
    return frozenset(found)

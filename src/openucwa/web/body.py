"""Reading request bodies: a size limit, the content type, the codec, then an InputDoc."""

from __future__ import annotations

from starlette.requests import ClientDisconnect, Request

from openucwa.domain.errors import BadRequest, EntityTooLarge, UnsupportedMediaType
from openucwa.representation.input import InputDoc, from_json, from_xml
from openucwa.representation.media_types import body_format, charset_of
from openucwa.web.context import services


def _too_large(limit: int) -> EntityTooLarge:
    return EntityTooLarge(message=f"The request body is larger than {limit} bytes.")


def _unsupported_coding(coding: str) -> UnsupportedMediaType:
    shown = coding.strip()[:64]
    return UnsupportedMediaType(
        "UnsupportedMediaType", f"Content-Encoding {shown} is not supported; send the body as is."
    )


_IDENTITY = frozenset({"identity", ""})


async def read_body(request: Request, limit: int | None = None) -> bytes:
    # A coded body (gzip, ...) is refused as RFC 9110 §8.4.1 asks: 415, not a 400 that blames
    # the bytes. Absent, the usual case, this is one lookup.
    coding = request.headers.get("content-encoding")
    if coding is not None and coding.strip().lower() not in _IDENTITY:
        raise _unsupported_coding(coding)
    limit = services(request).edge.max_body_bytes if limit is None else limit
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise BadRequest(message="Invalid Content-Length.")
        if int(declared) > limit:
            raise _too_large(limit)
    if request._stream_consumed or hasattr(request, "_body"):
        return await _read_stream(request, limit)  # Starlette has it (or says it is gone)
    # The ASGI messages read here, as Starlette's Request.stream() does, without its async
    # generator: ~1 us less per POST (measured ~2.4 against ~3.3 us for read_body).
    receive = request.receive
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        kind = message["type"]
        if kind == "http.request":
            chunk = message.get("body", b"")
            if chunk:
                size += len(chunk)
                if size > limit:
                    raise _too_large(limit)
                chunks.append(chunk)
            if not message.get("more_body", False):
                request._stream_consumed = True
                return b"".join(chunks)
        elif kind == "http.disconnect":
            request._is_disconnected = True
            raise ClientDisconnect()


async def _read_stream(request: Request, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


async def read_input(request: Request, with_query: bool = True) -> InputDoc:
    """The input of a POST or PUT. An empty body is valid whatever its Content-Type."""
    return decode_input(request, await read_body(request), with_query)


async def read_json_or_input(request: Request, with_query: bool = True) -> bytes | InputDoc:
    """``read_input`` for a resource with a typed decoder of its JSON: a non-empty JSON body
    with no query parameters to merge comes back undecoded, as bytes. The caller decodes it
    and hands whatever its decoder refuses to ``decode_input``; everything else is decoded
    here exactly as ``read_input`` does."""
    body = await read_body(request)
    if (
        body
        and not (with_query and request.scope.get("query_string"))
        and body_format(request.headers.get("content-type")) == "json"
        and not body.isspace()
    ):
        return body
    return decode_input(request, body, with_query)


def decode_input(request: Request, body: bytes, with_query: bool = True) -> InputDoc:
    """A body read by ``read_body`` -> InputDoc (its format from Content-Type, then the query
    parameters of a POST merged in)."""
    if not body or body.isspace():  # as `not body.strip()`, without copying the body
        doc = InputDoc()
    else:
        content_type = request.headers.get("content-type")
        fmt = body_format(content_type)
        if fmt is None:
            raise UnsupportedMediaType(
                "UnsupportedMediaType", "Send application/json or application/xml."
            )
        doc = from_json(body) if fmt == "json" else from_xml(body, charset_of(content_type))
    if with_query and request.scope.get("query_string") and request.query_params:
        doc.merge_query(dict(request.query_params))
    return doc

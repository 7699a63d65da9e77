"""Reading request bodies: a size limit, the content type, the codec, then an InputDoc."""

from __future__ import annotations

from starlette.requests import Request

from openucwa.domain.errors import BadRequest, EntityTooLarge, UnsupportedMediaType
from openucwa.representation.input import InputDoc, from_json, from_xml
from openucwa.representation.media_types import body_format
from openucwa.web.context import services


async def read_body(request: Request, limit: int | None = None) -> bytes:
    limit = services(request).edge.max_body_bytes if limit is None else limit
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.strip().isdigit():
            raise BadRequest(message="Invalid Content-Length.")
        if int(declared) > limit:
            raise EntityTooLarge(message=f"The request body is larger than {limit} bytes.")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise EntityTooLarge(message=f"The request body is larger than {limit} bytes.")
        chunks.append(chunk)
    return b"".join(chunks)


async def read_input(request: Request, with_query: bool = True) -> InputDoc:
    """The input of a POST or PUT. An empty body is valid whatever its Content-Type."""
    body = await read_body(request)
    if not body.strip():
        doc = InputDoc()
    else:
        fmt = body_format(request.headers.get("content-type"))
        if fmt is None:
            raise UnsupportedMediaType(
                "UnsupportedMediaType", "Send application/json or application/xml."
            )
        doc = from_json(body) if fmt == "json" else from_xml(body)
    if with_query and request.scope.get("query_string") and request.query_params:
        doc.merge_query(dict(request.query_params))
    return doc

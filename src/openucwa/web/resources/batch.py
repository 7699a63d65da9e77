"""batch: ``POST {application}/batch`` (spec §2.5, §4.9, §0.4 item 14).

The body is a ``multipart/batching`` MIME message (parsed by the stdlib ``email`` package) whose
parts each carry one HTTP/1.1 request (parsed by h11). Every part runs, in order, as a
sub-request through this same ASGI application, so it meets exactly the routing, authentication
and error handling a direct request would. The answers come back as one ``multipart/batching``
body whose parts the sample client reads line by line: CRLF line ends, the part header
``Content-Type: application/http; msgtype=response``, an ``HTTP/1.1 <code> <text>`` status line
and the body on ONE line.

* The outer request must be the caller's own application (401 / 404 / 410 like any resource).
* The outer ``Authorization`` applies to a part that carries none; ``Host`` and the
  ``X-Forwarded-*`` headers always come from the outer request (it is the same connection, so
  hrefs minted by a part name the origin the client reached).
* ``Accept-Encoding`` is dropped from parts: sub-responses are never gzipped. The sample client's
  pseudo-header ``Data: <json>`` is the body of a POST or PUT part that has none (JSON unless
  the part names another Content-Type), and is dropped from every other part.
* Once the answers gathered hold ``MAX_ANSWER_BYTES``, the remaining parts are not run: each
  answers ``413 EntityTooLarge``.
* A part addressed to events, batch or photo (not allowed in a batch), or outside ``/ucwa/``
  (the token endpoint, discovery, the join page: a batch must not multiply sign-in attempts
  past the per-address throttle), or that is not a well-formed HTTP request, answers
  ``400 BadRequest``; the other parts still run. A part's ``X-Forwarded-For`` is the outer
  request's.
* More than ``MAX_PARTS`` parts: the whole batch answers ``429 TooManyRequests`` and nothing runs.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from email.message import Message
from email.parser import BytesHeaderParser
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote_to_bytes, urlsplit

import h11
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import Message as AsgiMessage, Receive, Scope

from openucwa.domain.errors import (
    BadRequest,
    EntityTooLarge,
    TooManyRequests,
    UcwaError,
    UnsupportedMediaType,
)
from openucwa.web.body import read_body
from openucwa.web.errors import ucwa_error, unexpected_error
from openucwa.web.guard import application_of
from openucwa.web.respond import render_bytes

MAX_PARTS = 100  # "100 requests for a single user" [doc:BatchingRequests]
# The parts' answers are gathered in memory until the batch answers: once they hold this much,
# the remaining parts are not run (413 each). 100 GETs of a 2.5 MB meeting list made one 8 KB
# request hold 250 MB and the event loop 5 s.
MAX_ANSWER_BYTES = 16 * 1024 * 1024
MEDIA_TYPE = "multipart/batching"
PART_HEADER = b"Content-Type: application/http; msgtype=response\r\n"
# Routes a part may not address [doc:BatchingRequests "Limitations"].
NOT_IN_A_BATCH = frozenset({"events", "batch", "photo"})
# Headers a part never passes on: the outer request's win, or they are not HTTP at all.
_DROPPED = frozenset(
    {
        b"host",
        b"x-forwarded-host",
        b"x-forwarded-proto",
        b"x-forwarded-for",  # the client is the outer request's (the sign-in throttle)
        b"accept-encoding",
        b"content-length",
        b"transfer-encoding",
        b"data",
    }
)
_FROM_OUTER = (b"host", b"x-forwarded-host", b"x-forwarded-proto", b"x-forwarded-for")
# Canonical spellings of response headers (ASGI lowercases names).
_HEADER_NAMES = {
    b"etag": "ETag",
    b"www-authenticate": "WWW-Authenticate",
    b"x-ms-ucwaversion": "X-MS-UcwaVersion",
}
_XML_DECLARATION_END = re.compile(rb"^(<\?xml[^>]*\?>)[\r\n]+")


@dataclass(slots=True)
class PartRequest:
    """One embedded HTTP request, as parsed."""

    method: str
    target: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes


@dataclass(slots=True)
class PartResponse:
    """What a sub-request sent back through the ASGI ``send`` callable."""

    status: int = 500
    headers: list[tuple[bytes, bytes]] = field(default_factory=list)
    chunks: list[bytes] = field(default_factory=list)
    complete: bool = False
    limit: int | None = None  # bytes of body kept; past it the rest is dropped
    size: int = 0
    streamed: bool = False
    overflowed: bool = False

    async def send(self, message: AsgiMessage) -> None:
        if message["type"] == "http.response.start":
            self.status = int(message["status"])
            self.headers = list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            chunk = bytes(message.get("body", b""))
            more = bool(message.get("more_body", False))
            self.size += len(chunk)
            if self.limit is not None and self.size > self.limit and (more or self.streamed):
                # A streamed answer (a meetings list past 16 MiB; a GET, so nothing was
                # changed) is not gathered past the batch's bound: it runs to its end, and
                # the part answers 413. An answer in one piece is kept, as before.
                self.overflowed = True
                self.chunks.clear()
            elif not self.overflowed:
                self.chunks.append(chunk)
            self.streamed = self.streamed or more
            if not more:
                self.complete = True


# -- reading the request -----------------------------------------------------------------------


def _check_content_type(content_type: str | None) -> None:
    """415 unless ``multipart/batching``; 400 when it names no boundary."""
    if content_type and ("\r" in content_type or "\n" in content_type):
        raise BadRequest(message="Invalid Content-Type.")
    header = Message()
    if content_type:
        header["Content-Type"] = content_type
    if not content_type or header.get_content_type() != MEDIA_TYPE:
        raise UnsupportedMediaType(message="A batch is sent as multipart/batching.")
    if not header.get_boundary():
        raise BadRequest(message="The multipart/batching Content-Type names no boundary.")


def _split(content_type: str, body: bytes) -> list[Message]:
    """The MIME parts of the outer body (its Content-Type already checked); 400 when the body
    holds no part. A trailing empty part (a closing delimiter written without its ``--``) is not
    a request and is skipped.

    One level only: the body is cut at its delimiter lines (RFC 2046 §5.1.1) and each part's
    headers are read without looking into its content. The stdlib parser of whole messages
    descended into nested multipart parts: 1000 levels in 66 KB raised RecursionError (a 500),
    and 800 levels held the event loop for 11 s. A part that is not ``application/http`` is
    refused as it was (``_request_bytes``)."""
    header = Message()
    header["Content-Type"] = content_type
    boundary = str(header.get_boundary()).encode("latin-1", "replace")
    delimiters = list(
        re.finditer(rb"(?:(?<=\n)|\A)--" + re.escape(boundary) + rb"(--)?[ \t]*(?=\r?\n|\Z)", body)
    )
    if not delimiters:
        raise BadRequest(message="The body does not contain the boundary of its Content-Type.")
    parts: list[Message] = []
    for this, following in zip(delimiters, [*delimiters[1:], None], strict=True):
        if this.group(1):  # the close delimiter: what follows is the epilogue
            break
        end = following.start() if following is not None else len(body)
        segment = body[this.end() : end]
        segment = segment[2:] if segment.startswith(b"\r\n") else segment.removeprefix(b"\n")
        if following is not None:  # the line end before a delimiter belongs to it
            segment = segment.removesuffix(b"\n").removesuffix(b"\r")
        part = BytesHeaderParser().parsebytes(segment)
        if not _blank(part):
            parts.append(part)
    if not parts:
        raise BadRequest(message="The batch contains no request.")
    return parts


def _blank(part: Message) -> bool:
    if part.keys() or part.is_multipart():
        return False
    raw = part.get_payload(decode=True)
    return not isinstance(raw, bytes) or not raw.strip()


def _request_bytes(part: Message) -> bytes | None:
    """The HTTP request a part carries (Content-Transfer-Encoding undone), or None."""
    declared = part.get("content-type")
    if declared is not None and part.get_content_type() != "application/http":
        return None
    if part.is_multipart():
        return None
    raw = part.get_payload(decode=True)
    return raw if isinstance(raw, bytes) else None


def _parse_request(raw: bytes) -> PartRequest | None:
    """An HTTP/1.x request (h11 checks the request line and headers), or None if malformed.

    The line end before the next boundary belongs to the delimiter, so a body-less request often
    arrives without its closing blank line: one is supplied. A body sent without Content-Length
    (h11 would read none) is taken to be the rest of the part, less its trailing line ends; with
    a length, bytes past it make the part malformed (they were dropped without a word)."""
    data = raw.lstrip(b"\r\n")
    if b"\r\n\r\n" not in data and b"\n\n" not in data:
        data = data.rstrip(b"\r\n") + b"\r\n\r\n"
    connection = h11.Connection(h11.SERVER)
    connection.receive_data(data)
    connection.receive_data(b"")
    chunks: list[bytes] = []
    try:
        event = connection.next_event()
        if not isinstance(event, h11.Request):
            return None
        request = event
        while True:
            event = connection.next_event()
            if isinstance(event, h11.Data):
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                break
            else:
                return None
    except h11.RemoteProtocolError:
        return None
    headers = [(bytes(name), bytes(value)) for name, value in request.headers]
    names = {name for name, _ in headers}
    rest, _ = connection.trailing_data
    if b"content-length" not in names and b"transfer-encoding" not in names:
        chunks = [rest.rstrip(b"\r\n")]
    elif rest.strip(b"\r\n"):  # bytes past the framed body (a second request): not one request
        return None
    method = request.method.decode("ascii")
    body = b"".join(chunks)
    pseudo = [value for name, value in headers if name == b"data"]
    if pseudo and not body and method in ("POST", "PUT"):
        # The sample client (Batch.js) sends a part's body as a ``Data:`` header line and no
        # body: it is the body. JSON unless the part says otherwise.
        body = pseudo[0]
        if b"content-type" not in names:
            headers.append((b"content-type", b"application/json"))
    return PartRequest(method, bytes(request.target), headers, body)


def _path_and_query(target: bytes) -> tuple[bytes, bytes] | None:
    """``/path?query`` or an absolute URL (its host is ignored); None for other forms."""
    if not target.startswith(b"/"):
        parts = urlsplit(target)
        if parts.scheme.lower() not in (b"http", b"https") or not parts.netloc:
            return None
        target = (parts.path or b"/") + (b"?" + parts.query if parts.query else b"")
    path, _, query = target.partition(b"?")
    if path.startswith(b"//"):  # as web/asgi.py's PathNormalizer does for direct requests
        path = b"/" + path.lstrip(b"/")
    return path, query


# -- running the parts -------------------------------------------------------------------------


def _sub_scope(outer: Request, part: PartRequest | None) -> Scope:
    """The ASGI scope of one part; a bare one (JSON errors) when the part is unusable."""
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": outer.scope.get("asgi", {"version": "3.0"}),
        "http_version": "1.1",
        "method": "GET",
        "scheme": outer.scope.get("scheme", "http"),
        "server": outer.scope.get("server"),
        "client": outer.scope.get("client"),
        "root_path": outer.scope.get("root_path", ""),
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "headers": [],
    }
    if "state" in outer.scope:
        scope["state"] = dict(outer.scope["state"])
    target = _path_and_query(part.target) if part is not None else None
    if part is None or target is None:
        return scope
    raw_path, query = target
    headers = [(name, value) for name, value in part.headers if name not in _DROPPED]
    if not any(name == b"authorization" for name, _ in headers):
        headers.extend((n, v) for n, v in outer.headers.raw if n == b"authorization")
    headers.extend((n, v) for n, v in outer.headers.raw if n in _FROM_OUTER)
    if part.body:
        headers.append((b"content-length", str(len(part.body)).encode("ascii")))
    scope.update(
        method=part.method,
        path=unquote_to_bytes(raw_path).decode("utf-8", "replace"),
        raw_path=raw_path,
        query_string=query,
        headers=headers,
    )
    return scope


def _addressed_route(request: Request, scope: Scope) -> str | None:
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.name in NOT_IN_A_BATCH:
            match, _ = route.matches(scope)
            if match is not Match.NONE:
                return route.name
    return None


async def _answer_error(scope: Scope, error: UcwaError) -> PartResponse:
    """Render ``error`` for one part through web/errors.py (the part's Accept decides)."""
    collected = PartResponse()
    response = await ucwa_error(Request(scope), error)
    await response(scope, _no_body, collected.send)
    return collected


async def _no_body() -> AsgiMessage:
    return {"type": "http.request", "body": b"", "more_body": False}


async def _run(request: Request, raw: bytes | None, limit: int) -> PartResponse:
    part = _parse_request(raw) if raw is not None else None
    if part is not None and _path_and_query(part.target) is None:
        part = None
    scope = _sub_scope(request, part)
    if part is None:
        return await _answer_error(scope, BadRequest(message="The part is not an HTTP request."))
    if not scope["path"].startswith("/ucwa/"):  # not the token endpoint, discovery, join page
        return await _answer_error(
            scope, BadRequest(message="Only requests to UCWA resources can be batched.")
        )
    forbidden = _addressed_route(request, scope)
    if forbidden is not None:
        return await _answer_error(
            scope, BadRequest(message=f"A {forbidden} request is not allowed inside a batch.")
        )
    return await _call(request, scope, part.body, limit)


async def _not_run(request: Request, held: int) -> PartResponse:
    scope = _sub_scope(request, None)
    message = (
        f"Not run: the batch's earlier answers already hold {held} bytes (at most"
        f" {MAX_ANSWER_BYTES} are gathered); send this request again on its own."
    )
    return await _answer_error(scope, EntityTooLarge(message=message))


async def _too_large(scope: Scope, size: int) -> PartResponse:
    """413 for a part whose streamed answer was more than the batch had room left for."""
    message = (
        f"The answer of {size} bytes is more than a batch gathers ({MAX_ANSWER_BYTES}"
        " in all); send this request on its own."
    )
    return await _answer_error(scope, EntityTooLarge(message=message))


async def _call(request: Request, scope: Scope, body: bytes, limit: int) -> PartResponse:
    """Run one sub-request through the application. Its body is handed over in one message;
    after that ``receive`` is the outer request's, so a disconnect reaches the part too."""
    pending: list[AsgiMessage] = [{"type": "http.request", "body": body, "more_body": False}]
    outer_receive: Receive = request.receive

    async def receive() -> AsgiMessage:
        return pending.pop() if pending else await outer_receive()

    collected = PartResponse(limit=limit)
    try:
        await request.app(scope, receive, collected.send)
    except Exception as exc:
        # Unexpected errors are answered inside the app (web/asgi.py); whatever still comes
        # out (an error after the part's answer began) must not take the whole batch down.
        if collected.complete:
            return collected
        collected = PartResponse()
        fallback = await unexpected_error(Request(scope), exc)
        await fallback(scope, _no_body, collected.send)
    if collected.overflowed:
        return await _too_large(scope, collected.size)
    return collected


# -- writing the response ----------------------------------------------------------------------


def _header_name(name: bytes) -> str:
    known = _HEADER_NAMES.get(name.lower())
    if known is not None:
        return known
    return "-".join(word.capitalize() for word in name.decode("latin-1").split("-"))


def one_line(body: bytes, content_type: str) -> bytes:
    """The body on a single line without changing what it means.

    JSON: a raw line end can only be whitespace between tokens, so it goes. XML: the line end
    after the declaration goes; any other (text content, as our writer emits no whitespace
    between tags) becomes a character reference. Anything else: line ends become spaces."""
    if "json" in content_type:
        return body.replace(b"\r", b"").replace(b"\n", b"")
    if "xml" in content_type:
        body = _XML_DECLARATION_END.sub(rb"\1", body, count=1)
        return body.replace(b"\r", b"&#13;").replace(b"\n", b"&#10;")
    return body.replace(b"\r\n", b" ").replace(b"\r", b" ").replace(b"\n", b" ")


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def encode_part(answer: PartResponse, boundary: bytes) -> bytes:
    lines = [b"--" + boundary + b"\r\n", PART_HEADER, b"\r\n"]
    lines.append(f"HTTP/1.1 {answer.status} {_phrase(answer.status)}\r\n".encode("ascii"))
    content_type = ""
    for name, value in answer.headers:
        if name.lower() in (b"content-length", b"vary"):
            continue  # the body is rewritten onto one line; nothing caches a part
        if name.lower() == b"content-type":
            content_type = value.decode("latin-1").lower()
        clean = value.replace(b"\r", b" ").replace(b"\n", b" ")
        lines.append(_header_name(name).encode("latin-1") + b": " + clean + b"\r\n")
    lines.append(b"\r\n")
    lines.append(one_line(b"".join(answer.chunks), content_type) + b"\r\n")
    return b"".join(lines)


def encode_batch(answers: list[PartResponse], boundary: bytes) -> bytes:
    return b"".join(encode_part(a, boundary) for a in answers) + b"--" + boundary + b"--\r\n"


def _fresh_boundary(answers: list[PartResponse]) -> bytes:
    bodies = [b"".join(a.chunks) for a in answers]
    while True:
        boundary = str(uuid.uuid4()).encode("ascii")
        if not any(boundary in body for body in bodies):
            return boundary


# -- the endpoint ------------------------------------------------------------------------------


async def post_batch(request: Request) -> Response:
    await application_of(request)
    content_type = request.headers.get("content-type", "")
    _check_content_type(content_type)
    parts = _split(content_type, await read_body(request))
    if len(parts) > MAX_PARTS:
        raise TooManyRequests(
            message=f"A batch may hold at most {MAX_PARTS} requests; split it and retry."
        )
    answers: list[PartResponse] = []
    held = 0
    for part in parts:
        if held > MAX_ANSWER_BYTES:  # held in memory until the batch answers: bounded
            answers.append(await _not_run(request, held))
            continue
        answer = await _run(request, _request_bytes(part), MAX_ANSWER_BYTES - held)
        held += sum(len(chunk) for chunk in answer.chunks)
        answers.append(answer)
    boundary = _fresh_boundary(answers)
    answer_type = f'{MEDIA_TYPE}; boundary="{boundary.decode("ascii")}"'
    return render_bytes(request, 200, encode_batch(answers, boundary), answer_type)

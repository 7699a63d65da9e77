"""uvicorn's httptools protocol, with five refusals in UCWA's terms.

1. A request whose HTTP framing is broken (a Content-Length that is not a number, a malformed
   request line or header) never reaches the application: the HTTP parser refuses it and
   uvicorn answers ``400 text/plain "Invalid HTTP request received."``. Here that answer is the
   documented UCWA error body instead.
2. uvicorn sets no limit on a request's head: the URL and the header lines are gathered in
   memory however long they grow (a 20 MB header was read whole). Here a head longer than
   ``max_head_bytes`` (``OPENUCWA_MAX_HEAD_BYTES``, 64 KiB by default) is refused with ``431``
   and the UCWA error body.
3. uvicorn never times out a request's head: a connection that sends nothing, or sends its head
   a byte at a time, is held open for ever (slowloris). Here a head must arrive whole within
   ``head_timeout`` seconds (``OPENUCWA_HEAD_TIMEOUT``, 30 by default) of the connection opening
   or of the head's first chunk, else ``408`` and the UCWA error body. A request that arrives in
   one chunk, the usual case, never starts that timer; idle keep-alive connections between
   requests are uvicorn's own (``timeout_keep_alive``).
4. Nor does it time out a body: a request that declares 256 KiB and sends a byte a minute
   holds its connection and its task for ever. Here the rest of a body must arrive within
   ``body_timeout`` seconds (``OPENUCWA_BODY_TIMEOUT``, 60 by default) of the chunk that left
   it incomplete, else ``408``. The connection is closed, so the endpoint waiting for that body
   sees the client gone (``web/errors.py`` ``client_gone``).

5. Nor does it cap connections (``limit_concurrency`` is off by default, and answers in plain
   text): every one holds a file descriptor, and past the process's open-file limit the server
   stops accepting anyone. Here a connection made while ``max_connections``
   (``OPENUCWA_MAX_CONNECTIONS``) others are open is answered ``503 ServiceUnavailable`` with
   ``Retry-After: 1`` as soon as its request starts to arrive, and closed; one that sends
   nothing is closed after a second.

All five bodies are JSON (nothing readable said which format the client wanted), and each
refusal closes the connection: the bytes that follow cannot be framed.

When the server starts to shut down, uvicorn waits for every running request, held event
P-GETs too (up to ``OPENUCWA_MAX_EVENT_WAIT``); ``shutdown`` releases them first (the
lifespan's ``ON_SHUTDOWN`` hook). Everything else is uvicorn's own protocol.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from openucwa.representation import json_codec
from openucwa.representation.media_types import JSON
from openucwa.representation.resource import ErrorBody
from openucwa.web.context import ON_CLOSE, ON_SHUTDOWN
from openucwa.web.log_limits import RateLog
from openucwa.web.respond import COMMON_HEADERS

MAX_HEAD_BYTES = 64 * 1024  # request line + header lines; HTTP.sys allows 16 KiB per header
HEAD_TIMEOUT = 30.0  # seconds; Apache's mod_reqtimeout allows 20-40, nginx 60 between reads
BODY_TIMEOUT = 60.0  # seconds: a 256 KiB body at 4.4 KB/s
UNPARSABLE = ErrorBody("BadRequest", None, "The HTTP request could not be parsed.")


def head_too_large(limit: int) -> ErrorBody:
    return ErrorBody(
        "BadRequest", None, f"The request line and headers are larger than {limit} bytes."
    )


def timed_out(part: str, seconds: float) -> ErrorBody:
    return ErrorBody("Timeout", None, f"The request {part} did not arrive within {seconds:g} s.")


def _refusal(status_line: bytes, error: ErrorBody, extra: bytes = b"") -> tuple[bytes, bytes]:
    """The head (without uvicorn's default headers and the blank line) and body of a refusal;
    ``extra``: more header lines."""
    body = json_codec.encode_error(error)
    head = b"".join(
        [
            status_line,
            extra,
            *(f"{k.lower()}: {v}\r\n".encode("latin-1") for k, v in COMMON_HEADERS.items()),
            f"content-type: {JSON}; charset=utf-8\r\n".encode("latin-1"),
            b"content-length: %d\r\n" % len(body),
            b"connection: close\r\n",
        ]
    )
    return head, body


_UNPARSABLE = _refusal(b"HTTP/1.1 400 Bad Request\r\n", UNPARSABLE)
_HEAD_TOO_LARGE_LINE = b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
_TIMED_OUT_LINE = b"HTTP/1.1 408 Request Timeout\r\n"
_TOO_MANY = _refusal(
    b"HTTP/1.1 503 Service Unavailable\r\n",
    ErrorBody(
        "ServiceUnavailable", None, "The server holds as many connections as it takes; try again."
    ),
    b"retry-after: 1\r\n",
)
OVER_CAP_GRACE = 1.0  # seconds an over-the-cap connection may take to start its request


_CAP_LOG = RateLog("%d connection(s) over the cap of %d refused.")
# uvicorn logs two warnings for every request with an Upgrade (or CONNECT) it cannot honour;
# anyone could write them to the log at will. They are answered as plain HTTP all the same.
_UPGRADE_LOG = RateLog("%d request(s) asking for an unsupported upgrade answered as plain HTTP.")


class UcwaHttpToolsProtocol(HttpToolsProtocol):
    """Pass as ``uvicorn.run(..., http=UcwaHttpToolsProtocol)``, or ``configured(...)`` of it.

    The head limit is checked before each chunk is parsed: the bytes of the head so far (the
    chunks that ended inside it) plus this chunk's bytes up to the head's end."""

    max_head_bytes = MAX_HEAD_BYTES
    head_timeout = HEAD_TIMEOUT
    body_timeout = BODY_TIMEOUT
    max_connections: int | None = None
    _over_cap = False  # this connection came while max_connections others were open
    _head_too_large = _refusal(_HEAD_TOO_LARGE_LINE, head_too_large(MAX_HEAD_BYTES))
    _head_late = _refusal(_TIMED_OUT_LINE, timed_out("head", HEAD_TIMEOUT))
    _body_late = _refusal(_TIMED_OUT_LINE, timed_out("body", BODY_TIMEOUT))
    _head_bytes = 0  # bytes received since the head being read began (0 outside a head)
    _timer: asyncio.TimerHandle | None = None  # while a head or a body is on its way
    _timing = ""  # what _timer times: "head" or "body"

    @classmethod
    def configured(
        cls,
        max_head_bytes: int,
        head_timeout: float,
        body_timeout: float,
        max_connections: int | None = None,
    ) -> type[UcwaHttpToolsProtocol]:
        """This protocol with other limits."""
        return type(
            cls.__name__,
            (cls,),
            {
                "max_head_bytes": max_head_bytes,
                "head_timeout": head_timeout,
                "body_timeout": body_timeout,
                "max_connections": max_connections,
                "_head_too_large": _refusal(_HEAD_TOO_LARGE_LINE, head_too_large(max_head_bytes)),
                "_head_late": _refusal(_TIMED_OUT_LINE, timed_out("head", head_timeout)),
                "_body_late": _refusal(_TIMED_OUT_LINE, timed_out("body", body_timeout)),
            },
        )

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        cap = self.max_connections
        if cap is not None and len(self.connections) > cap:  # this one included
            self._over_cap = True
            _CAP_LOG.note(self.logger, self.loop.time(), cap)
            self._time("cap", OVER_CAP_GRACE)
            return
        self._time("head", self.head_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_timer()
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            hooks: list[Callable[[], None]] = cycle.scope.get(ON_CLOSE, [])  # type: ignore[assignment]
            for hook in hooks:  # a held P-GET nobody waits for any more
                hook()
        super().connection_lost(exc)

    def shutdown(self) -> None:
        """The server is stopping (uvicorn calls this on every connection; idle ones close,
        busy ones close after their response). Held P-GETs would keep their connections, and the
        process, for up to ``OPENUCWA_MAX_EVENT_WAIT``: they answer now (the lifespan's hook)."""
        stop: Callable[[], None] | None = self.app_state.get(ON_SHUTDOWN)
        if stop is not None:
            stop()
        super().shutdown()

    def data_received(self, data: bytes) -> None:
        # Every request passes here: the usual case (a whole request in one chunk) costs three
        # comparisons before and four attribute reads after uvicorn's own parsing.
        if self._over_cap:
            self._refuse(_TOO_MANY)
            return
        if self._head_bytes + len(data) > self.max_head_bytes and self._overflows(data):
            self.logger.warning("Request head over %d bytes refused.", self.max_head_bytes)
            self._refuse(self._head_too_large)
            return
        HttpToolsProtocol.data_received(self, data)
        cycle = self.cycle  # _reading_head and _reading_body, inlined: this runs per request
        if cycle is None or (cycle.response_complete and not cycle.more_body):
            # This chunk ended inside a head (the last one may also have carried the end of
            # the previous request): the parser holds all of it until the head is complete.
            self._head_bytes += len(data)
            self._time("head", self.head_timeout)
        elif cycle.more_body and not cycle.response_complete:  # a body is on its way
            self._head_bytes = 0
            self._time("body", self.body_timeout)
        elif self._timer is not None or self._head_bytes:
            self._head_bytes = 0
            self._stop_timer()

    def _overflows(self, data: bytes) -> bool:
        """Would parsing ``data`` take the head being read past the limit? Only asked when the
        bytes so far plus the chunk pass it; the head's end (a blank line) is looked for in the
        chunk itself (one ending split across two chunks counts a few bytes too many)."""
        if not _reading_head(self.cycle):
            return False  # a body's bytes; the chunks after it are counted as they come
        end = data.find(b"\r\n\r\n")
        in_head = len(data) if end < 0 else end + 4
        return self._head_bytes + in_head > self.max_head_bytes

    def _time(self, what: str, seconds: float) -> None:
        """Keep the timer running for ``what``, or start it."""
        if self._timer is not None:
            if self._timing == what:
                return
            self._timer.cancel()
        self._timing = what
        self._timer = self.loop.call_later(seconds, self._timed_out)

    def _stop_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _timed_out(self) -> None:
        self._timer = None
        if self.transport.is_closing():
            return
        if self._timing == "cap":  # it never said anything: nothing to answer
            self.transport.close()
        elif self._timing == "head" and _reading_head(self.cycle):
            self.logger.warning("Request head not complete after %g s.", self.head_timeout)
            self._refuse(self._head_late)
        elif self._timing == "body" and _reading_body(self.cycle):
            self.logger.warning("Request body not complete after %g s.", self.body_timeout)
            self._refuse(self._body_late)  # the endpoint waiting for it sees a disconnect

    def _unsupported_upgrade_warning(self) -> None:
        _UPGRADE_LOG.note(self.logger, self.loop.time())

    def send_400_response(self, msg: str) -> None:
        self._refuse(_UNPARSABLE)

    def _refuse(self, refusal: tuple[bytes, bytes]) -> None:
        if self.transport.is_closing():  # refused already; what still arrives is dropped
            return
        head, body = refusal
        default = b"".join(b"%s: %s\r\n" % pair for pair in self.server_state.default_headers)
        self.transport.write(head + default + b"\r\n" + body)
        self.transport.close()


def _reading_body(cycle: RequestResponseCycle | None) -> bool:
    """After a chunk was parsed: is a request's body still on its way to a waiting endpoint?"""
    return cycle is not None and cycle.more_body and not cycle.response_complete


def _reading_head(cycle: RequestResponseCycle | None) -> bool:
    """After a chunk was parsed: is the parser inside a request's head? The current request's
    head is complete once it has a cycle that is still being answered; after a completed
    response, a cycle whose body was read whole means the next head (if any) is under way."""
    return cycle is None or (cycle.response_complete and not cycle.more_body)

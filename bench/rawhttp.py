"""A minimal HTTP/1.1 client on asyncio protocols, for loads that httpx is too heavy for: ten
thousand sockets each holding one P-GET, or senders that should cost the machine as little CPU as
possible. One request at a time per connection, keep-alive, ``Content-Length`` bodies only (what
the server sends; a chunked answer is an error). No TLS, no redirects, no compression (requests
carry no ``Accept-Encoding``, so answers come as identity).
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlencode


class HttpError(Exception):
    """The connection broke or the answer was not HTTP/1.1 this client understands."""


@dataclass(slots=True)
class RawResponse:
    status: int
    headers: dict[str, str]  # names lower-cased
    body: bytes
    at: float  # time.perf_counter() when the last byte arrived

    def json(self) -> Any:
        return json.loads(self.body)


def build_request(
    method: str,
    target: str,
    host: str,
    token: str | None = None,
    body: bytes | None = None,
    content_type: str | None = None,
    accept: str = "application/json",
) -> bytes:
    """The bytes of one request (``target`` is path and query)."""
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}", f"Accept: {accept}"]
    if token is not None:
        lines.append(f"Authorization: Bearer {token}")
    if body is not None or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body or b'')}")
    if content_type is not None:
        lines.append(f"Content-Type: {content_type}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (body or b"")


def json_request(method: str, target: str, host: str, token: str | None, doc: Any) -> bytes:
    body = json.dumps(doc, separators=(",", ":")).encode()
    return build_request(method, target, host, token, body, "application/json")


def form_request(target: str, host: str, fields: dict[str, str]) -> bytes:
    body = urlencode(fields).encode()
    return build_request("POST", target, host, None, body, "application/x-www-form-urlencoded")


class RawConnection(asyncio.Protocol):
    """One keep-alive connection; ``send`` writes a request and returns the future answer."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self._buffer = bytearray()
        self._waiter: asyncio.Future[RawResponse] | None = None
        self._head: tuple[int, dict[str, str], int, int] | None = None  # status, hdrs, start, len
        self.closed = False

    # -- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        try:
            self._parse()
        except HttpError as exc:
            self._fail(exc)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._fail(HttpError(f"connection lost: {exc!r}" if exc else "connection closed"))

    # -- use -------------------------------------------------------------------------------

    def send(self, request: bytes) -> asyncio.Future[RawResponse]:
        if self.closed or self.transport is None:
            raise HttpError("connection closed")
        if self._waiter is not None and not self._waiter.done():
            raise HttpError("one request at a time")
        self._waiter = asyncio.get_running_loop().create_future()
        self.transport.write(request)
        return self._waiter

    async def request(self, request: bytes, timeout: float) -> RawResponse:
        return await asyncio.wait_for(self.send(request), timeout)

    def close(self) -> None:
        """Close the socket; a request still waiting is cancelled (not failed)."""
        if self._waiter is not None and not self._waiter.done():
            self._waiter.cancel()
        if self.transport is not None and not self.closed:
            self.transport.close()
        self.closed = True

    # -- parsing ---------------------------------------------------------------------------

    def _fail(self, exc: Exception) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_exception(exc)
        if not self.closed and self.transport is not None:
            self.transport.close()
            self.closed = True

    def _parse(self) -> None:
        if self._head is None:
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            lines = bytes(self._buffer[:end]).decode("latin-1").split("\r\n")
            parts = lines[0].split(" ", 2)
            if len(parts) < 2 or not parts[0].startswith("HTTP/1."):
                raise HttpError(f"not an HTTP/1.x status line: {lines[0]!r}")
            status = int(parts[1])
            headers: dict[str, str] = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            if "chunked" in headers.get("transfer-encoding", "").lower():
                raise HttpError("chunked answers are not supported")
            if "content-length" in headers:
                length = int(headers["content-length"])
            elif status in (204, 304) or status < 200:
                length = 0
            else:
                raise HttpError(f"answer {status} without Content-Length")
            self._head = (status, headers, end + 4, length)
        status, headers, start, length = self._head
        if len(self._buffer) < start + length:
            return
        body = bytes(self._buffer[start : start + length])
        del self._buffer[: start + length]
        self._head = None
        waiter, self._waiter = self._waiter, None
        if waiter is None or waiter.done():
            raise HttpError(f"unexpected answer {status}")
        waiter.set_result(RawResponse(status, headers, body, time.perf_counter()))


async def connect(host: str, port: int, timeout: float = 10.0) -> RawConnection:
    loop = asyncio.get_running_loop()
    _, protocol = await asyncio.wait_for(loop.create_connection(RawConnection, host, port), timeout)
    return protocol


async def connect_many(
    host: str, port: int, count: int, parallel: int = 256, timeout: float = 120.0
) -> list[RawConnection]:
    """``count`` connections, at most ``parallel`` handshakes at a time (the listen backlog is
    finite), all within ``timeout`` seconds."""
    limit = asyncio.Semaphore(parallel)

    async def one() -> RawConnection:
        async with limit:
            return await connect(host, port)

    tasks = [asyncio.ensure_future(one()) for _ in range(count)]
    done, pending = await asyncio.wait(tasks, timeout=timeout)
    for task in pending:
        task.cancel()
    conns = [t.result() for t in done if not t.cancelled() and t.exception() is None]
    if len(conns) < count:
        for c in conns:
            c.close()
        errors = {repr(t.exception()) for t in done if not t.cancelled() and t.exception()}
        raise HttpError(
            f"{len(conns)} of {count} connections within {timeout:.0f}s; errors: {errors}"
        )
    return conns


async def fetch_all(
    host: str,
    port: int,
    requests: Sequence[bytes],
    concurrency: int = 32,
    timeout: float = 60.0,
    conns: Iterable[RawConnection] | None = None,
) -> list[RawResponse]:
    """Send ``requests`` over ``concurrency`` keep-alive connections (or the given ones);
    the answers in request order. Each request may take ``timeout`` seconds."""
    own = conns is None
    pool = list(conns) if conns is not None else await connect_many(host, port, concurrency)
    answers: list[RawResponse | None] = [None] * len(requests)
    next_index = 0

    async def worker(conn: RawConnection) -> None:
        nonlocal next_index
        while next_index < len(requests):
            i = next_index
            next_index += 1
            answers[i] = await conn.request(requests[i], timeout)

    try:
        await asyncio.gather(*(worker(c) for c in pool))
    finally:
        if own:
            for c in pool:
                c.close()
    return [a for a in answers if a is not None]

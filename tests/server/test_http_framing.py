"""Requests the HTTP parser refuses never reach the application, yet the real server answers
them with the UCWA error body (JSON), then closes the connection: the bytes after a broken
request cannot be framed. A well-formed request on a new connection is served as usual."""

from __future__ import annotations

import json
import socket

import httpx
import pytest

from tests.server.conftest import Servers

pytestmark = pytest.mark.server

BROKEN = {
    "content-length not a number": (
        b"POST /WebTicket/oauthtoken HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}"
    ),
    "malformed request line": b"GARBAGE\r\n\r\n",
    "header without a colon": b"GET / HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n",
    "two content lengths that differ": (
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}"
    ),
}


def exchange(port: int, raw: bytes) -> bytes:
    """Send ``raw`` and read until the server closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(raw)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.parametrize("raw", list(BROKEN.values()), ids=list(BROKEN))
def test_an_unparsable_request_gets_the_ucwa_error_body(servers: Servers, raw: bytes) -> None:
    server = servers.start()
    answer = exchange(server.port, raw)  # returns only once the server closed the connection
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0] == "HTTP/1.1 400 Bad Request"
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    assert headers["content-type"] == "application/json; charset=utf-8"
    assert headers["connection"] == "close"
    assert headers["x-ms-ucwaversion"] == "2.0"
    assert int(headers["content-length"]) == len(body)
    assert json.loads(body) == {
        "code": "BadRequest",
        "message": "The HTTP request could not be parsed.",
    }
    assert b"Invalid HTTP request" not in answer and b"Traceback" not in answer
    with httpx.Client(base_url=server.url, timeout=10) as client:  # the server carries on
        assert client.get("/").status_code == 200

"""Requests the HTTP parser refuses never reach the application, yet the real server answers
them with the UCWA error body (JSON), then closes the connection: the bytes after a broken
request cannot be framed. A well-formed request on a new connection is served as usual."""

from __future__ import annotations

import contextlib
import json
import socket
import time

import httpx
import pytest

from tests.server.conftest import PASSWORD, SIP, Servers

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


def read_response(sock: socket.socket) -> tuple[str, dict[str, str], bytes]:
    """One response with a Content-Length body, read off a keep-alive connection."""
    buffer = b""
    while b"\r\n\r\n" not in buffer:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed before a whole head: {buffer!r}"
        buffer += chunk
    head, _, rest = buffer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers["content-length"])
    while len(rest) < length:
        chunk = sock.recv(65536)
        assert chunk, "connection closed inside a body"
        rest += chunk
    return lines[0], headers, rest[:length]


def assert_refused(answer: bytes, status_line: str, code: str, message: str) -> None:
    """The whole answer of a refusal: status, ``connection: close``, the UCWA error body."""
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0] == status_line
    assert "connection: close" in (line.lower() for line in lines)
    assert json.loads(body) == {"code": code, "message": message}


def assert_head_refused(answer: bytes) -> None:
    assert_refused(
        answer,
        "HTTP/1.1 431 Request Header Fields Too Large",
        "BadRequest",
        "The request line and headers are larger than 65536 bytes.",
    )


def test_a_head_over_64_kib_is_refused_in_one_piece(servers: Servers) -> None:
    server = servers.start()
    raw = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 2_000_000 + b"\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        with contextlib.suppress(ConnectionError):  # refused before it was all sent
            sock.sendall(raw)
        answer = b""
        with contextlib.suppress(ConnectionError):
            while chunk := sock.recv(65536):
                answer += chunk
    assert_head_refused(answer)
    with httpx.Client(base_url=server.url, timeout=10) as client:
        assert client.get("/").status_code == 200


def test_a_head_dribbled_in_small_pieces_is_refused_once_past_64_kib(servers: Servers) -> None:
    server = servers.start()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        sent = 0
        answer = b""
        with contextlib.suppress(ConnectionError):
            while sent < 1_000_000:
                sock.sendall(b"X-Pad-%d: %s\r\n" % (sent, b"b" * 1000))
                sent += 1000
                sock.settimeout(0.001 if sent % 8000 else 0.05)
                with contextlib.suppress(TimeoutError):
                    if chunk := sock.recv(65536):
                        answer += chunk
                        break
            sock.settimeout(10)
            while chunk := sock.recv(65536):
                answer += chunk
    assert sent < 500_000, "the server kept reading the head long past the limit"
    assert_head_refused(answer)


def test_bodies_and_many_requests_on_one_connection_do_not_count_as_head(
    servers: Servers,
) -> None:
    """A POST body of 200 KB (arriving with its head) and 100 keep-alive requests of ~1 KB of
    headers each (100 KB in all) are answered normally."""
    server = servers.start()
    body = b'{"grant_type":"password","pad":"' + b"p" * 200_000 + b'"}'
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(
            b"POST /WebTicket/oauthtoken HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body) + body
        )
        status, _, _ = read_response(sock)
        assert status == "HTTP/1.1 400 Bad Request"  # the token endpoint's own answer
        for i in range(100):
            sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: %s\r\n\r\n" % (b"%d" % i * 300))
            status, headers, reply = read_response(sock)
            assert status == "HTTP/1.1 200 OK", reply
            assert headers["content-type"].startswith("application/json")


def test_the_head_limit_is_a_setting(servers: Servers) -> None:
    server = servers.start(env={"OPENUCWA_MAX_HEAD_BYTES": "2048"})
    small = b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"s" * 1000 + b"\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(small)
        assert read_response(sock)[0] == "HTTP/1.1 200 OK"
    answer = exchange(
        server.port, b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"p" * 4000 + b"\r\n\r\n"
    )
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 431 ")
    assert json.loads(body)["message"] == "The request line and headers are larger than 2048 bytes."


def assert_timed_out(answer: bytes, seconds: str, part: str = "head") -> None:
    assert_refused(
        answer,
        "HTTP/1.1 408 Request Timeout",
        "Timeout",
        f"The request {part} did not arrive within {seconds} s.",
    )


def read_until_closed(sock: socket.socket) -> bytes:
    answer = b""
    with contextlib.suppress(ConnectionError):
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def test_a_connection_that_sends_nothing_is_answered_408_and_closed(servers: Servers) -> None:
    server = servers.start(env={"OPENUCWA_HEAD_TIMEOUT": "1"})
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        started = time.monotonic()
        answer = read_until_closed(sock)
        waited = time.monotonic() - started
    assert_timed_out(answer, "1")
    assert 0.8 < waited < 5, waited


def test_a_head_dribbled_slower_than_the_timeout_is_answered_408(servers: Servers) -> None:
    server = servers.start(env={"OPENUCWA_HEAD_TIMEOUT": "1"})
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\n")
        started = time.monotonic()
        with contextlib.suppress(ConnectionError):
            for _ in range(40):  # a header line every 0.1 s: the head never completes
                sock.sendall(b"X-Slow: 1\r\n")
                time.sleep(0.1)  # bounded: 40 steps at most
        answer = read_until_closed(sock)
        waited = time.monotonic() - started
    assert_timed_out(answer, "1")
    assert waited < 3.5, waited


def test_slow_but_timely_heads_and_slow_bodies_are_served(servers: Servers) -> None:
    """The timer covers one head: three requests whose heads each take 0.6 s (1.8 s in all on
    one connection) are served, and so is a POST whose body takes 1.5 s after its head."""
    server = servers.start(env={"OPENUCWA_HEAD_TIMEOUT": "1"})
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        for _ in range(3):
            for part in (b"GET / HTTP/1.1\r\n", b"Host: x\r\n", b"Accept: */*\r\n", b"\r\n"):
                sock.sendall(part)
                time.sleep(0.15)
            assert read_response(sock)[0] == "HTTP/1.1 200 OK"
        body = b"grant_type=password&username=nobody%40contoso.com&password=x"
        sock.sendall(
            b"POST /WebTicket/oauthtoken HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body)
        )
        for i in range(0, len(body), len(body) // 5 + 1):
            time.sleep(0.3)
            sock.sendall(body[i : i + len(body) // 5 + 1])
        status, _, reply = read_response(sock)
    assert status == "HTTP/1.1 400 Bad Request"  # the token endpoint's answer, not a 408
    assert json.loads(reply)["error"] == "invalid_grant"


def test_an_upgrade_request_is_answered_as_plain_http(servers: Servers) -> None:
    """No WebSocket endpoint exists: a handshake is not taken up (uvicorn would answer a bare
    403), the request is served as the GET it also is."""
    server = servers.start()
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(
            b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
        )
        status, headers, body = read_response(sock)
    assert status == "HTTP/1.1 200 OK"
    assert headers["content-type"].startswith("application/json")
    assert "user" in json.loads(body)["_links"]


def test_upgrade_requests_do_not_flood_the_log(servers: Servers) -> None:
    """uvicorn logs two warnings per upgrade request it cannot honour: 30 of them, anyone's,
    wrote 60 lines. Now one line says how many there were (at most one per 10 s)."""
    server = servers.start()
    for _ in range(30):
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(
                b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n"
            )
            assert read_response(sock)[0] == "HTTP/1.1 200 OK"
    log = server.output()
    assert "No supported WebSocket library" not in log
    assert log.count("unsupported upgrade") == 1, log


def test_a_body_slower_than_its_timeout_is_answered_408_and_logged_without_a_traceback(
    servers: Servers,
) -> None:
    """A POST that declares 100 bytes and sends 10: after the body timeout, 408 with the UCWA
    body and the connection closed. The token endpoint that waited for the body sees the client
    gone: one log line, no traceback, no 500. The server carries on."""
    server = servers.start(env={"OPENUCWA_BODY_TIMEOUT": "1", "OPENUCWA_LOG_LEVEL": "info"})
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(
            b"POST /WebTicket/oauthtoken HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n"
            b"grant_type"
        )
        started = time.monotonic()
        answer = read_until_closed(sock)
        waited = time.monotonic() - started
    assert_timed_out(answer, "1", part="body")
    assert 0.8 < waited < 5, waited
    with httpx.Client(base_url=server.url, timeout=10) as client:
        assert client.get("/").status_code == 200
    log = server.output()
    assert "Request body not complete after 1 s." in log
    assert "client went away before its body was read" in log
    assert "Traceback" not in log and "unhandled error" not in log


def test_a_client_that_hangs_up_mid_body_leaves_no_traceback(servers: Servers) -> None:
    server = servers.start(env={"OPENUCWA_LOG_LEVEL": "info"})
    with httpx.Client(base_url=server.url, timeout=10) as client:
        grant = {"grant_type": "password", "username": SIP, "password": PASSWORD}
        token = client.post("/WebTicket/oauthtoken", data=grant).json()["access_token"]
        app = client.post(
            "/ucwa/oauth/v1/applications",
            json={"UserAgent": "t", "EndpointId": "t", "Culture": "en-US"},
            headers={"Authorization": f"Bearer {token}"},
        ).json()
    meetings = app["_embedded"]["onlineMeetings"]["_links"]["myOnlineMeetings"]["href"]
    for path in (meetings.encode(), b"/WebTicket/oauthtoken"):  # a direct, a Starlette route
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
            sock.sendall(
                b"POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Authorization: Bearer %s\r\n"
                b'Content-Length: 100\r\n\r\n{"sub' % (path, token.encode())
            )
            time.sleep(0.2)  # bounded: lets the endpoint start waiting for the rest
    with httpx.Client(base_url=server.url, timeout=10) as client:
        assert client.get("/").status_code == 200  # also gives the server time to log
    log = server.output()
    assert log.count("client went away before its body was read") == 2, log
    assert "Traceback" not in log and "unhandled error" not in log, log

"""The real server caps open connections (``OPENUCWA_MAX_CONNECTIONS``) and raises its own
open-file limit to fit them: a connection over the cap is answered ``503 ServiceUnavailable``
with the UCWA error body and closed, and the server carries on. Before, nothing capped
connections, and past the open-file limit (often 1024) the server accepted nobody."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

from tests.server.conftest import Servers
from tests.server.test_http_framing import read_response, read_until_closed

pytestmark = pytest.mark.server

GET = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"


def served(port: int) -> socket.socket:
    """A keep-alive connection the server has accepted and answered once."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(GET)
    assert read_response(sock)[0] == "HTTP/1.1 200 OK"
    return sock


def test_a_connection_over_the_cap_is_refused_and_the_server_carries_on(
    servers: Servers,
) -> None:
    server = servers.start(env={"OPENUCWA_MAX_CONNECTIONS": "3"})
    time.sleep(0.2)  # the readiness check's connection is gone
    held = [served(server.port) for _ in range(3)]
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as extra:
            extra.sendall(GET)
            answer = read_until_closed(extra)
        head, _, body = answer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
        assert lines[0] == "HTTP/1.1 503 Service Unavailable"
        assert headers["retry-after"] == "1"
        assert headers["connection"] == "close"
        assert headers["content-type"] == "application/json; charset=utf-8"
        assert json.loads(body) == {
            "code": "ServiceUnavailable",
            "message": "The server holds as many connections as it takes; try again.",
        }
        # The connections under the cap are still served.
        held[0].sendall(GET)
        assert read_response(held[0])[0] == "HTTP/1.1 200 OK"
        # One over the cap that says nothing is closed after a second, unanswered.
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as silent:
            started = time.monotonic()
            assert read_until_closed(silent) == b""
            assert time.monotonic() - started < 5
    finally:
        held.pop().close()
    time.sleep(0.2)
    with served(server.port):  # room again
        pass
    for sock in held:
        sock.close()
    assert "Traceback" not in server.output()


def _open_files(pid: int) -> tuple[int, int]:
    for line in Path(f"/proc/{pid}/limits").read_text().splitlines():
        if line.startswith("Max open files"):
            soft, hard = line.split()[3:5]
            return int(soft), int(hard)
    raise AssertionError("no open-file limit in /proc")


def test_serve_raises_its_open_file_limit_to_fit_the_cap(servers: Servers) -> None:
    server = servers.start(env={"OPENUCWA_MAX_CONNECTIONS": "2000"}, open_files=(256, 4096))
    assert _open_files(server.pid) == (2128, 4096)  # the cap plus 128 for the rest
    assert "open-file limit" not in server.output()


def test_a_hard_limit_below_the_cap_lowers_the_cap_and_says_so(servers: Servers) -> None:
    server = servers.start(env={"OPENUCWA_MAX_CONNECTIONS": "16384"}, open_files=(140, 140))
    assert _open_files(server.pid) == (140, 140)
    assert (
        "openucwa: the open-file limit (140) holds 12 connections, not "
        "OPENUCWA_MAX_CONNECTIONS=16384" in server.output()
    )
    time.sleep(0.2)
    held = [served(server.port) for _ in range(12)]
    try:
        with socket.create_connection(("127.0.0.1", server.port), timeout=10) as extra:
            extra.sendall(GET)
            assert read_until_closed(extra).startswith(b"HTTP/1.1 503 ")
    finally:
        for sock in held:
            sock.close()

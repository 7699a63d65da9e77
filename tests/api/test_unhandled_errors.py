"""An unhandled error (here: SQLite refusing writes as on a full disk) answers the UCWA
``500 ServiceFailure`` body on every route, negotiated JSON or XML, over a connection that stays
usable, and is logged once with its traceback. A flood of the same failure logs the first
traceback and then one line per interval with the count. Served by uvicorn in-process with the
server's own protocol, over a raw keep-alive socket."""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import AsyncIterator, Callable
from typing import TypeVar
from urllib.parse import urlencode, urlsplit

import pytest
import uvicorn

from openucwa.bootstrap import Built
from openucwa.web import log_limits
from openucwa.web.http_protocol import UcwaHttpToolsProtocol
from tests.conftest import USERS, Helpers, Session

T = TypeVar("T")
SERVICE_FAILURE = {
    "code": "ServiceFailure",
    "message": "The server encountered an error. Please try again.",
}
XML_FAILURE = b"<code>ServiceFailure</code>"


class DiskFull:
    """The next ``times`` writes fail the way SQLite fails on a full disk."""

    def __init__(self, built: Built, monkeypatch: pytest.MonkeyPatch) -> None:
        self.times = 0
        self._write = built.storage.db.write
        monkeypatch.setattr(built.storage.db, "write", self.write)

    async def write(self, fn: Callable[[sqlite3.Connection], T], isolated: bool = True) -> T:
        if self.times > 0:
            self.times -= 1
            raise sqlite3.OperationalError("database or disk is full")
        return await self._write(fn, isolated)


@pytest.fixture
async def port(built: Built) -> AsyncIterator[int]:
    """uvicorn serving the app on a free port, in this test's event loop (the ``built``
    fixture started and closes the storage: no lifespan here)."""
    config = uvicorn.Config(
        built.app, host="127.0.0.1", port=0, lifespan="off", log_config=None,
        http=UcwaHttpToolsProtocol, ws="none",
    )  # fmt: skip
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), "the server did not start"
        await asyncio.sleep(0.01)
    try:
        yield int(server.servers[0].sockets[0].getsockname()[1])
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


class Connection:
    """One kept-alive HTTP/1.1 connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def send(
        self, method: str, target: str, headers: dict[str, str], body: bytes = b""
    ) -> tuple[int, dict[str, str], bytes]:
        path = urlsplit(target).path
        lines = [f"{method} {path} HTTP/1.1", "Host: lyncweb.contoso.com"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        lines.append(f"Content-Length: {len(body)}")
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), 10)
        status_line, *header_lines = head.decode("latin-1").strip().split("\r\n")
        fields = {
            k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)
        }
        content = await self.reader.readexactly(int(fields["content-length"]))
        return int(status_line.split()[1]), fields, content


@pytest.fixture
async def connection(port: int) -> AsyncIterator[Connection]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        yield Connection(reader, writer)
    finally:
        writer.close()


def token_request() -> tuple[str, str, dict[str, str], bytes]:
    uri, _, password = USERS["bill"]
    form = urlencode({"grant_type": "password", "username": uri[4:], "password": password})
    content_type = {"Content-Type": "application/x-www-form-urlencoded"}
    return "POST", "/WebTicket/oauthtoken", content_type, form.encode()


def new_application(bill: Session) -> tuple[str, str, dict[str, str], bytes]:
    body = json.dumps({"UserAgent": "tests", "EndpointId": "endpoint-2", "Culture": "en-US"})
    headers = {**bill.headers, "Content-Type": "application/json"}
    return "POST", "/ucwa/oauth/v1/applications", headers, body.encode()


def make_me_available(bill: Session) -> tuple[str, str, dict[str, str], bytes]:
    headers = {**bill.headers, "Content-Type": "application/json"}
    return "POST", bill.link("me", "makeMeAvailable"), headers, b"{}"


def delete_application(bill: Session) -> tuple[str, str, dict[str, str], bytes]:
    return "DELETE", bill.app_href, bill.headers, b""


def new_meeting(bill: Session) -> tuple[str, str, dict[str, str], bytes]:
    headers = {**bill.headers, "Content-Type": "application/json"}
    href = bill.link("onlineMeetings", "myOnlineMeetings")
    return "POST", href, headers, json.dumps({"subject": "s"}).encode()


REQUESTS: dict[str, Callable[[Session], tuple[str, str, dict[str, str], bytes]]] = {
    "token": lambda _: token_request(),
    "POST applications": new_application,
    "makeMeAvailable": make_me_available,
    "DELETE application": delete_application,
    "POST myOnlineMeetings": new_meeting,
}
SUCCESS = {
    "token": 200,
    "POST applications": 201,
    "makeMeAvailable": 204,
    "DELETE application": 204,
    "POST myOnlineMeetings": 201,
}


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.exc_info is not None]


@pytest.mark.parametrize("accept", ["application/json", "application/xml"])
@pytest.mark.parametrize("name", list(REQUESTS))
async def test_a_500_leaves_the_connection_usable_and_logs_one_traceback(
    built: Built,
    helpers: Helpers,
    connection: Connection,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    name: str,
    accept: str,
) -> None:
    bill = await helpers.session("bill")
    method, target, headers, body = REQUESTS[name](bill)
    headers = {**headers, "Accept": accept}
    disk = DiskFull(built, monkeypatch)
    disk.times = 1
    caplog.set_level(logging.INFO)

    status, fields, content = await connection.send(method, target, headers, body)
    assert status == 500, content
    assert "close" not in fields.get("connection", "")
    if accept == "application/json":
        assert json.loads(content) == SERVICE_FAILURE
    else:
        assert fields["content-type"].startswith("application/xml")
        assert XML_FAILURE in content
    assert b"Traceback" not in content and b"disk is full" not in content

    status, _, content = await connection.send(method, target, headers, body)
    assert status == SUCCESS[name], content  # the same connection, the write goes through now

    logged = tracebacks(caplog)
    assert len(logged) == 1, [r.getMessage() for r in caplog.records]
    assert logged[0].exc_info is not None
    assert isinstance(logged[0].exc_info[1], sqlite3.OperationalError)
    assert not [r for r in caplog.records if "Exception in ASGI" in r.getMessage()]


async def logged(caplog: pytest.LogCaptureFixture, start: str) -> str:
    """The first line of openucwa's web log that starts with ``start``, waiting for it."""
    for _ in range(300):
        found = [line for line in web_lines(caplog) if line.startswith(start)]
        if found:
            return found[0]
        await asyncio.sleep(0.01)
    raise AssertionError(f"no log line {start!r}: {web_lines(caplog)}")


def web_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "openucwa.web"]


async def test_a_flood_of_one_failure_logs_one_traceback_then_counts(
    built: Built,
    helpers: Helpers,
    connection: Connection,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    bill = await helpers.session("bill")
    monkeypatch.setattr(log_limits, "LOG_EVERY", 0.5)
    disk = DiskFull(built, monkeypatch)
    disk.times = 10_000
    caplog.set_level(logging.INFO)

    async def flood(name: str, count: int) -> None:
        for _ in range(count):
            method, target, headers, body = REQUESTS[name](bill)
            status, _, _ = await connection.send(method, target, headers, body)
            assert status == 500

    await flood("POST myOnlineMeetings", 30)
    await flood("POST applications", 20)
    assert len(tracebacks(caplog)) == 1  # the first one, whole
    assert isinstance(tracebacks(caplog)[0].exc_info[1], sqlite3.OperationalError)  # type: ignore[index]
    summary = await logged(caplog, "49 more")  # once the interval ends, in one line
    assert "database or disk is full" in summary
    assert "POST /ucwa/oauth/v1/applications" in summary  # the last one
    await flood("POST myOnlineMeetings", 5)
    await logged(caplog, "5 more")
    assert len(tracebacks(caplog)) == 1
    assert len(web_lines(caplog)) == 3, web_lines(caplog)  # traceback, 49 more, 5 more

    await asyncio.sleep(0.7)  # a whole quiet interval: the failure is forgotten
    await flood("POST myOnlineMeetings", 1)
    assert len(tracebacks(caplog)) == 2  # a new outage shows its traceback again

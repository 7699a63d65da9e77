"""Every route of the URL table against seeded random requests: methods it has and has not,
path ids that are the caller's, another user's or junk, random JSON values, XML, bytes and
batches, odd Accept / Content-Type / If-Match / Authorization headers and query strings.

Whatever arrives, the answer is never a 5xx, an error always carries its UCWA ``code``, and the
server keeps serving afterwards. The seed is fixed, so a failure reproduces; the failing request
is in the assertion message.
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.routing import BaseRoute, Mount, Route

from openucwa.settings import Settings
from openucwa.web.routes import ROUTES
from tests.conftest import Helpers

REQUESTS = 1500
SEED = 20261123
UCWA_NS = "http://schemas.microsoft.com/rtc/2012/03/ucwa"
KEYS = (
    "subject", "description", "accessLevel", "attendees", "leaders", "expirationTime",
    "automaticLeaderAssignment", "entryExitAnnouncement", "lobbyBypassForPhoneUsers",
    "phoneUserAdmission", "UserAgent", "EndpointId", "Culture", "to", "operationId", "message",
    "sessionContext", "importance", "id", "type", "signInAs", "supportedMessageFormats",
    "supportedModalities", "availability", "_links", "rel", "etag", "isTyping", "threadId",
)  # fmt: skip
TEXTS = (
    "", "a", "x" * 300, "\u00ff\u0000\u2028", "sip:bmauldin@contoso.com", "sip:x@fabrikam.com",
    "/Date(99999999999999999)/", "2026-01-01T00:00:00Z", "Everyone", "everyone", "NaN", "1e309",
    "<a/>", "{", "null", "True", "Enabled", "%00", "../..", "*",
)  # fmt: skip
ACCEPTS = (
    "application/xml", "application/json", "*/*", "text/html;q=x", "",
    "application/vnd.microsoft.com.ucwa+xml;q=0.5, application/json;q=abc",
)  # fmt: skip
QUERIES = ("ack=abc", "ack=-1", "ack=99999999999999999999", "timeout=x", "a=b&a=c", "%ff=1")
EXTRA_METHODS = ("GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS")


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    # P-GETs among the requests give up at once instead of holding for the test's default.
    return Settings(
        database=f"sqlite:///{tmp_path / 'test.db'}", domains="contoso.com", max_event_wait=0.01
    )


def routes(table: list[BaseRoute], prefix: str = "") -> list[tuple[str, list[str]]]:
    found: list[tuple[str, list[str]]] = []
    for route in table:
        if isinstance(route, Mount):
            found += routes(list(route.routes), prefix + route.path)
        elif isinstance(route, Route):
            found.append((prefix + route.path, sorted(route.methods or {"GET"})))
    return found


@dataclass
class Fuzzer:
    rng: random.Random
    path_ids: dict[str, list[str]]
    tokens: list[str]

    def value(self, depth: int = 0) -> Any:
        makers: list[Callable[[], Any]] = [
            lambda: None,
            lambda: self.rng.choice((True, False)),
            lambda: self.rng.randint(-(2**70), 2**70),
            lambda: self.rng.random() * 1e300,
            lambda: self.rng.choice(TEXTS),
        ]
        if depth < 3:
            makers.append(lambda: [self.value(depth + 1) for _ in range(self.rng.randint(0, 3))])
            makers.append(
                lambda: {
                    self.rng.choice(TEXTS + KEYS): self.value(depth + 1)
                    for _ in range(self.rng.randint(0, 3))
                }
            )
        return self.rng.choice(makers)()

    def body(self) -> tuple[bytes, str]:
        kind = self.rng.randrange(6)
        if kind == 0:
            return b"", "application/json"
        if kind == 1:
            noise = bytes(self.rng.randrange(256) for _ in range(self.rng.randint(1, 60)))
            return noise, self.rng.choice(("application/json", "application/xml", "text/plain"))
        if kind == 2:
            props = "".join(
                f'<property name="{self.rng.choice(KEYS)}">'
                f"{self.rng.choice(('x', '&amp;', '', '<a/>'))}</property>"
                for _ in range(self.rng.randint(0, 5))
            )
            xml = f'<?xml version="1.0"?><input xmlns="{UCWA_NS}">{props}</input>'
            return xml.encode(), "application/xml"
        if kind == 3:
            batch = (
                b"--x\r\nContent-Type: application/http; msgtype=request\r\n\r\n"
                b"GET /ucwa/oauth/v1/applications HTTP/1.1\r\nHost: h\r\n\r\n--x--"
            )
            return batch, "multipart/batching;boundary=x"
        if kind == 4:
            return json.dumps(self.value()).encode(), "application/json"
        props_json = {self.rng.choice(KEYS): self.value() for _ in range(self.rng.randint(0, 8))}
        content_type = self.rng.choice(
            ("application/json", "application/vnd.microsoft.com.ucwa+json", "text/plain")
        )
        return json.dumps(props_json).encode(), content_type

    def path(self, template: str) -> str:
        def fill(match: re.Match[str]) -> str:
            return self.rng.choice(self.path_ids.get(match.group(1), ["x"]))

        path = re.sub(r"\{(\w+)(?::\w+)?\}", fill, template)
        if self.rng.random() < 0.3:
            path += "?" + self.rng.choice(QUERIES)
        return path

    def headers(self, content_type: str) -> dict[str, str]:
        headers = {"Content-Type": content_type}
        if self.rng.random() < 0.9:
            headers["Authorization"] = "Bearer " + self.rng.choice(self.tokens)
        if self.rng.random() < 0.5:
            headers["Accept"] = self.rng.choice(ACCEPTS)
        if self.rng.random() < 0.3:
            headers["If-Match"] = self.rng.choice(('"x"', "*", 'W/"1"', "", '"' + "1" * 500))
        if self.rng.random() < 0.2:
            headers["Accept-Encoding"] = "gzip"
        return headers


async def test_no_request_to_any_route_gets_a_server_error(
    client: httpx.AsyncClient, helpers: Helpers
) -> None:
    bill = await helpers.session("bill")
    alice = await helpers.session("alice")
    mine = bill.link("onlineMeetings", "myOnlineMeetings")
    meeting = (await client.post(mine, json={"subject": "Plan"}, headers=bill.headers)).json()
    extensions = meeting["_links"]["onlineMeetingExtensions"]["href"]
    added = await client.post(
        extensions, json={"id": "ext1", "type": "Undefined"}, headers=bill.headers
    )
    assert added.status_code == 201, added.text
    theirs = alice.link("onlineMeetings", "myOnlineMeetings")
    their_meeting = (await client.post(theirs, json={}, headers=alice.headers)).json()
    bill_app = bill.app_href.rsplit("/", 1)[1]
    path_ids = {
        "app_id": [bill_app] * 6 + [alice.app_href.rsplit("/", 1)[1], "123", "x" * 300],
        "meeting_id": [meeting["onlineMeetingId"]] * 3
        + [their_meeting["onlineMeetingId"], "ABCDEFGH", "abc"],
        "extension_id": ["ext1", "zz"],
    }
    tokens = [bill.token] * 8 + [alice.token, "cwt=abc", "", "x" * 5000]
    fuzz = Fuzzer(random.Random(SEED), path_ids, tokens)
    table = routes(list(ROUTES))
    assert len(table) > 30  # the whole URL table, not an empty walk

    statuses: Counter[int] = Counter()
    for _ in range(REQUESTS):
        template, methods = fuzz.rng.choice(table)
        method = fuzz.rng.choice(methods if fuzz.rng.random() < 0.85 else EXTRA_METHODS)
        path = fuzz.path(template)
        body, content_type = fuzz.body()
        headers = fuzz.headers(content_type)
        response = await client.request(method, path, content=body, headers=headers)
        statuses[response.status_code] += 1
        seen = f"{method} {path} {headers} {body[:200]!r} -> {response.status_code}"
        assert response.status_code < 500, seen + " " + response.text[:300]
        answer_type = response.headers.get("content-type", "")
        if response.status_code >= 400 and response.content and "json" in answer_type:
            assert "code" in response.json() or "error" in response.json(), seen

    # The requests reached the handlers, not only the router and the token check.
    assert sum(n for status, n in statuses.items() if status < 300) > REQUESTS // 20, statuses
    assert statuses[400] > REQUESTS // 50, statuses

    # Still serving: a fuzzed DELETE may have removed Bill's application, so sign in again.
    fresh = await helpers.session("bill", endpoint="after-fuzz")
    again = await client.post(
        fresh.link("onlineMeetings", "myOnlineMeetings"),
        json={"subject": "after"},
        headers=fresh.headers,
    )
    assert again.status_code == 201, again.text

"""Shared fixtures: a migrated SQLite database in a temp dir, the ASGI app wired by the real
composition root (with a controllable clock and cheap password hashing), and an httpx client
that talks to it in-process. ``helpers`` signs users in and creates applications the way a
client would: by following links."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from openucwa.auth.passwords import Passwords
from openucwa.bootstrap import Built, build
from openucwa.domain.clock import FakeClock
from openucwa.domain.users import User
from openucwa.settings import Settings
from openucwa.storage.sql import migrate

BASE = "http://lyncweb.contoso.com"
CHEAP_PASSWORDS = Passwords(time_cost=1, memory_cost=8, parallelism=1)

# (SIP URI, display name, password); fabrikam.com is NOT part of the organisation.
USERS = {
    "bill": ("sip:bmauldin@contoso.com", "Bill Mauldin", "bill-pass"),
    "alice": ("sip:alice@contoso.com", "Alice Ciccu", "alice-pass"),
    "tosh": ("sip:tosh@contoso.com", "Tosh Meston", "tosh-pass"),
}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(datetime.now(UTC).replace(microsecond=0))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        database=f"sqlite:///{tmp_path / 'test.db'}", domains="contoso.com", max_event_wait=1.0
    )


@pytest.fixture
async def built(settings: Settings, clock: FakeClock) -> AsyncIterator[Built]:
    migrate(settings.database)
    result = build(settings, clock=clock, passwords=CHEAP_PASSWORDS)
    await result.storage.start()
    for uri, name, password in USERS.values():
        await result.storage.users.add(
            User(uri=uri, name=name, password_hash=CHEAP_PASSWORDS.hash(password))
        )
    try:
        yield result
    finally:
        result.services.sign_in.close()
        await result.storage.close()


@pytest.fixture
async def client(built: Built) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=built.app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE) as c:
        yield c


@dataclass
class Session:
    """One signed-in user with one application."""

    token: str
    app: dict[str, Any]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    @property
    def app_href(self) -> str:
        return str(self.app["_links"]["self"]["href"])

    def link(self, *path: str) -> str:
        """Follow ``_embedded``/``_links`` from the application, e.g.
        ``link("onlineMeetings", "myOnlineMeetings")``."""
        node: dict[str, Any] = self.app
        for name in path[:-1]:
            node = node["_embedded"][name]
        return str(node["_links"][path[-1]]["href"])


class Helpers:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self.client = client

    async def token(self, who: str) -> str:
        uri, _, password = USERS[who]
        response = await self.client.post(
            "/WebTicket/oauthtoken",
            data={"grant_type": "password", "username": uri[4:], "password": password},
        )
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    async def session(self, who: str, endpoint: str = "endpoint-1") -> Session:
        token = await self.token(who)
        response = await self.client.post(
            "/ucwa/oauth/v1/applications",
            json={"UserAgent": "tests", "EndpointId": endpoint, "Culture": "en-US"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert response.status_code in (200, 201), response.text
        return Session(token=token, app=response.json())


@pytest.fixture
def helpers(client: httpx.AsyncClient) -> Helpers:
    return Helpers(client)

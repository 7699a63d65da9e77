"""Sign-in and application edge cases a hostile or careless client reaches: a burst of
password guesses, scopes, forged Host and X-Forwarded-* values, the per-user cap after
applications expired, and the 204 shape of the capture."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from openucwa.auth.passwords import Passwords
from openucwa.bootstrap import build
from openucwa.cli import main
from openucwa.domain.clock import FakeClock
from openucwa.domain.users import User
from openucwa.settings import Settings
from openucwa.storage.sql import migrate
from tests.api.meetings_support import assert_error, running_app
from tests.conftest import BASE, USERS, Helpers

TOKEN = "/WebTicket/oauthtoken"
USER = "/Autodiscover/AutodiscoverService.svc/root/oauth/user"


def guess(password: str) -> dict[str, str]:
    return {"grant_type": "password", "username": "bmauldin@contoso.com", "password": password}


async def test_a_burst_of_guesses_gets_no_more_checks_than_one_by_one(
    client: httpx.AsyncClient,
) -> None:
    """Five free failures, then the back-off: the right password inside a burst of 60
    concurrent guesses is refused like any other (before, every guess was checked)."""
    passwords = [f"guess-{i}" for i in range(60)]
    passwords[40] = USERS["bill"][2]
    answers = await asyncio.gather(*(client.post(TOKEN, data=guess(p)) for p in passwords))
    assert {a.status_code for a in answers} == {400}
    said = Counter(a.json()["error_description"] for a in answers)
    assert said == {
        "The user name or password is incorrect.": 5,
        "Too many failed attempts; try again later.": 55,
    }


async def test_concurrent_good_sign_ins_all_succeed(client: httpx.AsyncClient) -> None:
    answers = await asyncio.gather(
        *(client.post(TOKEN, data=guess(USERS["bill"][2])) for _ in range(10))
    )
    assert [a.status_code for a in answers] == [200] * 10
    assert len({a.json()["access_token"] for a in answers}) == 10


async def test_a_scope_other_than_all_is_invalid_scope(client: httpx.AsyncClient) -> None:
    for scope, status in (("all", 200), ("ALL", 200), ("", 200), ("bogus", 400)):
        response = await client.post(TOKEN, data={**guess(USERS["bill"][2]), "scope": scope})
        assert response.status_code == status, scope
    assert response.json()["error"] == "invalid_scope"


async def test_forged_host_and_forwarded_values_never_reach_hrefs(
    client: httpx.AsyncClient,
) -> None:
    cases = [
        ({"X-Forwarded-Proto": "javascript"}, "http://lyncweb.contoso.com"),
        ({"X-Forwarded-Proto": "HTTPS"}, "https://lyncweb.contoso.com"),
        ({"X-Forwarded-Host": "meet.contoso.com:8443"}, "http://meet.contoso.com:8443"),
        ({"X-Forwarded-Host": '"evil.example",grant_type="password'}, "http://"),
        ({"Host": "a b"}, "http://"),
        ({"Host": "[::1]:8080"}, "http://[::1]:8080"),
    ]
    for headers, origin in cases:
        root = await client.get("/", headers=headers)
        assert root.status_code == 200
        href = root.json()["_links"]["user"]["href"]
        assert href.startswith(origin + "/") or (origin == "http://" and " " not in href), href
        assert '"' not in href and "javascript" not in href and "evil" not in href
        challenge = (await client.get(USER, headers=headers)).headers["www-authenticate"]
        assert challenge.count('"') == 8 and "evil" not in challenge, challenge


async def test_deleting_an_application_answers_204_with_content_length_0(
    helpers: Helpers,
) -> None:
    bill = await helpers.session("bill")
    response = await helpers.client.delete(bill.app_href, headers=bill.headers)
    assert response.status_code == 204
    assert response.headers["content-length"] == "0" and response.content == b""


async def test_expired_applications_do_not_use_up_the_cap(tmp_path: Path, clock: FakeClock) -> None:
    settings = Settings(
        database=f"sqlite:///{tmp_path / 'cap.db'}",
        max_applications_per_user=2,
        app_idle_timeout=60,
        app_purge_after=3600,
    )
    async with running_app(settings, clock) as (_, helpers):
        first = await helpers.session("bill", "e1")
        await helpers.session("bill", "e2")
        token = first.token
        headers = {"Authorization": f"Bearer {token}"}
        body = {"UserAgent": "t", "EndpointId": "e3", "Culture": "en-US"}
        full = await helpers.client.post("/ucwa/oauth/v1/applications", json=body, headers=headers)
        assert_error(full, 410, "Gone", "TooManyApplications")
        clock.advance(61)  # both expired: 410 for another hour, but nobody can use them
        gone = await helpers.client.get(first.app_href, headers=headers)
        assert_error(gone, 410, "Gone", "InactiveApplicationExpired")
        created = await helpers.client.post(
            "/ucwa/oauth/v1/applications", json=body, headers=headers
        )
        assert created.status_code == 201, created.text
        other = {**body, "EndpointId": "e4"}
        second = await helpers.client.post(
            "/ucwa/oauth/v1/applications", json=other, headers=headers
        )
        assert second.status_code == 201, second.text
        third = await helpers.client.post(
            "/ucwa/oauth/v1/applications", json={**body, "EndpointId": "e5"}, headers=headers
        )
        assert_error(third, 410, "Gone", "TooManyApplications")
        # The expired ones still answer 410 until they are purged.
        still = await helpers.client.get(first.app_href, headers=headers)
        assert_error(still, 410, "Gone", "InactiveApplicationExpired")


async def test_head_of_the_challenge_has_the_length_of_the_get(client: httpx.AsyncClient) -> None:
    for coding in ("identity", "gzip"):
        headers = {"Accept-Encoding": coding}
        async with client.stream("GET", USER, headers=headers) as get:
            raw = b"".join([chunk async for chunk in get.aiter_raw()])
        head = await client.head(USER, headers=headers)
        assert get.status_code == head.status_code == 401
        assert head.content == b"" and len(raw) > 0
        assert head.headers["content-length"] == get.headers["content-length"] == str(len(raw))
        assert head.headers["www-authenticate"] == get.headers["www-authenticate"]


class ChangedWhileChecking(Passwords):
    """Cheap hashing that runs an operator command in the middle of a password check: the
    window a `users passwd` or `users remove` on a live server may fall into."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.during_check: list[str] | None = None

    def verify(self, password_hash: str, password: str) -> bool:
        ok = super().verify(password_hash, password)
        command, self.during_check = self.during_check, None
        if command is not None:
            result = CliRunner().invoke(main, command)
            assert result.exit_code == 0, result.output
        return ok


@pytest.mark.parametrize("command", ["passwd", "remove"])
async def test_a_sign_in_overtaken_by_the_operator_gets_no_lasting_token(
    tmp_path: Path, clock: FakeClock, command: str
) -> None:
    database = f"sqlite:///{tmp_path / 'race.db'}"
    migrate(database)
    passwords = ChangedWhileChecking()
    built = build(Settings(database=database), clock=clock, passwords=passwords)
    await built.storage.start()
    try:
        uri, name, password = USERS["bill"]
        await built.storage.users.add(User(uri, name, passwords.hash(password)))
        extra = ["--password", "new-pass"] if command == "passwd" else []
        passwords.during_check = ["users", command, uri, *extra, "--database", database]
        transport = httpx.ASGITransport(app=built.app)
        async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
            response = await client.post(TOKEN, data=guess(password))
            assert response.status_code == 400, response.text
            assert response.json()["error"] == "invalid_grant"
            live = built.storage.db.fetch_all(
                "SELECT count(*) FROM tokens WHERE subject_uri = ? AND NOT revoked", (uri,)
            )
            assert live == [(0,)]
            if command == "passwd":
                again = await client.post(TOKEN, data=guess("new-pass"))
                assert again.status_code == 200
    finally:
        built.services.sign_in.close()
        await built.storage.close()

"""Sign-in floods that name a different account each time: the per-address throttle and the
bounded queue of password checks. Before, every such guess queued an argon2 check on the
loop's default executor, and a real user's sign-in waited behind all of them."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from openucwa.auth.passwords import ChecksBusy, PasswordChecks, Passwords
from openucwa.bootstrap import Built, build
from openucwa.domain.clock import FakeClock
from openucwa.domain.users import User
from openucwa.settings import Settings, SettingsError, from_env
from openucwa.storage.sql import migrate
from tests.conftest import BASE, CHEAP_PASSWORDS, USERS

TOKEN = "/WebTicket/oauthtoken"
TOO_MANY = "Too many failed attempts; try again later."
WRONG = "The user name or password is incorrect."


class CountingPasswords(Passwords):
    """Cheap hashing that counts the checks made, and can hold them until released."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=8, parallelism=1)
        self.checks = 0
        self._count = threading.Lock()
        self.gate = threading.Event()
        self.gate.set()

    def verify(self, password_hash: str, password: str) -> bool:
        with self._count:
            self.checks += 1
        self.gate.wait(10)
        return super().verify(password_hash, password)


@pytest.fixture
def passwords() -> CountingPasswords:
    return CountingPasswords()


async def _app(settings: Settings, clock: FakeClock, passwords: Passwords) -> Built:
    migrate(settings.database)
    built = build(settings, clock=clock, passwords=passwords)
    await built.storage.start()
    for uri, name, password in USERS.values():
        hashed = CHEAP_PASSWORDS.hash(password)
        await built.storage.users.add(User(uri=uri, name=name, password_hash=hashed))
    return built


@pytest.fixture
async def app(
    settings: Settings, clock: FakeClock, passwords: CountingPasswords
) -> AsyncIterator[Built]:
    built = await _app(settings, clock, passwords)
    try:
        yield built
    finally:
        built.services.sign_in.close()
        await built.storage.close()


def client_at(built: Built, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=built.app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url=BASE)


def stranger(i: int) -> dict[str, str]:
    return {"grant_type": "password", "username": f"nobody{i}@contoso.com", "password": "x"}


def said(response: httpx.Response) -> str:
    assert response.status_code == 400, response.text
    return str(response.json()["error_description"])


async def tally(client: httpx.AsyncClient, n: int, forwarded: bool = False) -> Counter[str]:
    """``n`` failed sign-ins one after another, by what they were told."""
    answers: Counter[str] = Counter()
    for i in range(n):
        headers = {"X-Forwarded-For": f"198.51.100.{i}"} if forwarded else {}
        answers[said(await client.post(TOKEN, data=stranger(i), headers=headers))] += 1
    return answers


def bill(password: str | None = None) -> dict[str, str]:
    return {
        "grant_type": "password",
        "username": "bmauldin@contoso.com",
        "password": password or USERS["bill"][2],
    }


async def test_a_flood_of_different_names_from_one_address_is_cut_at_the_burst(
    app: Built, passwords: CountingPasswords
) -> None:
    async with client_at(app, "203.0.113.7") as attacker:
        answers = await asyncio.gather(
            *(attacker.post(TOKEN, data=stranger(i)) for i in range(200))
        )
    assert {a.status_code for a in answers} == {400}
    assert Counter(said(a) for a in answers) == {
        WRONG: 60,
        TOO_MANY: 140,
    }  # OPENUCWA_SIGNIN_FAILURES_PER_MINUTE
    assert passwords.checks == 60
    async with client_at(app, "198.51.100.1") as someone_else:
        response = await someone_else.post(TOKEN, data=bill())
    assert response.status_code == 200, response.text


async def test_the_address_budget_refills_with_time(
    app: Built, clock: FakeClock, passwords: CountingPasswords
) -> None:
    async with client_at(app, "203.0.113.7") as attacker:
        for i in range(60):
            assert said(await attacker.post(TOKEN, data=stranger(i))) == WRONG
        assert said(await attacker.post(TOKEN, data=stranger(60))) == TOO_MANY
        # Even the right password is not checked while the address has no budget left.
        assert said(await attacker.post(TOKEN, data=bill())) == TOO_MANY
        checks = passwords.checks
        clock.advance(1)  # 60 a minute: one more attempt a second
        assert (await attacker.post(TOKEN, data=bill())).status_code == 200
        assert passwords.checks == checks + 1


async def test_successful_sign_ins_do_not_use_up_the_address(app: Built) -> None:
    async with client_at(app, "192.0.2.10") as office:
        for _ in range(80):
            assert (await office.post(TOKEN, data=bill())).status_code == 200
        assert await tally(office, 61) == {WRONG: 60, TOO_MANY: 1}


@pytest.mark.parametrize("proxies", ["10.0.0.5", "192.0.2.1, 10.0.0.0/24"])
async def test_x_forwarded_for_counts_only_from_a_trusted_proxy(
    settings: Settings, clock: FakeClock, passwords: CountingPasswords, proxies: str
) -> None:
    trusted = replace(settings, trusted_proxies=proxies)
    built = await _app(trusted, clock, passwords)
    try:
        async with client_at(built, "10.0.0.5") as proxy:
            # Through the proxy, each forwarded client has a budget of its own ...
            for n in range(3):
                for i in range(60):
                    headers = {"X-Forwarded-For": f"spoofed, 203.0.113.{n}"}
                    assert said(await proxy.post(TOKEN, data=stranger(i), headers=headers)) == WRONG
            # ... and a chain ending in the proxy itself names the hop before it.
            headers = {"X-Forwarded-For": "203.0.113.0, 10.0.0.5"}
            assert said(await proxy.post(TOKEN, data=stranger(0), headers=headers)) == TOO_MANY
        async with client_at(built, "203.0.113.99") as direct:
            # A client that is not a trusted proxy cannot pick its address by header.
            assert await tally(direct, 61, forwarded=True) == {WRONG: 60, TOO_MANY: 1}
    finally:
        built.services.sign_in.close()
        await built.storage.close()


async def test_checks_past_the_queue_answer_503_and_the_server_recovers(
    settings: Settings, clock: FakeClock, passwords: CountingPasswords
) -> None:
    small = replace(settings, signin_workers=1, signin_queue=2)
    built = await _app(small, clock, passwords)
    try:
        passwords.gate.clear()  # the first check holds its worker
        clients = [client_at(built, f"203.0.113.{i}") for i in range(10)]
        attempts = [
            asyncio.create_task(c.post(TOKEN, data=stranger(i))) for i, c in enumerate(clients)
        ]
        done, pending = await asyncio.wait(attempts, timeout=5, return_when="FIRST_COMPLETED")
        while len(done) < 7:  # seven answer at once; three hold the worker and the queue
            more, pending = await asyncio.wait(pending, timeout=5, return_when="FIRST_COMPLETED")
            assert more, "the refused attempts should not wait for the worker"
            done |= more
        assert len(done) == 7 and len(pending) == 3
        for task in done:
            busy = task.result()
            assert busy.status_code == 503
            assert busy.headers["retry-after"] == "1"
            assert busy.headers["cache-control"] == "no-store"
            assert busy.json() == {
                "error": "temporarily_unavailable",
                "error_description": "Too many sign-ins at once; try again shortly.",
            }
        passwords.gate.set()
        held = await asyncio.gather(*pending)
        assert [r.status_code for r in held] == [400, 400, 400]
        # A refused attempt took nothing from its address: that budget is whole.
        refused = clients[attempts.index(next(iter(done)))]
        assert await tally(refused, 61) == {WRONG: 60, TOO_MANY: 1}
        async with client_at(built, "198.51.100.1") as user:
            assert (await user.post(TOKEN, data=bill())).status_code == 200
        for c in clients:
            await c.aclose()
    finally:
        passwords.gate.set()
        built.services.sign_in.close()
        await built.storage.close()


async def test_a_caller_that_goes_away_keeps_its_check_counted_until_it_ends() -> None:
    hold = threading.Event()

    class Slow(Passwords):
        def verify(self, password_hash: str, password: str) -> bool:
            hold.wait(10)
            return False

    checks = PasswordChecks(Slow(time_cost=1, memory_cost=8, parallelism=1), workers=1, queue=0)
    try:
        first = asyncio.create_task(checks.verify("hash", "pw"))
        await asyncio.sleep(0.05)
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        with pytest.raises(ChecksBusy):  # the thread is still busy with the first check
            await checks.verify("hash", "pw")
        hold.set()
        for _ in range(100):
            await asyncio.sleep(0.01)
            try:
                assert await checks.verify("hash", "pw") is False
                break
            except ChecksBusy:
                continue
        else:
            pytest.fail("the finished check was never released")
    finally:
        hold.set()
        checks.close()


def test_the_sign_in_settings_are_read_and_checked(tmp_path: Path) -> None:
    env = {
        "OPENUCWA_SIGNIN_QUEUE": "0",
        "OPENUCWA_SIGNIN_WORKERS": "3",
        "OPENUCWA_SIGNIN_FAILURES_PER_MINUTE": "10",
        "OPENUCWA_TRUSTED_PROXIES": " 10.0.0.5, ::1 ,",
    }
    settings = from_env(env)
    assert (settings.signin_queue, settings.signin_workers) == (0, 3)
    assert settings.signin_failures_per_minute == 10
    assert settings.trusted_proxy_set == {"10.0.0.5", "::1"}
    for name, value in (
        ("OPENUCWA_SIGNIN_QUEUE", "-1"),
        ("OPENUCWA_SIGNIN_WORKERS", "0"),
        ("OPENUCWA_SIGNIN_FAILURES_PER_MINUTE", "0"),
    ):
        with pytest.raises(SettingsError, match=name):
            from_env({name: value})

"""The SQLite engine (storage/sql/engine.py): group commit, per-write failure isolation inside a
batch, durability across close/reopen, refusing an unmigrated, newer or unusable database, and a
bounded wait for another process's write lock.

Writes run on the event loop and are committed together: every write issued in one turn of the
loop joins the same transaction, so writes started by one ``gather`` go out as one batch.
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from openucwa.domain.errors import Conflict, ServiceUnavailable
from openucwa.domain.users import User
from openucwa.storage.sql import SqliteStorage, migrate
from openucwa.storage.sql.engine import (
    DatabaseInUse,
    UnusableDatabase,
    lock_for_server,
    pending_migrations,
)
from tests.storage.support import as_if_from_a_newer_version


def url_in(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'engine.db'}"


@pytest.fixture
async def storage(tmp_path: Path) -> AsyncIterator[SqliteStorage]:
    migrate(url_in(tmp_path))
    store = SqliteStorage(url_in(tmp_path))
    await store.start()
    try:
        yield store
    finally:
        await store.close()


def person(n: int) -> User:
    return User(uri=f"sip:user{n}@contoso.com", name=f"User {n}", password_hash="h")


class Gate:
    """A first write of the batch (a marker), and a step that runs after every write of the
    same gather() was issued."""

    def hold(self, conn: sqlite3.Connection) -> str:
        return "gate"

    async def open(self) -> None:
        await asyncio.sleep(0)


async def test_concurrent_writes_are_committed_in_groups(storage: SqliteStorage) -> None:
    gate = Gate()
    before = storage.db.commits
    results = await asyncio.gather(
        storage.db.write(gate.hold),
        *(storage.users.add(person(n)) for n in range(200)),
        gate.open(),
    )
    assert results[0] == "gate" and results[1:] == [None] * 201
    commits = storage.db.commits - before
    assert 1 <= commits <= 2 < 201
    assert len(await storage.users.list()) == 200


async def test_unsynchronised_concurrent_writes_all_land(storage: SqliteStorage) -> None:
    before = storage.db.commits
    await asyncio.gather(*(storage.users.add(person(n)) for n in range(200)))
    assert len(await storage.users.list()) == 200
    assert storage.db.commits - before < 200


async def test_a_failing_write_fails_alone_inside_its_batch(storage: SqliteStorage) -> None:
    await storage.users.add(person(0))
    gate = Gate()

    def half_then_fail(conn: sqlite3.Connection) -> None:
        conn.execute(
            "INSERT INTO users (uri, user_part, name, password_hash) VALUES (?, ?, ?, ?)",
            ("sip:ghost@contoso.com", "ghost", "Ghost", "h"),
        )
        raise ValueError("boom")

    before = storage.db.commits
    results = await asyncio.gather(
        storage.db.write(gate.hold),
        storage.users.add(person(1)),
        storage.db.write(half_then_fail),
        storage.users.add(person(0)),  # duplicate: Conflict, from an IntegrityError
        storage.users.add(person(2)),
        gate.open(),
        return_exceptions=True,
    )
    assert results[0] == "gate" and results[1] is None and results[4] is None
    assert isinstance(results[2], ValueError) and str(results[2]) == "boom"
    assert isinstance(results[3], Conflict) and results[3].subcode == "AlreadyExists"
    assert storage.db.commits - before <= 2  # the gate's batch, then everything else at once
    uris = [u.uri for u in await storage.users.list()]
    assert uris == ["sip:user0@contoso.com", "sip:user1@contoso.com", "sip:user2@contoso.com"]


async def test_write_returns_the_function_result(storage: SqliteStorage) -> None:
    def count(conn: sqlite3.Connection) -> int:
        return int(conn.execute("SELECT count(*) FROM users").fetchone()[0])

    await storage.users.add(person(1))
    assert await storage.db.write(count) == 1


async def test_data_survives_close_and_reopen(tmp_path: Path) -> None:
    migrate(url_in(tmp_path))
    first = SqliteStorage(url_in(tmp_path))
    await first.start()
    await asyncio.gather(*(first.users.add(person(n)) for n in range(20)))
    await first.close()
    second = SqliteStorage(url_in(tmp_path))
    await second.start()
    try:
        assert [u.uri for u in await second.users.list()] == sorted(
            person(n).uri for n in range(20)
        )
        assert await second.users.get(person(7).uri) == person(7)
    finally:
        await second.close()


async def test_close_is_idempotent(tmp_path: Path) -> None:
    migrate(url_in(tmp_path))
    store = SqliteStorage(url_in(tmp_path))
    await store.start()
    await store.close()
    await store.close()


async def test_start_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    store = SqliteStorage(url_in(tmp_path))
    with pytest.raises(RuntimeError, match="openucwa migrate") as caught:
        await store.start()
    assert "engine.db" in str(caught.value)


def test_migrate_is_idempotent(tmp_path: Path) -> None:
    assert migrate(url_in(tmp_path))  # applies everything on a new file
    assert migrate(url_in(tmp_path)) == []


@pytest.mark.parametrize("url", ["postgresql://x/y", "sqlite://relative.db", "sqlite:///"])
def test_bad_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError):
        SqliteStorage(url)


async def test_a_write_waits_for_another_process_lock_without_blocking_the_loop(
    storage: SqliteStorage, tmp_path: Path
) -> None:
    other = sqlite3.connect(tmp_path / "engine.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # as `openucwa users add` would, from another process
    write = asyncio.create_task(storage.users.add(person(7)))
    ticks = 0
    for _ in range(5):  # the loop keeps running while the write waits for the lock
        await asyncio.sleep(0.01)
        ticks += 1
    assert ticks == 5 and not write.done()
    other.execute("COMMIT")
    other.close()
    await asyncio.wait_for(write, timeout=5)
    assert [u.uri for u in await storage.users.list()] == ["sip:user7@contoso.com"]


async def test_a_broken_transaction_fails_its_writes_instead_of_hanging(
    storage: SqliteStorage,
) -> None:
    def breaks_the_transaction(conn: sqlite3.Connection) -> None:
        conn.execute("COMMIT")  # ends the batch's transaction: RELEASE then fails

    results = await asyncio.wait_for(
        asyncio.gather(
            storage.db.write(breaks_the_transaction),
            storage.users.add(person(8)),
            return_exceptions=True,
        ),
        timeout=5,
    )
    assert all(isinstance(r, sqlite3.Error) for r in results), results
    await storage.users.add(person(9))  # the engine goes on
    assert [u.uri for u in await storage.users.list()] == ["sip:user9@contoso.com"]


async def test_a_job_that_ends_the_transaction_itself_fails_its_batch(
    storage: SqliteStorage,
) -> None:
    def commits_on_its_own(conn: sqlite3.Connection) -> None:
        conn.execute("COMMIT")  # no SAVEPOINT around it: the batch's COMMIT finds nothing open

    results = await asyncio.wait_for(
        asyncio.gather(
            storage.db.write(commits_on_its_own, isolated=False),
            storage.users.add(person(8)),
            return_exceptions=True,
        ),
        timeout=5,
    )
    assert all(isinstance(r, sqlite3.OperationalError) for r in results), results
    assert "no transaction is active" in str(results[0])
    await storage.users.add(person(9))  # the engine goes on
    assert "sip:user9@contoso.com" in [u.uri for u in await storage.users.list()]


async def test_a_write_gives_up_after_the_busy_timeout_and_is_never_committed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    migrate(url_in(tmp_path))
    store = SqliteStorage(url_in(tmp_path), busy_timeout=0.3)
    await store.start()
    other = sqlite3.connect(tmp_path / "engine.db", isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # e.g. a second process, or sqlite3 at the console
    try:
        first = asyncio.create_task(store.users.add(person(1)))
        await asyncio.sleep(0.15)
        second = asyncio.create_task(store.users.add(person(2)))  # its own, later, deadline
        with pytest.raises(ServiceUnavailable):
            await asyncio.wait_for(first, timeout=5)
        assert not second.done()
        with pytest.raises(ServiceUnavailable):
            await asyncio.wait_for(second, timeout=5)
        third = asyncio.create_task(store.users.add(person(3)))
        await asyncio.sleep(0.05)
    finally:
        other.execute("ROLLBACK")
        other.close()
    await asyncio.wait_for(third, timeout=5)  # the lock is gone: the engine goes on
    assert [u.uri for u in await store.users.list()] == [person(3).uri]
    await store.close()
    logged = [r.getMessage() for r in caplog.records if r.name == "openucwa.storage"]
    assert len(logged) == 1, logged  # rate-limited: one line for both refusals
    assert "locked by another process" in logged[0] and "engine.db" in logged[0]


async def test_close_waits_no_longer_than_the_busy_timeout(tmp_path: Path) -> None:
    migrate(url_in(tmp_path))
    store = SqliteStorage(url_in(tmp_path), busy_timeout=0.2)
    await store.start()
    other = sqlite3.connect(tmp_path / "engine.db", isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")
    try:
        write = asyncio.create_task(store.users.add(person(1)))
        await asyncio.sleep(0)
        await asyncio.wait_for(store.close(), timeout=5)  # as on SIGTERM
        with pytest.raises(ServiceUnavailable):
            await write
    finally:
        other.execute("ROLLBACK")
        other.close()


@pytest.mark.parametrize("url", ["sqlite:///:memory:"])
def test_an_in_memory_database_is_refused(url: str) -> None:
    with pytest.raises(UnusableDatabase, match="in-memory"):
        SqliteStorage(url)


def test_a_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UnusableDatabase, match="is a directory"):
        migrate(f"sqlite:///{tmp_path}")


def test_a_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    (tmp_path / "engine.db").write_text("hello\n")
    with pytest.raises(UnusableDatabase, match="file is not a database"):
        migrate(url_in(tmp_path))
    with pytest.raises(UnusableDatabase, match="file is not a database"):
        pending_migrations(url_in(tmp_path))


async def test_a_database_from_a_newer_version_is_refused(tmp_path: Path) -> None:
    migrate(url_in(tmp_path))
    as_if_from_a_newer_version(tmp_path / "engine.db")
    newer = "migrations this version of openucwa does not know \\(0099_future\\)"
    with pytest.raises(UnusableDatabase, match=newer):
        migrate(url_in(tmp_path))
    with pytest.raises(UnusableDatabase, match=newer):
        pending_migrations(url_in(tmp_path))
    with pytest.raises(UnusableDatabase, match=newer):
        await SqliteStorage(url_in(tmp_path)).start()


def test_one_server_lock_per_database_file(tmp_path: Path) -> None:
    held = lock_for_server(url_in(tmp_path))
    try:
        with pytest.raises(DatabaseInUse, match=f"pid {os.getpid()}"):
            lock_for_server(url_in(tmp_path))
    finally:
        held.close()
    lock_for_server(url_in(tmp_path)).close()  # free again once the holder let go


async def test_a_transaction_rolled_back_under_a_job_fails_the_whole_batch(
    storage: SqliteStorage,
) -> None:
    """On an I/O error or a full disk SQLite rolls the whole transaction back inside the
    failing statement. Before, the batch went on: the writes before it were undone while their
    callers waited for the COMMIT, and each write after it committed on its own, answered with
    an error yet stored."""

    def rolled_back(conn: sqlite3.Connection) -> None:  # as SQLite does on SQLITE_IOERR
        conn.execute("ROLLBACK")
        raise sqlite3.OperationalError("disk I/O error")

    results = await asyncio.wait_for(
        asyncio.gather(
            storage.users.add(person(1)),
            storage.db.write(rolled_back, isolated=False),
            storage.users.add(person(2)),
            return_exceptions=True,
        ),
        timeout=5,
    )
    assert all(isinstance(r, sqlite3.OperationalError) for r in results), results
    assert await storage.users.list() == []  # nothing answered with an error is stored
    await storage.users.add(person(3))  # the engine goes on
    assert [u.uri for u in await storage.users.list()] == ["sip:user3@contoso.com"]

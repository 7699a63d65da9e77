"""SQLite engine: one writer thread that commits concurrent writes together, one reader.

Why a writer thread: sqlite3 calls block, and a durable commit (WAL, ``synchronous=FULL``) costs
an fsync. Every write is a function run on the writer thread inside its own SAVEPOINT; all the
writes that queued up while the previous commit was syncing are committed by one COMMIT (group
commit). A caller's future resolves only after that COMMIT returned, so an acknowledged write is
on disk. A failing write rolls back to its savepoint and fails alone.

Reads run on the event-loop thread on a separate connection: a primary-key lookup costs a few
microseconds, far less than a hop to another thread. WAL lets them proceed while a commit is
being written.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from yoyo import get_backend, read_migrations

T = TypeVar("T")
MIGRATIONS = Path(__file__).parent / "migrations"
_STOP = object()
MAX_BATCH = 512


def sqlite_path(url: str) -> str:
    """``sqlite:///var/openucwa.db`` -> ``var/openucwa.db``; ``sqlite:////abs`` -> ``/abs``."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        raise ValueError(f"not a sqlite URL: {url!r} (expected sqlite:///path)")
    path = url[len(prefix) :]
    if not path:
        raise ValueError("the sqlite URL names no file")
    return path


def migrate(url: str) -> list[str]:
    """Apply pending migrations; return the ids applied."""
    path = sqlite_path(url)
    if path != ":memory:":
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    backend = get_backend(f"sqlite:///{path}")
    migrations = read_migrations(str(MIGRATIONS))
    applied: list[str] = []
    with backend.lock():
        pending = backend.to_apply(migrations)
        applied = [m.id for m in pending]
        backend.apply_migrations(pending)
    return applied


def pending_migrations(url: str) -> list[str]:
    backend = get_backend(f"sqlite:///{sqlite_path(url)}")
    return [m.id for m in backend.to_apply(read_migrations(str(MIGRATIONS)))]


def _connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


class SqliteDatabase:
    def __init__(self, url: str) -> None:
        self.path = sqlite_path(url)
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._reader: sqlite3.Connection | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self.commits = 0
        self.failed_commits = 0  # writer-thread state derived from the data resets on change

    async def start(self) -> None:
        pending = pending_migrations(f"sqlite:///{self.path}")
        if pending:
            raise RuntimeError(
                f"database {self.path} needs migrating ({', '.join(pending)}): "
                "run `openucwa migrate` first"
            )
        self._loop = asyncio.get_running_loop()
        self._reader = _connect(self.path)
        self._reader.execute("PRAGMA query_only=ON")
        writer = _connect(self.path)
        self._thread = threading.Thread(
            target=self._run_writer, args=(writer,), name="sqlite-writer", daemon=True
        )
        self._thread.start()

    async def close(self) -> None:
        if self._thread is not None:
            self._queue.put(_STOP)
            await asyncio.to_thread(self._thread.join)
            self._thread = None
        if self._reader is not None:
            self._reader.close()
            self._reader = None

    # -- reads ---------------------------------------------------------------------------

    def fetch_all(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        assert self._reader is not None, "database not started"
        return self._reader.execute(sql, args).fetchall()

    def fetch_one(self, sql: str, args: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
        rows = self.fetch_all(sql, args)
        return rows[0] if rows else None

    # -- writes --------------------------------------------------------------------------

    async def write(self, fn: Callable[[sqlite3.Connection], T], isolated: bool = True) -> T:
        """Run ``fn`` on the writer thread; return once the transaction holding it committed.
        ``isolated=False`` skips the job's SAVEPOINT: only for jobs that change nothing when
        they raise (a single INSERT, or checks before it)."""
        assert self._loop is not None, "database not started"
        future: asyncio.Future[T] = self._loop.create_future()
        self._queue.put((fn, future, isolated))
        return await future

    def _run_writer(self, conn: sqlite3.Connection) -> None:
        stopping = False
        try:
            while not stopping:
                first = self._queue.get()
                if first is _STOP:
                    break
                batch = [first]
                while len(batch) < MAX_BATCH:
                    try:
                        job = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if job is _STOP:
                        stopping = True
                        break
                    batch.append(job)
                self._deliver(self._commit(conn, batch))
        finally:
            conn.close()

    def _commit(
        self, conn: sqlite3.Connection, batch: list[tuple[Callable[[Any], Any], Any, bool]]
    ) -> list[tuple[Any, Any, BaseException | None]]:
        outcomes: list[tuple[Any, Any, BaseException | None]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for fn, future, isolated in batch:
                if not isolated:
                    try:
                        outcomes.append((future, fn(conn), None))
                    except Exception as exc:  # changed nothing: fails alone
                        outcomes.append((future, None, exc))
                    continue
                conn.execute("SAVEPOINT job")
                try:
                    result = fn(conn)
                except Exception as exc:  # the job fails alone
                    conn.execute("ROLLBACK TO job")
                    conn.execute("RELEASE job")
                    outcomes.append((future, None, exc))
                else:
                    conn.execute("RELEASE job")
                    outcomes.append((future, result, None))
            conn.execute("COMMIT")
            self.commits += 1
        except Exception as exc:  # the commit itself failed: nothing of the batch is durable
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            self.failed_commits += 1
            return [(future, None, exc) for _, future, _ in batch]
        return outcomes

    def _deliver(self, outcomes: list[tuple[Any, Any, BaseException | None]]) -> None:
        assert self._loop is not None
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
            self._loop.call_soon_threadsafe(_resolve, outcomes)


def _resolve(outcomes: list[tuple[Any, Any, BaseException | None]]) -> None:
    for future, result, error in outcomes:
        if future.done():
            continue
        if error is None:
            future.set_result(result)
        else:
            future.set_exception(error)

"""SQLite engine: writes are run on the event loop and committed together by a commit thread.

Why: a durable commit (WAL, ``synchronous=FULL``) costs an fsync, and sqlite3 calls block.
Each write is a function run on the event-loop thread inside its own SAVEPOINT of the open
transaction — the SQL of one write takes microseconds, less than a hop to another thread and
back for every statement. Only ``COMMIT`` (the fsync) runs on the commit thread. While a commit
is in flight, new writes wait; when it returns, everything that waited goes into the next
transaction: concurrent writes share one fsync (group commit) without weakening durability. A
caller's future resolves only after the COMMIT holding its write returned. A failing write rolls
back to its savepoint and fails alone; a failing COMMIT fails its whole batch.

Reads run on the event-loop thread on a separate connection: a primary-key lookup costs a few
microseconds, and WAL lets it proceed while a commit is being written.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any, TypeVar

from yoyo import get_backend, read_migrations

from openucwa.domain.errors import ServiceUnavailable

T = TypeVar("T")
MIGRATIONS = Path(__file__).parent / "migrations"
log = logging.getLogger("openucwa.storage")
BUSY_LOG_INTERVAL = 60.0  # seconds between log lines about a database locked for too long
DATABASE_BUSY = "The database is busy. Please try again later."
DATABASE_GONE = "The database is unavailable. Please try again later."


class UnusableDatabase(ValueError):
    """A database URL or file that openucwa cannot use; the message says why, in one line."""


def sqlite_path(url: str) -> str:
    """``sqlite:///var/openucwa.db`` -> ``var/openucwa.db``; ``sqlite:////abs`` -> ``/abs``."""
    prefix = "sqlite:///"
    if not url.startswith(prefix):
        raise UnusableDatabase(
            f"not a sqlite URL: {url!r} (expected sqlite:///relative/path.db"
            " or sqlite:////absolute/path.db)"
        )
    path = url[len(prefix) :]
    if not path:
        raise UnusableDatabase(f"the sqlite URL {url!r} names no file")
    if path == ":memory:":  # each connection would get a database of its own, lost at exit
        raise UnusableDatabase("an in-memory database (sqlite:///:memory:) is not supported")
    if Path(path).is_dir():
        raise UnusableDatabase(f"{path} is a directory, not a database file")
    return path


@contextlib.contextmanager
def _opening(path: str) -> Iterator[None]:
    """SQLite's errors while looking at a file (not a database, unreadable) as one line."""
    try:
        yield
    except sqlite3.DatabaseError as exc:
        raise UnusableDatabase(f"cannot use {path} as a database: {exc}") from None


def _schema(path: str) -> tuple[Any, Any]:
    """yoyo's backend for the file and this version's migrations; refuses a database that
    holds migrations this version does not know (it was made by a newer openucwa, and this
    code would fail on tables it does not understand)."""
    backend = get_backend(f"sqlite:///{path}")
    migrations = read_migrations(str(MIGRATIONS))
    known = {m.hash for m in migrations}
    backend.ensure_internal_schema_updated()  # creates yoyo's tables in a new file
    applied = backend.execute(
        f"SELECT migration_hash, migration_id FROM {backend.migration_table_quoted}"
        " ORDER BY applied_at_utc"
    ).fetchall()
    unknown = [migration_id for hash_, migration_id in applied if hash_ not in known]
    if unknown:
        raise UnusableDatabase(
            f"the database has migrations this version of openucwa does not know"
            f" ({', '.join(unknown)}): use a newer openucwa"
        )
    return backend, migrations


class DatabaseInUse(UnusableDatabase):
    """Another ``openucwa serve`` holds the database's lock file."""


def lock_for_server(url: str) -> IO[str]:
    """Take ``<database>.lock`` (an exclusive ``flock``, held until the file is closed or the
    process ends) and write this process's id into it. One server process per database file:
    its write-through caches (storage/cached.py) assume no other server changes the data."""
    path = sqlite_path(url)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    try:
        lock = open(f"{path}.lock", "a+")  # noqa: SIM115 - held for the process's life
    except OSError as exc:
        raise UnusableDatabase(f"cannot open {path}.lock: {exc.strerror}") from None
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        lock.seek(0)
        holder = lock.read().strip()
        lock.close()
        raise DatabaseInUse(
            f"another openucwa server{f' (pid {holder})' if holder else ''} is serving {path}"
        ) from None
    lock.truncate(0)
    lock.write(f"{os.getpid()}\n")
    lock.flush()
    return lock


def migrate(url: str) -> list[str]:
    """Apply pending migrations; return the ids applied."""
    path = sqlite_path(url)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with _opening(path):
        backend, migrations = _schema(path)
    applied: list[str] = []
    with backend.lock():
        pending = backend.to_apply(migrations)
        applied = [m.id for m in pending]
        backend.apply_migrations(pending)
    return applied


def pending_migrations(url: str) -> list[str]:
    path = sqlite_path(url)
    with _opening(path):
        backend, migrations = _schema(path)
        return [m.id for m in backend.to_apply(migrations)]


def _connect(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA busy_timeout=30000")
    # 64 MiB of page cache per connection (SQLite's default is 2 MiB): new meetings land on
    # random primary-key pages, and once the index outgrew the cache each insert read a page
    # back from the OS (measured in-process at 60,000 meetings: 134 -> 112 us per POST).
    conn.execute("PRAGMA cache_size=-65536")
    return conn


Outcomes = list[tuple[asyncio.Future[Any], Any, BaseException | None]]


class _CommitThread:
    """One thread that runs each batch's COMMIT (the fsync) and hands the outcome back to the
    event loop. A plain thread on a queue rather than a one-worker ThreadPoolExecutor: the
    executor's futures, conditions and callbacks cost, per commit, more than the hop itself
    (measured side by side on one CPU, bench/ab.py: +4 % meeting POSTs per second)."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        done: Callable[[BaseException | None, Outcomes], None],  # called on the loop
    ) -> None:
        self._loop = loop
        self._done = done
        self._batches: queue.SimpleQueue[tuple[sqlite3.Connection, Outcomes] | None]
        self._batches = queue.SimpleQueue()
        # A daemon: a process that exits without closing the database is not held up by it
        # (a COMMIT cut short is not acknowledged, and SQLite never counts it as committed).
        self._thread = threading.Thread(target=self._run, name="sqlite-commit", daemon=True)
        self._thread.start()

    def commit(self, conn: sqlite3.Connection, outcomes: Outcomes) -> None:
        self._batches.put((conn, outcomes))

    def stop(self) -> None:
        """After the last batch's outcome was delivered (SqliteDatabase.close waits for it)."""
        self._batches.put(None)
        self._thread.join()

    def _run(self) -> None:
        while (batch := self._batches.get()) is not None:
            conn, outcomes = batch
            error: BaseException | None = None
            try:
                _commit(conn)
            except BaseException as exc:  # noqa: BLE001 - handed to the batch's writers
                error = exc
            try:
                self._loop.call_soon_threadsafe(self._done, error, outcomes)
            except RuntimeError:  # the loop is closed: nobody is waiting any more
                return


def _identity(path: str) -> tuple[int, int] | None:
    """Which file ``path`` names now (``None``: none): a ``stat`` per batch, ~1 us."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _commit(conn: sqlite3.Connection) -> None:
    """COMMIT on the commit thread. ``Connection.commit`` prepares, steps and finalizes the
    statement inside one release of the GIL; ``execute("COMMIT")`` takes the statement cache
    and the cursor path first (measured in alternating runs: ~3 % more meeting POSTs per
    second). Unlike ``execute``, ``commit`` does nothing when no transaction is open, which
    here would mean a job ended it: that is refused as ``execute`` would refuse it."""
    if not conn.in_transaction:
        raise sqlite3.OperationalError("cannot commit - no transaction is active")
    conn.commit()


class SqliteDatabase:
    """``busy_timeout``: seconds a write waits for another process's write lock before it
    fails with ``ServiceUnavailable`` (nothing of it committed)."""

    def __init__(self, url: str, busy_timeout: float = 10.0) -> None:
        self.path = sqlite_path(url)
        self.busy_timeout = busy_timeout
        # While another process holds the write lock: when each waiting write gives up.
        self._deadlines: dict[asyncio.Future[Any], float] = {}
        self._busy_logged = -BUSY_LOG_INTERVAL
        self._busy_refused = 0  # writes refused since the last log line
        self._file: tuple[int, int] | None = None  # (st_dev, st_ino) of the file opened
        self._gone_logged = -BUSY_LOG_INTERVAL
        self._reader: sqlite3.Connection | None = None
        self._writer: sqlite3.Connection | None = None
        self._committer: _CommitThread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._waiting: list[tuple[Callable[[sqlite3.Connection], Any], asyncio.Future[Any], bool]]
        self._waiting = []
        self._committing = False
        self._scheduled = False
        self._idle = asyncio.Event()
        self.commits = 0
        self.failed_commits = 0  # state derived from the data (counts) resets when one fails

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
        self._writer = _connect(self.path)
        # Never block the event loop on another process's write lock: BEGIN fails at once
        # and the batch is retried shortly, up to busy_timeout (see _wait_for_lock).
        self._writer.execute("PRAGMA busy_timeout=0")
        self._file = _identity(self.path)
        self._committer = _CommitThread(self._loop, self._committed)
        self._idle = asyncio.Event()
        self._idle.set()

    async def close(self) -> None:
        while self._waiting or self._committing or self._scheduled:
            self._idle.clear()
            await self._idle.wait()
        if self._committer is not None:
            self._committer.stop()
            self._committer = None
        for conn in (self._writer, self._reader):
            if conn is not None:
                conn.close()
        self._writer = self._reader = None

    # -- reads ---------------------------------------------------------------------------

    def fetch_all(self, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        assert self._reader is not None, "database not started"
        return self._reader.execute(sql, args).fetchall()

    def fetch_one(self, sql: str, args: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
        rows = self.fetch_all(sql, args)
        return rows[0] if rows else None

    # -- writes --------------------------------------------------------------------------

    async def write(self, fn: Callable[[sqlite3.Connection], T], isolated: bool = True) -> T:
        """Run ``fn`` in the next transaction; return once that transaction committed.
        ``isolated=False`` skips the job's SAVEPOINT: only for jobs that change nothing when
        they raise (a single INSERT, or checks before it). ``fn`` must not block."""
        assert self._loop is not None and self._writer is not None, "database not started"
        future: asyncio.Future[T] = self._loop.create_future()
        self._waiting.append((fn, future, isolated))
        self._schedule()
        return await future

    def _schedule(self, delay: float = 0.0) -> None:
        if self._committing or self._scheduled or not self._waiting:
            return
        assert self._loop is not None
        self._scheduled = True
        # call_soon: every write issued in this turn of the loop joins the same transaction.
        if delay:
            self._loop.call_later(delay, self._run_batch)
        else:
            self._loop.call_soon(self._run_batch)

    def _run_batch(self) -> None:
        self._scheduled = False
        if self._committing or not self._waiting:
            self._wake_closers()
            return
        conn = self._writer
        assert conn is not None and self._committer is not None and self._loop is not None
        if _identity(self.path) != self._file:
            self._refuse_gone(self._take_waiting())
            return
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):  # another process writes
                self._wait_for_lock()
                return
            self._fail(self._take_waiting(), exc)
            return
        self._deadlines.clear()
        batch = self._take_waiting()
        outcomes: Outcomes = []
        try:
            for fn, future, isolated in batch:
                result, error = self._run_job(conn, fn, isolated)
                if not conn.in_transaction:
                    # SQLite rolled the whole transaction back (an I/O error, a full disk):
                    # the writes before are undone, and those after would each commit alone.
                    raise error or sqlite3.OperationalError(
                        "no transaction is active after a write"
                    )
                outcomes.append((future, result, error))
        except Exception as exc:  # the connection itself failed: nothing of the batch stands
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            self.failed_commits += 1
            self._fail(batch, exc)
            return
        self._committing = True
        self._committer.commit(conn, outcomes)

    def _wait_for_lock(self) -> None:
        """Retry shortly; a write that has waited ``busy_timeout`` leaves the queue and fails
        with ServiceUnavailable, so it can never be committed after its caller gave up."""
        assert self._loop is not None
        now = self._loop.time()
        waiting: list[tuple[Callable[[sqlite3.Connection], Any], asyncio.Future[Any], bool]] = []
        expired: list[tuple[Callable[[sqlite3.Connection], Any], asyncio.Future[Any], bool]] = []
        for job in self._waiting:
            deadline = self._deadlines.setdefault(job[1], now + self.busy_timeout)
            (expired if deadline <= now else waiting).append(job)
        self._waiting = waiting
        self._schedule(delay=0.005)
        if not expired:
            return
        self._busy_refused += len(expired)
        if now - self._busy_logged >= BUSY_LOG_INTERVAL:
            log.error(
                "database %s is locked by another process: %d write(s) refused after waiting"
                " %gs for it (OPENUCWA_DATABASE_BUSY_TIMEOUT)",
                self.path,
                self._busy_refused,
                self.busy_timeout,
            )
            self._busy_logged, self._busy_refused = now, 0
        for _, future, _ in expired:
            del self._deadlines[future]
            if not future.done():
                future.set_exception(ServiceUnavailable(message=DATABASE_BUSY))
        self._wake_closers()

    def _refuse_gone(
        self, batch: list[tuple[Callable[[sqlite3.Connection], Any], asyncio.Future[Any], bool]]
    ) -> None:
        """The file this server opened was deleted, moved or replaced under it. SQLite would
        go on committing into the open (now nameless) file, whose writes the next start would
        never see: every write is refused instead, and reads go on from what was committed."""
        assert self._loop is not None
        now = self._loop.time()
        if now - self._gone_logged >= BUSY_LOG_INTERVAL:
            log.error(
                "database %s was deleted, moved or replaced while the server ran: writes are"
                " refused (503) until the server is restarted on the file it should use",
                self.path,
            )
            self._gone_logged = now
        self._fail(batch, ServiceUnavailable(message=DATABASE_GONE))

    def _take_waiting(
        self,
    ) -> list[tuple[Callable[[sqlite3.Connection], Any], asyncio.Future[Any], bool]]:
        batch, self._waiting = self._waiting, []
        return batch

    @staticmethod
    def _run_job(
        conn: sqlite3.Connection, fn: Callable[[sqlite3.Connection], Any], isolated: bool
    ) -> tuple[Any, BaseException | None]:
        """One write: its result, or the error it failed with alone (its changes undone)."""
        if not isolated:
            try:
                return fn(conn), None
            except Exception as exc:  # changed nothing
                return None, exc
        conn.execute("SAVEPOINT job")
        try:
            result = fn(conn)
        except Exception as exc:
            conn.execute("ROLLBACK TO job")
            conn.execute("RELEASE job")
            return None, exc
        conn.execute("RELEASE job")
        return result, None

    def _fail(
        self,
        batch: list[tuple[Callable[[sqlite3.Connection], Any], asyncio.Future[Any], bool]],
        error: BaseException,
    ) -> None:
        for _, future, _ in batch:
            if not future.done():
                future.set_exception(error)
        self._schedule()
        self._wake_closers()

    def _committed(self, error: BaseException | None, outcomes: Outcomes) -> None:
        self._committing = False
        if error is None:
            self.commits += 1
        else:  # nothing of the batch is durable
            self.failed_commits += 1
            assert self._writer is not None
            if self._writer.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    self._writer.execute("ROLLBACK")
            outcomes = [(future, None, error) for future, _, _ in outcomes]
        for future, result, exc in outcomes:
            if future.done():
                continue
            if exc is None:
                future.set_result(result)
            else:
                future.set_exception(exc)
        self._schedule()
        self._wake_closers()

    def _wake_closers(self) -> None:
        if not (self._waiting or self._committing or self._scheduled):
            self._idle.set()

"""The event log in SQL: append-only ``event_log``, ``event_follows`` (which application follows
which stream, from which position, until which), ``event_batches`` (what each application was
sent), ``event_trims`` (per stream, the highest position retention dropped). Reading a channel
merges its followed streams with one indexed range scan per stream, so the cost of a read grows
with what the application has not yet received, never with the size of the log.
``append_events`` is also called inside other repositories' write jobs, so a state change and
the events it causes commit together."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime

from openucwa.domain.events import Batch, NewEvent, StoredEvent
from openucwa.storage.sql.engine import SqliteDatabase
from openucwa.storage.sql.rows import dump, from_us, load, to_us


def append_events(conn: sqlite3.Connection, events: Sequence[NewEvent], now: datetime) -> int:
    """Append inside the caller's transaction; return the last position (0 if none)."""
    last = 0
    created = to_us(now)
    for event in events:
        cur = conn.execute(
            "INSERT INTO event_log (stream, priority, created_at, body) VALUES (?, ?, ?, ?)",
            (event.stream, event.priority, created, dump(dict(event.body))),
        )
        last = int(cur.lastrowid or 0)
    return last


def _head(conn: sqlite3.Connection) -> int:
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = 'event_log'").fetchone()
    return int(row[0]) if row else 0


def follow(conn: sqlite3.Connection, app_id: str, stream: str) -> None:
    """Start following ``stream`` after everything already in the log (inside a write job)."""
    conn.execute(
        "INSERT OR IGNORE INTO event_follows (app_id, stream, since, until) VALUES (?, ?, ?, NULL)",
        (app_id, stream, _head(conn)),
    )


def unfollow(conn: sqlite3.Connection, app_id: str, stream: str) -> None:
    """Stop following ``stream``: what is in the log now is still delivered, what is
    appended from here on (in this transaction too) is not."""
    conn.execute(
        "UPDATE event_follows SET until = ? WHERE app_id = ? AND stream = ? AND until IS NULL",
        (_head(conn), app_id, stream),
    )


class SqlEventLog:
    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    async def append(self, events: Sequence[NewEvent], now: datetime) -> int:
        return await self._db.write(lambda conn: append_events(conn, events, now))

    async def follow(self, app_id: str, stream: str) -> None:
        await self._db.write(lambda conn: follow(conn, app_id, stream))

    async def unfollow(self, app_id: str, stream: str) -> None:
        await self._db.write(lambda conn: unfollow(conn, app_id, stream))

    async def followed(self, app_id: str) -> list[str]:
        rows = self._db.fetch_all(
            "SELECT DISTINCT stream FROM event_follows WHERE app_id = ? AND until IS NULL",
            (app_id,),
        )
        return [str(r[0]) for r in rows]

    async def read(
        self, app_id: str, after: int, upto: int | None = None, limit: int = 1000
    ) -> list[StoredEvent]:
        rows = self._db.fetch_all(
            "SELECT e.position, e.stream, e.priority, e.created_at, e.body"
            " FROM event_follows f JOIN event_log e ON e.stream = f.stream"
            " WHERE f.app_id = ? AND e.position > ? AND e.position > f.since"
            " AND (f.until IS NULL OR e.position <= f.until) AND e.position <= ?"
            " ORDER BY e.position LIMIT ?",
            (app_id, after, upto if upto is not None else 2**62, limit),
        )
        seen: set[int] = set()
        events: list[StoredEvent] = []
        for position, stream, priority, created, body in rows:
            if position in seen:  # followed twice (left and rejoined): deliver once
                continue
            seen.add(position)
            events.append(
                StoredEvent(
                    position=int(position),
                    stream=str(stream),
                    priority=str(priority),
                    created_at=from_us(int(created)),
                    body=load(str(body)),
                    size=len(body),
                )
            )
        return events

    async def head(self) -> int:
        row = self._db.fetch_one("SELECT seq FROM sqlite_sequence WHERE name = 'event_log'")
        return int(row[0]) if row else 0

    async def batch(self, app_id: str, ack: int) -> Batch | None:
        row = self._db.fetch_one(
            "SELECT ack, after, upto, continuation FROM event_batches WHERE app_id = ? AND ack = ?",
            (app_id, ack),
        )
        return Batch(int(row[0]), int(row[1]), int(row[2]), str(row[3])) if row else None

    async def batches(self, app_id: str) -> tuple[Batch | None, Batch | None]:
        """The first retained (unacknowledged) batch and the last one issued."""
        rows = self._db.fetch_all(
            "SELECT ack, after, upto, continuation FROM event_batches WHERE app_id = ?"
            " AND ack IN ((SELECT min(ack) FROM event_batches WHERE app_id = ?),"
            " (SELECT max(ack) FROM event_batches WHERE app_id = ?)) ORDER BY ack",
            (app_id, app_id, app_id),
        )
        found = [Batch(int(r[0]), int(r[1]), int(r[2]), str(r[3])) for r in rows]
        if not found:
            return None, None
        return found[0], found[-1]

    async def add_batch(self, app_id: str, batch: Batch) -> None:
        """Record batch ``batch.ack``; every earlier batch is acknowledged and forgotten."""

        def run(conn: sqlite3.Connection) -> None:
            conn.execute(
                "DELETE FROM event_batches WHERE app_id = ? AND ack < ?", (app_id, batch.ack)
            )
            conn.execute(
                "INSERT OR REPLACE INTO event_batches (app_id, ack, after, upto, continuation)"
                " VALUES (?, ?, ?, ?, ?)",
                (app_id, batch.ack, batch.after, batch.upto, batch.continuation),
            )

        await self._db.write(run)

    async def forget(self, app_id: str) -> None:
        def run(conn: sqlite3.Connection) -> None:
            conn.execute("DELETE FROM event_batches WHERE app_id = ?", (app_id,))
            conn.execute("DELETE FROM event_follows WHERE app_id = ?", (app_id,))

        await self._db.write(run)

    async def lost(self, app_id: str, after: int) -> bool:
        """Whether a stream ``app_id`` follows lost, to a trim, events after position ``after``
        that were for it (after it began following, before it stopped). One indexed query: the
        application's follows, each with the stream's trim mark."""
        row = self._db.fetch_one(
            "SELECT 1 FROM event_follows f JOIN event_trims t ON t.stream = f.stream"
            " WHERE f.app_id = ? AND t.upto > ? AND t.upto > f.since"
            " AND (f.until IS NULL OR f.until > ?) LIMIT 1",
            (app_id, after, after),
        )
        return row is not None

    async def trim(self, before: datetime) -> int:
        """Retention: drop events older than ``before``, remembering per stream the highest
        position dropped (``lost``); marks of streams nobody follows any more go."""

        def run(conn: sqlite3.Connection) -> int:
            cutoff = to_us(before)
            # By time: only the rows that go are read (left to itself, the planner scans the
            # whole log in stream order to save sorting them).
            conn.execute(
                "INSERT INTO event_trims (stream, upto)"
                " SELECT stream, max(position) FROM event_log INDEXED BY event_log_by_time"
                " WHERE created_at < ? GROUP BY stream"
                " ON CONFLICT (stream) DO UPDATE SET upto = max(upto, excluded.upto)",
                (cutoff,),
            )
            cur = conn.execute("DELETE FROM event_log WHERE created_at < ?", (cutoff,))
            if cur.rowcount:
                conn.execute(
                    "DELETE FROM event_trims WHERE stream NOT IN (SELECT stream FROM event_follows)"
                )
            return cur.rowcount

        return await self._db.write(run)

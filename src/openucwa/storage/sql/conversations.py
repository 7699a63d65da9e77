"""Threads, conversations, invitations and messages in SQL. ``apply`` writes a whole
``ChangeSet`` (rows, follows, events) in one transaction after checking its guards."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from datetime import datetime

from openucwa.domain.conversations import ChangeSet, Conversation, Invitation, Message, Thread
from openucwa.domain.errors import Conflict
from openucwa.storage.sql.engine import SqliteDatabase
from openucwa.storage.sql.event_log import append_events, follow, unfollow
from openucwa.storage.sql.rows import from_us, to_us

_THREAD = "thread_id, subject, importance, state, created_at"
_CONV = "app_id, conv_id, thread_id, user_uri, state, messaging, created_at"
_INV = (
    "app_id, inv_id, thread_id, conv_id, direction, state, operation_id, from_uri, from_name,"
    " to_uri, subject, importance, message, message_type, created_at"
)
_MSG = (
    "thread_id, msg_id, sender_uri, sender_name, sender_app, operation_id, content_type, text,"
    " created_at"
)


def _thread(r: Sequence[object]) -> Thread:
    return Thread(str(r[0]), str(r[1]), str(r[2]), str(r[3]), from_us(int(str(r[4]))))


def _conv(r: Sequence[object]) -> Conversation:
    return Conversation(
        str(r[0]), str(r[1]), str(r[2]), str(r[3]), str(r[4]), str(r[5]), from_us(int(str(r[6])))
    )


def _inv(r: Sequence[object]) -> Invitation:
    t = [str(v) for v in r[:14]]
    return Invitation(
        app_id=t[0],
        inv_id=t[1],
        thread_id=t[2],
        conv_id=t[3],
        direction=t[4],
        state=t[5],
        operation_id=t[6],
        from_uri=t[7],
        from_name=t[8],
        to_uri=t[9],
        subject=t[10],
        importance=t[11],
        message=t[12],
        message_type=t[13],
        created_at=from_us(int(str(r[14]))),
    )


def _msg(r: Sequence[object]) -> Message:
    return Message(
        str(r[0]),
        str(r[1]),
        str(r[2]),
        str(r[3]),
        str(r[4]),
        str(r[5]),
        str(r[6]),
        str(r[7]),
        from_us(int(str(r[8]))),
    )


def forget_application(conn: sqlite3.Connection, app_id: str) -> None:
    """In the transaction that deletes an application: its conversations go (no URL reaches
    them any more), and so does every thread no conversation is left in, with its messages and
    invitations. Before, nothing of instant messaging was ever deleted. The application's own
    invitations stay while others still see the thread (they name its inviter)."""
    threads = [
        str(r[0])
        for r in conn.execute(
            "SELECT DISTINCT thread_id FROM conversations WHERE app_id = ?", (app_id,)
        ).fetchall()
    ]
    conn.execute("DELETE FROM conversations WHERE app_id = ?", (app_id,))
    for thread_id in threads:
        left = conn.execute(  # conversations_by_thread
            "SELECT 1 FROM conversations WHERE thread_id = ? LIMIT 1", (thread_id,)
        ).fetchall()
        if not left:
            for table in ("messages", "invitations", "threads"):
                conn.execute(f"DELETE FROM {table} WHERE thread_id = ?", (thread_id,))  # noqa: S608


class SqlConversationRepository:
    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db

    # -- reads ---------------------------------------------------------------------------

    async def thread(self, thread_id: str) -> Thread | None:
        row = self._db.fetch_one(f"SELECT {_THREAD} FROM threads WHERE thread_id = ?", (thread_id,))
        return _thread(row) if row else None

    async def conversation(self, app_id: str, conv_id: str) -> Conversation | None:
        row = self._db.fetch_one(
            f"SELECT {_CONV} FROM conversations WHERE app_id = ? AND conv_id = ?",
            (app_id, conv_id),
        )
        return _conv(row) if row else None

    async def conversations_of_app(self, app_id: str) -> list[Conversation]:
        rows = self._db.fetch_all(
            f"SELECT {_CONV} FROM conversations WHERE app_id = ? ORDER BY created_at", (app_id,)
        )
        return [_conv(r) for r in rows]

    async def conversations_of_thread(self, thread_id: str) -> list[Conversation]:
        rows = self._db.fetch_all(
            f"SELECT {_CONV} FROM conversations WHERE thread_id = ?", (thread_id,)
        )
        return [_conv(r) for r in rows]

    async def invitation(self, app_id: str, inv_id: str) -> Invitation | None:
        row = self._db.fetch_one(
            f"SELECT {_INV} FROM invitations WHERE app_id = ? AND inv_id = ?", (app_id, inv_id)
        )
        return _inv(row) if row else None

    async def invitations_of_thread(self, thread_id: str) -> list[Invitation]:
        rows = self._db.fetch_all(
            f"SELECT {_INV} FROM invitations WHERE thread_id = ? ORDER BY created_at", (thread_id,)
        )
        return [_inv(r) for r in rows]

    async def message(self, thread_id: str, msg_id: str) -> Message | None:
        row = self._db.fetch_one(
            f"SELECT {_MSG} FROM messages WHERE thread_id = ? AND msg_id = ?", (thread_id, msg_id)
        )
        return _msg(row) if row else None

    async def messages(self, thread_id: str, limit: int = 1000) -> list[Message]:
        rows = self._db.fetch_all(
            f"SELECT {_MSG} FROM messages WHERE thread_id = ? ORDER BY rowid DESC LIMIT ?",
            (thread_id, limit),
        )
        return [_msg(r) for r in reversed(rows)]

    async def unanswered_threads(self, started_before: datetime) -> list[str]:
        rows = self._db.fetch_all(  # the partial index threads_connecting (migration 0007)
            "SELECT thread_id FROM threads WHERE state = 'Connecting' AND created_at < ?"
            " ORDER BY created_at",
            (to_us(started_before),),
        )
        return [str(r[0]) for r in rows]

    # -- the one write -------------------------------------------------------------------

    async def apply(self, changes: ChangeSet, now: datetime) -> None:
        def run(conn: sqlite3.Connection) -> None:
            for thread_id, state in changes.expect_thread_state.items():
                row = conn.execute(
                    "SELECT state FROM threads WHERE thread_id = ?", (thread_id,)
                ).fetchall()
                if not row or row[0][0] != state:
                    raise Conflict(message="The conversation changed meanwhile; try again.")
            for (app_id, inv_id), state in changes.expect_invitation_state.items():
                row = conn.execute(
                    "SELECT state FROM invitations WHERE app_id = ? AND inv_id = ?",
                    (app_id, inv_id),
                ).fetchall()
                if not row or row[0][0] != state:
                    raise Conflict(message="The invitation was already handled.")
            for app_id in changes.expect_apps:
                if not conn.execute(
                    "SELECT 1 FROM applications WHERE app_id = ?", (app_id,)
                ).fetchall():
                    raise Conflict(message="An application taking part is gone.")
            for t in changes.threads:
                conn.execute(
                    f"REPLACE INTO threads ({_THREAD}) VALUES (?, ?, ?, ?, ?)",
                    (t.thread_id, t.subject, t.importance, t.state, to_us(t.created_at)),
                )
            for c in changes.conversations:
                conn.execute(
                    f"REPLACE INTO conversations ({_CONV}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (c.app_id, c.conv_id, c.thread_id, c.user_uri, c.state, c.messaging,
                     to_us(c.created_at)),
                )  # fmt: skip
            for i in changes.invitations:
                conn.execute(
                    f"REPLACE INTO invitations ({_INV}) VALUES ({', '.join('?' * 15)})",
                    (i.app_id, i.inv_id, i.thread_id, i.conv_id, i.direction, i.state,
                     i.operation_id, i.from_uri, i.from_name, i.to_uri, i.subject, i.importance,
                     i.message, i.message_type, to_us(i.created_at)),
                )  # fmt: skip
            for m in changes.messages:
                conn.execute(
                    f"INSERT INTO messages ({_MSG}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (m.thread_id, m.msg_id, m.sender_uri, m.sender_name, m.sender_app,
                     m.operation_id, m.content_type, m.text, to_us(m.created_at)),
                )  # fmt: skip
            for app_id, stream in changes.follows:  # before: they get these events
                follow(conn, app_id, stream)
            # Before, too: what a leaving application is told comes on its own stream, and
            # nothing that the change set adds to the stream it leaves is for it (the first
            # message, delivered by an accept, is not for the user's other devices).
            for app_id, stream in changes.unfollows:
                unfollow(conn, app_id, stream)
            append_events(conn, changes.events, now)

        await self._db.write(run)

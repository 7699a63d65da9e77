from __future__ import annotations

import asyncio
import dataclasses
import sqlite3
from collections.abc import AsyncIterator, Sequence

from openucwa.domain.errors import Conflict, NotFound, PreconditionFailed
from openucwa.domain.ids import ConferenceIds, MeetingId
from openucwa.domain.meetings import ASSIGNED, SCHEDULED, Extension, OnlineMeeting
from openucwa.services.ports import ANY_ETAG, DuplicateId
from openucwa.storage.sql.engine import SqliteDatabase
from openucwa.storage.sql.rows import dump, from_us, load, to_us

_COLUMNS = (
    "organizer_uri, meeting_id, online_meeting_rel, conference_id, conversation_guid, put_guid,"
    " etag, subject, description, access_level, attendees, leaders, automatic_leader_assignment,"
    " entry_exit_announcement, lobby_bypass_for_phone_users, phone_user_admission, expiration_time,"
    " embedded_etag"
)
_EXT_COLUMNS = "extension_id, type, vals, etag, put_guid"
_EXTENSIONS_OF = (
    f"SELECT {_EXT_COLUMNS} FROM meeting_extensions"
    " WHERE organizer_uri = ? AND meeting_id = ? ORDER BY seq"
)


def _extension(row: tuple[object, ...]) -> Extension:
    ext_id, type_, vals, etag, put_guid = row
    return Extension(
        extension_id=str(ext_id),
        type=str(type_),
        values=tuple((str(k), v) for k, v in load(str(vals))),
        etag=str(etag),
        put_guid=str(put_guid),
    )


def _values(m: OnlineMeeting) -> tuple[object, ...]:
    return (
        m.organizer_uri,
        m.meeting_id,
        m.online_meeting_rel,
        m.conference_id,
        m.conversation_guid,
        m.put_guid,
        m.etag,
        m.subject,
        m.description,
        m.access_level,
        dump(list(m.attendees)),
        dump(list(m.leaders)),
        m.automatic_leader_assignment,
        m.entry_exit_announcement,
        m.lobby_bypass_for_phone_users,
        m.phone_user_admission,
        to_us(m.expiration_time),
        m.embedded_etag,
    )


def _check_etag(stored: object, expected: str) -> None:
    if expected != ANY_ETAG and stored != expected:
        raise PreconditionFailed()


_INSERT = f"INSERT INTO meetings ({_COLUMNS}, organizer_user_part) VALUES ({', '.join('?' * 19)})"
_TAKE_NUMBERS = "UPDATE sequences SET value = value + ? WHERE name = 'conference' RETURNING value"
_KEY = "SELECT value FROM secrets WHERE name = 'conference_ids'"
# An extension changed under the meeting's present ETag (OnlineMeeting.embedded_changed).
_MARK_EMBEDDED = (
    "UPDATE meetings SET embedded_etag = etag WHERE organizer_uri = ? AND meeting_id = ?"
)


LIST_PAGE = 32  # meetings read per turn of the event loop (list_for)


class SqlMeetingRepository:
    def __init__(self, db: SqliteDatabase) -> None:
        self._db = db
        # Scheduled meetings per organizer, for the per-user cap. Touched only by write jobs
        # (run one at a time, in order); forgotten whenever a commit failed.
        self._counts: dict[str, int] = {}
        self._counts_epoch = 0
        self._conference_ids: ConferenceIds | None = None  # keyed by the database's secret

    def _insert(self, conn: sqlite3.Connection, meeting: OnlineMeeting) -> None:
        try:
            conn.execute(_INSERT, (*_values(meeting), meeting.organizer_user_part))
        except sqlite3.IntegrityError:
            raise DuplicateId() from None

    def _scheduled_count(self, conn: sqlite3.Connection, organizer_uri: str) -> int:
        if self._counts_epoch != self._db.failed_commits:
            self._counts.clear()
            self._counts_epoch = self._db.failed_commits
        count = self._counts.get(organizer_uri)
        if count is None:
            (count,) = conn.execute(
                "SELECT count(*) FROM meetings WHERE organizer_uri = ? AND online_meeting_rel = ?",
                (organizer_uri, SCHEDULED),
            ).fetchone()
            self._counts[organizer_uri] = count
        return count

    def _meeting(self, row: tuple[object, ...]) -> OnlineMeeting:
        (organizer, meeting_id, rel, conference_id, conv_guid, put_guid, etag, subject,
         description, access_level, attendees, leaders, ala, eea, lobby_bypass, pua,
         expiration, embedded_etag) = row  # fmt: skip
        extensions = self._db.fetch_all(_EXTENSIONS_OF, (organizer, meeting_id))
        return OnlineMeeting(
            meeting_id=MeetingId(str(meeting_id)),
            organizer_uri=str(organizer),
            online_meeting_rel=str(rel),
            conference_id=str(conference_id),
            conversation_guid=str(conv_guid),
            put_guid=str(put_guid),
            etag=str(etag),
            subject=str(subject),
            description=str(description),
            access_level=str(access_level),
            attendees=tuple(load(str(attendees))),
            leaders=tuple(load(str(leaders))),
            automatic_leader_assignment=str(ala),
            entry_exit_announcement=str(eea),
            lobby_bypass_for_phone_users=str(lobby_bypass),
            phone_user_admission=str(pua),
            expiration_time=from_us(int(str(expiration))),
            extensions=tuple(_extension(e) for e in extensions),
            embedded_etag=str(embedded_etag),
        )

    async def get(self, organizer_uri: str, meeting_id: str) -> OnlineMeeting | None:
        row = self._db.fetch_one(
            f"SELECT {_COLUMNS} FROM meetings WHERE organizer_uri = ? AND meeting_id = ?",
            (organizer_uri, meeting_id),
        )
        return self._meeting(row) if row else None

    async def list_for(self, organizer_uri: str) -> Sequence[OnlineMeeting]:
        return [m async for page in self.pages_for(organizer_uri) for m in page]

    async def pages_for(self, organizer_uri: str) -> AsyncIterator[Sequence[OnlineMeeting]]:
        """LIST_PAGE meetings at a time, letting the event loop serve others in between: 1000
        meetings of 1000 attendees each took ~0.45 s to read, and four such lists at once held
        every other request for seconds."""
        after = 0
        while True:
            rows = self._db.fetch_all(
                f"SELECT rowid, {_COLUMNS} FROM meetings WHERE organizer_uri = ? AND rowid > ?"
                " ORDER BY rowid LIMIT ?",
                (organizer_uri, after, LIST_PAGE),
            )
            if rows:
                yield [self._meeting(r[1:]) for r in rows]
            if len(rows) < LIST_PAGE:
                return
            after = int(rows[-1][0])
            await asyncio.sleep(0)

    async def get_assigned(self, organizer_uri: str) -> OnlineMeeting | None:
        row = self._db.fetch_one(
            f"SELECT {_COLUMNS} FROM meetings WHERE organizer_uri = ? AND online_meeting_rel = ?",
            (organizer_uri, ASSIGNED),
        )
        return self._meeting(row) if row else None

    async def reserve_conference_ids(self, count: int) -> list[str]:
        def run(conn: sqlite3.Connection) -> list[str]:
            if self._conference_ids is None:
                (key,) = conn.execute(_KEY).fetchone()
                self._conference_ids = ConferenceIds(bytes(key))
            (end,) = conn.execute(_TAKE_NUMBERS, (count,)).fetchone()
            ids = [self._conference_ids.for_number(n) for n in range(end - count, end)]
            # Ids minted before the sequence existed (migration 0006) stay their meetings'.
            taken = {
                c
                for (c,) in conn.execute(
                    "SELECT conference_id FROM reserved_conference_ids"
                    f" WHERE conference_id IN ({', '.join('?' * len(ids))})",
                    ids,
                )
            }
            return [c for c in ids if c not in taken]

        return await self._db.write(run)

    async def create(self, meeting: OnlineMeeting, max_per_user: int) -> None:
        def run(conn: sqlite3.Connection) -> None:
            count = self._scheduled_count(conn, meeting.organizer_uri)
            if count >= max_per_user:
                raise Conflict("TooManyOnlineMeetings", "This user has too many online meetings.")
            self._insert(conn, meeting)
            self._counts[meeting.organizer_uri] = count + 1

        await self._db.write(run, isolated=False)

    async def ensure_assigned(self, meeting: OnlineMeeting) -> OnlineMeeting:
        def run(conn: sqlite3.Connection) -> bool:
            row = conn.execute(
                "SELECT 1 FROM meetings WHERE organizer_uri = ? AND online_meeting_rel = ?",
                (meeting.organizer_uri, ASSIGNED),
            ).fetchall()
            if row:
                return False
            self._insert(conn, meeting)
            return True

        await self._db.write(run)
        stored = await self.get_assigned(meeting.organizer_uri)
        assert stored is not None
        return stored

    async def replace(self, meeting: OnlineMeeting, expected_etag: str) -> OnlineMeeting:
        def run(conn: sqlite3.Connection) -> OnlineMeeting:
            row = conn.execute(
                "SELECT etag FROM meetings WHERE organizer_uri = ? AND meeting_id = ?",
                (meeting.organizer_uri, meeting.meeting_id),
            ).fetchall()
            if not row:
                raise NotFound(message="The meeting does not exist.")
            _check_etag(row[0][0], expected_etag)
            conn.execute(
                "UPDATE meetings SET etag = ?, subject = ?, description = ?, access_level = ?,"
                " attendees = ?, leaders = ?, automatic_leader_assignment = ?,"
                " entry_exit_announcement = ?, lobby_bypass_for_phone_users = ?,"
                " phone_user_admission = ?, expiration_time = ?, embedded_etag = ?"
                " WHERE organizer_uri = ? AND meeting_id = ?",
                (*_values(meeting)[6:], meeting.organizer_uri, meeting.meeting_id),
            )
            extensions = conn.execute(
                _EXTENSIONS_OF, (meeting.organizer_uri, meeting.meeting_id)
            ).fetchall()
            return dataclasses.replace(meeting, extensions=tuple(_extension(e) for e in extensions))

        return await self._db.write(run)

    async def delete(
        self, organizer_uri: str, meeting_id: str, expected_etag: str | None = None
    ) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            if expected_etag is not None:
                row = conn.execute(
                    "SELECT etag FROM meetings WHERE organizer_uri = ? AND meeting_id = ?",
                    (organizer_uri, meeting_id),
                ).fetchall()
                if not row:
                    return False
                _check_etag(row[0][0], expected_etag)
            cur = conn.execute(
                "DELETE FROM meetings WHERE organizer_uri = ? AND meeting_id = ?",
                (organizer_uri, meeting_id),
            )
            self._counts.pop(organizer_uri, None)  # recounted on the next create
            return cur.rowcount > 0

        return await self._db.write(run)

    async def put_extension(
        self,
        organizer_uri: str,
        meeting_id: str,
        extension: Extension,
        expected_etag: str | None,
        max_extensions: int | None = None,
        max_bytes: int | None = None,
    ) -> None:
        def run(conn: sqlite3.Connection) -> None:
            exists = conn.execute(
                "SELECT 1 FROM meetings WHERE organizer_uri = ? AND meeting_id = ?",
                (organizer_uri, meeting_id),
            ).fetchall()
            if not exists:
                raise NotFound(message="The meeting does not exist.")
            row = conn.execute(
                "SELECT etag, seq FROM meeting_extensions"
                " WHERE organizer_uri = ? AND meeting_id = ? AND extension_id = ?",
                (organizer_uri, meeting_id, extension.extension_id),
            ).fetchall()
            vals = dump([[k, v] for k, v in extension.values])
            if expected_etag is None:
                if row:
                    raise Conflict("AlreadyExists", "An extension with this id already exists.")
                count, seq = conn.execute(
                    "SELECT count(*), coalesce(max(seq), 0) + 1 FROM meeting_extensions"
                    " WHERE organizer_uri = ? AND meeting_id = ?",
                    (organizer_uri, meeting_id),
                ).fetchone()
                if max_extensions is not None and count >= max_extensions:
                    raise Conflict(
                        "LimitExceeded",
                        f"A meeting holds at most {max_extensions} extensions.",
                    )
            else:
                if not row:
                    raise NotFound(message="The extension does not exist.")
                _check_etag(row[0][0], expected_etag)
                seq = row[0][1]
            if max_bytes is not None:
                (others,) = conn.execute(
                    "SELECT coalesce(sum(length(CAST(vals AS BLOB))), 0) FROM meeting_extensions"
                    " WHERE organizer_uri = ? AND meeting_id = ? AND extension_id != ?",
                    (organizer_uri, meeting_id, extension.extension_id),
                ).fetchone()
                if others + len(vals.encode()) > max_bytes:
                    raise Conflict(
                        "LimitExceeded",
                        f"A meeting's extensions hold at most {max_bytes} bytes of values.",
                    )
            conn.execute(
                f"REPLACE INTO meeting_extensions (organizer_uri, meeting_id, {_EXT_COLUMNS}, seq)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    organizer_uri,
                    meeting_id,
                    extension.extension_id,
                    extension.type,
                    vals,
                    extension.etag,
                    extension.put_guid,
                    seq,
                ),
            )
            conn.execute(_MARK_EMBEDDED, (organizer_uri, meeting_id))

        await self._db.write(run)

    async def delete_extension(
        self,
        organizer_uri: str,
        meeting_id: str,
        extension_id: str,
        expected_etag: str | None = None,
    ) -> bool:
        def run(conn: sqlite3.Connection) -> bool:
            if expected_etag is not None:
                row = conn.execute(
                    "SELECT etag FROM meeting_extensions"
                    " WHERE organizer_uri = ? AND meeting_id = ? AND extension_id = ?",
                    (organizer_uri, meeting_id, extension_id),
                ).fetchall()
                if not row:
                    return False
                _check_etag(row[0][0], expected_etag)
            cur = conn.execute(
                "DELETE FROM meeting_extensions"
                " WHERE organizer_uri = ? AND meeting_id = ? AND extension_id = ?",
                (organizer_uri, meeting_id, extension_id),
            )
            if cur.rowcount == 0:
                return False
            conn.execute(_MARK_EMBEDDED, (organizer_uri, meeting_id))
            return True

        return await self._db.write(run)

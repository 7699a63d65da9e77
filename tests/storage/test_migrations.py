"""Migrations over a database that already holds data (storage/sql/migrations)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from yoyo import get_backend, read_migrations

from openucwa.domain.ids import ConferenceIds
from openucwa.storage.sql import SqliteStorage, migrate
from openucwa.storage.sql.engine import MIGRATIONS
from tests.storage.support import migrated

COLUMNS = (
    "organizer_uri, meeting_id, organizer_user_part, online_meeting_rel, conference_id,"
    " conversation_guid, put_guid, etag, subject, description, access_level, attendees, leaders,"
    " automatic_leader_assignment, entry_exit_announcement, lobby_bypass_for_phone_users,"
    " phone_user_admission, expiration_time"
)


def migrate_up_to(path: Path, last: str) -> None:
    backend = get_backend(f"sqlite:///{path}")
    wanted = read_migrations(str(MIGRATIONS)).filter(lambda m: m.id <= last)
    with backend.lock():
        backend.apply_migrations(backend.to_apply(wanted))


def legacy_row(meeting_id: str, conference_id: str, user: str = "bill") -> tuple[object, ...]:
    return (
        f"sip:{user}@contoso.com", meeting_id, user, "myOnlineMeetings", conference_id,
        "conv", "put", "1", f"Subject {meeting_id}", "", "Everyone", "[]", "[]",
        "Disabled", "Disabled", "Disabled", "Disabled", 1_800_000_000_000_000,
    )  # fmt: skip


def insert_meeting(conn: sqlite3.Connection, meeting_id: str, conference_id: str) -> None:
    """A meeting row as migrations 0001-0010 knew it."""
    conn.execute(
        f"INSERT INTO meetings ({COLUMNS}) VALUES ({', '.join('?' * 18)})",
        legacy_row(meeting_id, conference_id),
    )


async def test_0006_keeps_meetings_extensions_order_and_reserves_old_conference_ids(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.db"
    migrate_up_to(path, "0005_drop_count_index")
    conn = sqlite3.connect(path)
    with conn:
        for meeting_id, conference_id in (("ZZZZZZZZ", "55555555"), ("AAAAAAAA", "44444444")):
            insert_meeting(conn, meeting_id, conference_id)
        conn.execute(
            "INSERT INTO meeting_extensions VALUES"
            " ('sip:bill@contoso.com', 'ZZZZZZZZ', 'ext', 'Undefined', '[]', 'e1', 'p1', 1)"
        )
    conn.close()

    assert migrate(f"sqlite:///{path}")[0] == "0006_conference_sequence"

    storage = SqliteStorage(f"sqlite:///{path}")
    await storage.start()
    try:
        listed = await storage.meetings.list_for("sip:bill@contoso.com")
        assert [(m.meeting_id, m.conference_id) for m in listed] == [
            ("ZZZZZZZZ", "55555555"),  # insertion order, not key order
            ("AAAAAAAA", "44444444"),
        ]
        assert [e.extension_id for e in listed[0].extensions] == ["ext"]
        reserved = storage.db.fetch_all("SELECT conference_id FROM reserved_conference_ids")
        assert sorted(reserved) == [("44444444",), ("55555555",)]
        index_names = {
            name
            for (name,) in storage.db.fetch_all(
                "SELECT name FROM sqlite_master WHERE type = 'index'"
            )
        }
        assert "meetings_one_assigned" in index_names
        assert "meetings_by_user_part" not in index_names
        (key,) = (
            storage.db.fetch_one("SELECT value FROM secrets WHERE name = 'conference_ids'") or ()
        )
        assert len(key) == 32
        # Deleting the meeting still takes its extensions with it (the foreign key survived).
        assert await storage.meetings.delete("sip:bill@contoso.com", "ZZZZZZZZ")
        assert storage.db.fetch_one("SELECT count(*) FROM meeting_extensions") == (0,)
        assert ConferenceIds(bytes(key)).for_number(0).isdigit()
    finally:
        await storage.close()


def test_every_database_gets_its_own_conference_key(tmp_path: Path) -> None:
    keys = []
    for name in ("a.db", "b.db"):
        migrate(f"sqlite:///{tmp_path / name}")
        conn = sqlite3.connect(tmp_path / name)
        keys.append(conn.execute("SELECT value FROM secrets").fetchone()[0])
        conn.close()
    assert keys[0] != keys[1]


def insert_application(conn: sqlite3.Connection, app_id: str) -> None:
    """An application row as migrations 0001-0009 knew it."""
    conn.execute(
        "INSERT INTO applications (app_id, owner_uri, endpoint_id, instance_id, culture,"
        " user_agent, type, etag, communication_etag, communication_put_guid, created_at,"
        " last_seen) VALUES (?, 'sip:a@contoso.com', 'e', '', 'en-US', 'ua', 'Browser',"
        " '1', '2', 'g', 0, 0)",
        (app_id,),
    )


async def test_0010_gives_existing_applications_no_communication_settings(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.db"
    migrate_up_to(path, "0009_forget_ended_conversations")
    conn = sqlite3.connect(path)
    with conn:
        insert_application(conn, "a1")
    conn.close()
    async with migrated(path, "0010_communication_settings") as storage:
        app = await storage.applications.get("a1")
        assert app is not None and app.communication_settings == ()
        assert app.communication_etag == "2"


async def test_0011_marks_what_may_have_changed_under_the_present_etag(tmp_path: Path) -> None:
    """Rows from before 0011: a meeting with extensions and every application may have had
    an embedded change since their ETag, so neither answers 304 until its ETag changes."""
    path = tmp_path / "old.db"
    migrate_up_to(path, "0010_communication_settings")
    conn = sqlite3.connect(path)
    with conn:
        insert_meeting(conn, "WITHEXT1", "111")
        insert_meeting(conn, "NOEXT001", "222")
        conn.execute(
            "INSERT INTO meeting_extensions (organizer_uri, meeting_id, extension_id, type,"
            " vals, etag, put_guid, seq) VALUES ('sip:bill@contoso.com', 'WITHEXT1', 'x',"
            " 'Ext', '[]', '9', 'g', 1)"
        )
        insert_application(conn, "a1")
    conn.close()
    async with migrated(path, "0011_embedded_etags") as storage:
        with_ext = await storage.meetings.get("sip:bill@contoso.com", "WITHEXT1")
        without = await storage.meetings.get("sip:bill@contoso.com", "NOEXT001")
        app = await storage.applications.get("a1")
        assert with_ext is not None and with_ext.embedded_changed
        assert without is not None and not without.embedded_changed
        assert app is not None and app.embedded_changed

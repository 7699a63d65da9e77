"""What instant messaging leaves in the database once nobody can reach it: deleting an
application deletes its conversations, and a thread goes, with its messages and invitations,
once no conversation is left in it. Before, nothing of instant messaging was ever deleted.
Migration 0009 removes what applications deleted before it left behind."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from openucwa.bootstrap import Built
from openucwa.domain.clock import FakeClock
from openucwa.services.housekeeping import run_once
from openucwa.storage.sql import migrate
from tests.api.im_support import Pair, connected, href, send
from tests.conftest import Helpers
from tests.storage.test_migrations import insert_application, migrate_up_to

TABLES = ("threads", "conversations", "invitations", "messages")


def rows(built: Built) -> dict[str, int]:
    return {
        table: int((built.storage.db.fetch_one(f"SELECT count(*) FROM {table}") or (0,))[0])  # noqa: S608
        for table in TABLES
    }


async def talk(helpers: Helpers) -> Pair:
    pair = await connected(helpers)  # with a first message
    for text in ("one", "two"):
        assert (await send(helpers, pair.bill, text)).status_code == 201
        await pair.alice.channel.expect(("message", "completed"))
    return pair


async def test_a_thread_goes_with_the_last_application_in_it(
    helpers: Helpers, built: Built
) -> None:
    pair = await talk(helpers)
    assert rows(built) == {"threads": 1, "conversations": 2, "invitations": 2, "messages": 3}
    gone = await helpers.client.delete(pair.bill.who.app_href, headers=pair.bill.who.headers)
    assert gone.status_code == 204
    # Alice still sees the ended conversation, its participants and its history.
    alice = pair.alice.who
    conversation = await helpers.client.get(pair.alice.conversation, headers=alice.headers)
    assert conversation.status_code == 200 and conversation.json()["state"] == "Disconnected"
    history = await helpers.client.get(
        href(conversation.json(), "messaging").rstrip("/") + "/messages", headers=alice.headers
    )
    assert history.status_code == 200, history.text
    participants = await helpers.client.get(
        href(conversation.json(), "participants"), headers=alice.headers
    )
    titles = {p.get("title") for p in participants.json()["_links"]["participant"]}
    assert "Bill Mauldin" in titles
    assert rows(built) == {"threads": 1, "conversations": 1, "invitations": 2, "messages": 3}
    gone = await helpers.client.delete(alice.app_href, headers=alice.headers)
    assert gone.status_code == 204
    assert rows(built) == dict.fromkeys(TABLES, 0)


async def test_purged_applications_take_their_threads_with_them(
    helpers: Helpers, built: Built, clock: FakeClock
) -> None:
    await talk(helpers)
    clock.advance(3600 + 3600 + 1)  # idle (available: 1 h), then the purge delay (1 h)
    await run_once(built.jobs)
    assert rows(built) == dict.fromkeys(TABLES, 0)


def test_migration_0009_removes_what_deleted_applications_left(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    migrate_up_to(path, "0008_event_trims")
    conn = sqlite3.connect(path)
    with conn:
        insert_application(conn, "live")
        for app, conv, thread in (("live", "c1", "t-live"), ("gone", "c2", "t-live")):
            conn.execute(
                "INSERT INTO conversations VALUES (?, ?, ?, 'sip:a@contoso.com', 'Disconnected',"
                " 'Disconnected', 0)",
                (app, conv, thread),
            )
        conn.execute(
            "INSERT INTO conversations VALUES ('gone', 'c3', 't-dead', 'sip:b@contoso.com',"
            " 'Disconnected', 'Disconnected', 0)"
        )
        for thread in ("t-live", "t-dead"):
            conn.execute(
                "INSERT INTO threads VALUES (?, '', 'Normal', 'Disconnected', 0)", (thread,)
            )
            conn.execute(
                "INSERT INTO messages VALUES (?, 'm1', 'sip:a@contoso.com', 'A', 'live', '',"
                " 'text/plain', 'hi', 0)",
                (thread,),
            )
            conn.execute(
                "INSERT INTO invitations VALUES ('gone', ?, ?, 'c', 'Outgoing', 'Connected',"
                " 'op', 'sip:b@contoso.com', 'B', 'sip:a@contoso.com', '', 'Normal', '',"
                " 'text/plain', 0)",
                (f"inv-{thread}", thread),
            )
    conn.close()
    assert migrate(f"sqlite:///{path}")[0] == "0009_forget_ended_conversations"
    conn = sqlite3.connect(path)
    left = {
        "conversations": conn.execute("SELECT app_id, conv_id FROM conversations").fetchall(),
        "threads": conn.execute("SELECT thread_id FROM threads").fetchall(),
        "messages": conn.execute("SELECT thread_id FROM messages").fetchall(),
        "invitations": conn.execute("SELECT inv_id FROM invitations").fetchall(),
    }
    conn.close()
    assert left == {
        "conversations": [("live", "c1")],
        "threads": [("t-live",)],
        "messages": [("t-live",)],
        "invitations": [("inv-t-live",)],  # it names the inviter of a thread still seen
    }

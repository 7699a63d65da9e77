"""The storage ports' contract (services/ports.py) against SQLite in a real file.

Every test runs on the bare SQL repositories and on the cached ones the server uses."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from openucwa.domain.applications import Application
from openucwa.domain.errors import Conflict, Gone, NotFound, PreconditionFailed
from openucwa.domain.events import HIGH, NewEvent
from openucwa.domain.ids import ApplicationId, ConferenceIds, MeetingId
from openucwa.domain.meetings import ASSIGNED, SCHEDULED, Extension, OnlineMeeting
from openucwa.domain.tokens import TokenRecord
from openucwa.domain.users import User
from openucwa.services.ports import ANY_ETAG, DuplicateId, StaleApplication
from openucwa.storage.sql import SqliteStorage, migrate

T0 = datetime(2026, 1, 5, 9, 0, 0, 123456, tzinfo=UTC)
BILL = "sip:bmauldin@contoso.com"
ALICE = "sip:alice@contoso.com"


@pytest.fixture(params=[False, True], ids=["sql", "cached"])
async def storage(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SqliteStorage]:
    url = f"sqlite:///{tmp_path / 'contract.db'}"
    migrate(url)
    store = SqliteStorage(url, cached=request.param)
    await store.start()
    try:
        yield store
    finally:
        await store.close()


def user(uri: str = BILL, **changes: Any) -> User:
    return replace(
        User(
            uri=uri,
            name="Bill Mauldin",
            password_hash="$argon2id$h",
            email="bill@contoso.com",
            title="PM",
            company="Contoso",
        ),
        **changes,
    )


def token(
    token_hash: str, subject: str = BILL, expires: timedelta = timedelta(hours=8)
) -> TokenRecord:
    return TokenRecord(token_hash, subject, "user", T0, T0 + expires)


def app(
    app_id: str = "100000000001", owner: str = BILL, endpoint: str = "e1", **changes: Any
) -> Application:
    return replace(
        Application(
            app_id=ApplicationId(app_id),
            owner_uri=owner,
            culture="en-US",
            endpoint_id=endpoint,
            user_agent="tests/1.0",
            instance_id="",
            type="Browser",
            etag="11",
            communication_etag="12",
            communication_put_guid="guid-13",
            created_at=T0,
            last_seen=T0,
        ),
        **changes,
    )


def meeting(
    meeting_id: str = "IB88RLLY",
    organizer: str = BILL,
    conference: str = "12983487",
    **changes: Any,
) -> OnlineMeeting:
    return replace(
        OnlineMeeting(
            meeting_id=MeetingId(meeting_id),
            organizer_uri=organizer,
            online_meeting_rel=SCHEDULED,
            conference_id=conference,
            conversation_guid="conv-guid",
            put_guid="put-guid",
            etag="1",
            subject="Sales",
            description="Q3",
            access_level="SameEnterprise",
            attendees=(ALICE, "sip:tosh@contoso.com"),
            leaders=(ALICE,),
            automatic_leader_assignment="Disabled",
            entry_exit_announcement="Disabled",
            lobby_bypass_for_phone_users="Enabled",
            phone_user_admission="Disabled",
            expiration_time=T0 + timedelta(hours=8),
        ),
        **changes,
    )


def extension(ext_id: str = "917823", etag: str = "e1", **changes: Any) -> Extension:
    return replace(
        Extension(ext_id, "RoamedParticipantData", (("color", "blue"),), etag, "pg"), **changes
    )


# -- users ----------------------------------------------------------------------------------


async def test_users(storage: SqliteStorage) -> None:
    users = storage.users
    await users.add(user(ALICE, name="Alice"))
    await users.add(user())
    assert await users.get(BILL) == user()
    assert await users.get("sip:nobody@contoso.com") is None
    assert [u.uri for u in await users.list()] == [ALICE, BILL]
    with pytest.raises(Conflict) as caught:
        await users.add(user(name="Impostor"))
    assert caught.value.subcode == "AlreadyExists"
    assert await users.get(BILL) == user()
    assert await users.set_password(BILL, "new-hash") is True
    assert (await users.get(BILL)) == user(password_hash="new-hash")
    assert await users.set_password("sip:nobody@contoso.com", "x") is False
    assert await users.remove(BILL) is True
    assert await users.remove(BILL) is False
    assert await users.get(BILL) is None


# -- tokens ---------------------------------------------------------------------------------


async def test_tokens_add_get_revoke(storage: SqliteStorage) -> None:
    tokens = storage.tokens
    await tokens.add(token("h1"))
    assert await tokens.get("h1") == token("h1")
    assert await tokens.get("missing") is None
    assert await tokens.revoke("h1") is True
    revoked = await tokens.get("h1")
    assert revoked is not None and revoked.revoked and not revoked.is_valid(T0)
    assert await tokens.revoke("missing") is False


async def test_tokens_revoke_for_subject_counts_only_live_tokens(storage: SqliteStorage) -> None:
    tokens = storage.tokens
    for h in ("b1", "b2", "b3"):
        await tokens.add(token(h))
    await tokens.add(token("a1", ALICE))
    await tokens.revoke("b1")
    assert await tokens.revoke_for_subject(BILL) == 2
    assert all([(await tokens.get(h)).revoked for h in ("b1", "b2", "b3")])  # type: ignore[union-attr]
    assert not (await tokens.get("a1")).revoked  # type: ignore[union-attr]
    assert await tokens.revoke_for_subject(BILL) == 0


async def test_tokens_purge_expired(storage: SqliteStorage) -> None:
    tokens = storage.tokens
    await tokens.add(token("old", expires=timedelta(hours=1)))
    await tokens.add(token("edge", expires=timedelta(hours=2)))
    await tokens.add(token("new", expires=timedelta(hours=3)))
    assert await tokens.purge_expired(T0 + timedelta(hours=2)) == 1
    assert await tokens.get("old") is None
    assert await tokens.get("edge") is not None and await tokens.get("new") is not None


# -- applications ---------------------------------------------------------------------------


async def test_applications_get_or_create(storage: SqliteStorage) -> None:
    apps = storage.applications
    full = app(
        available=True,
        sign_in_as="Busy",
        supported_modalities=("Messaging", "PhoneAudio"),
        supported_message_formats=("Html", "Plain"),
        instance_id="tab",
    )
    assert await apps.get_or_create(full, 10) == (full, True)
    assert await apps.get(full.app_id) == full
    again = replace(full, app_id=ApplicationId("100000000002"), culture="de-DE")
    assert await apps.get_or_create(again, 10) == (full, False)
    other_tab = replace(again, instance_id="tab-2")
    assert await apps.get_or_create(other_tab, 10) == (other_tab, True)
    alices = app("100000000003", owner=ALICE, instance_id="tab")
    assert (await apps.get_or_create(alices, 10))[1] is True
    assert await apps.get("100000000099") is None


async def test_applications_cap(storage: SqliteStorage) -> None:
    apps = storage.applications
    await apps.get_or_create(app("1", endpoint="e1"), 2)
    await apps.get_or_create(app("2", endpoint="e2"), 2)
    with pytest.raises(Gone) as caught:
        await apps.get_or_create(app("3", endpoint="e3"), 2)
    assert caught.value.subcode == "TooManyApplications"
    assert await apps.get("3") is None
    # At the cap, the same endpoint still finds its existing application.
    assert await apps.get_or_create(app("4", endpoint="e2"), 2) == (app("2", endpoint="e2"), False)
    assert (await apps.get_or_create(app("5", owner=ALICE), 2))[1] is True


async def test_applications_duplicate_id(storage: SqliteStorage) -> None:
    await storage.applications.get_or_create(app("1", endpoint="e1"), 10)
    with pytest.raises(DuplicateId):
        await storage.applications.get_or_create(app("1", endpoint="e2", owner=ALICE), 10)
    assert await storage.applications.get("1") == app("1", endpoint="e1")


async def test_applications_save_touch_delete_list(storage: SqliteStorage) -> None:
    apps = storage.applications
    await apps.get_or_create(app("1"), 10)
    await apps.get_or_create(app("2", endpoint="e2"), 10)
    saved = app("1", available=True, sign_in_as="Online", etag="99")
    assert await apps.get("1") == app("1")  # read first: caches must follow
    await apps.save(saved, app("1").communication_etag)
    assert await apps.get("1") == saved
    with pytest.raises(StaleApplication):  # not the communication ETag stored now
        await apps.save(app("1", sign_in_as="Busy"), "stale")
    with pytest.raises(StaleApplication):  # no such application
        await apps.save(app("404"), app("404").communication_etag)
    assert await apps.get("1") == saved and await apps.get("404") is None
    assert await apps.touch("1", T0 + timedelta(minutes=5)) is True
    assert await apps.touch("1", T0 + timedelta(minutes=1)) is True  # never backwards
    assert (await apps.get("1")).last_seen == T0 + timedelta(minutes=5)  # type: ignore[union-attr]
    assert await apps.touch("404", T0) is False  # gone: the caller must not serve it
    assert sorted(a.app_id for a in await apps.list_all()) == ["1", "2"]
    assert await apps.delete("1") is True
    assert await apps.delete("1") is False
    assert await apps.get("1") is None
    assert [a.app_id for a in await apps.list_all()] == ["2"]


# -- meetings -------------------------------------------------------------------------------


async def test_meetings_create_get_list(storage: SqliteStorage) -> None:
    meetings = storage.meetings
    first, second = meeting("AAAAAAAA", conference="1"), meeting("BBBBBBBB", conference="2")
    await meetings.create(first, 10)
    await meetings.create(second, 10)
    assert await meetings.get(BILL, "AAAAAAAA") == first
    assert await meetings.get(ALICE, "AAAAAAAA") is None
    assert await meetings.list_for(BILL) == [first, second]
    assert await meetings.list_for(ALICE) == []


async def test_meetings_come_a_page_at_a_time_in_creation_order(storage: SqliteStorage) -> None:
    meetings = storage.meetings
    made = [meeting(f"M{i:07d}", conference=str(i)) for i in range(70)]
    for m in made:
        await meetings.create(m, 100)
    await meetings.create(meeting("ALICE001", organizer=ALICE, conference="999"), 100)
    pages = [list(page) async for page in meetings.pages_for(BILL)]
    assert [m for page in pages for m in page] == made == list(await meetings.list_for(BILL))
    assert len(pages) > 1 and all(pages)  # more than one page, none of them empty
    assert [list(p) async for p in meetings.pages_for("sip:nobody@contoso.com")] == []


async def test_conference_ids_come_off_a_durable_sequence(storage: SqliteStorage) -> None:
    (key,) = storage.db.fetch_one("SELECT value FROM secrets WHERE name = 'conference_ids'") or ()
    expected = ConferenceIds(bytes(key))
    first = await storage.meetings.reserve_conference_ids(3)
    second = await storage.meetings.reserve_conference_ids(2)
    assert first + second == [expected.for_number(n) for n in range(5)]
    assert all(re.fullmatch(r"[1-9]\d{7}", c) for c in first + second)
    # Committed: the next process (a new storage on the same file) goes on from there.
    again = SqliteStorage(f"sqlite:///{storage.db.path}")
    await again.start()
    try:
        assert await again.meetings.reserve_conference_ids(1) == [expected.for_number(5)]
    finally:
        await again.close()


async def test_reserved_conference_ids_are_skipped(storage: SqliteStorage) -> None:
    """Ids minted before the sequence existed stay theirs (migration 0006 reserves them)."""
    (key,) = storage.db.fetch_one("SELECT value FROM secrets WHERE name = 'conference_ids'") or ()
    expected = ConferenceIds(bytes(key))
    raw = sqlite3.connect(storage.db.path)
    with raw:
        raw.execute(
            "INSERT INTO reserved_conference_ids VALUES (?), (?)",
            (expected.for_number(0), expected.for_number(2)),
        )
    raw.close()
    reserved = await storage.meetings.reserve_conference_ids(4)
    assert reserved == [expected.for_number(1), expected.for_number(3)]


async def test_meetings_cap_ignores_the_assigned_meeting(storage: SqliteStorage) -> None:
    meetings = storage.meetings
    await meetings.ensure_assigned(meeting("ASSIGNED", online_meeting_rel=ASSIGNED, conference="0"))
    await meetings.create(meeting("AAAAAAAA", conference="1"), 2)
    await meetings.create(meeting("BBBBBBBB", conference="2"), 2)
    with pytest.raises(Conflict) as caught:
        await meetings.create(meeting("CCCCCCCC", conference="3"), 2)
    assert caught.value.subcode == "TooManyOnlineMeetings"
    assert await meetings.get(BILL, "CCCCCCCC") is None
    await meetings.create(meeting("CCCCCCCC", organizer=ALICE, conference="3"), 2)


async def test_meetings_duplicate_ids(storage: SqliteStorage) -> None:
    meetings = storage.meetings
    await meetings.create(meeting(), 10)
    with pytest.raises(DuplicateId):
        await meetings.create(meeting(conference="other", subject="x"), 10)
    await meetings.create(meeting(organizer=ALICE, conference="other"), 10)  # id is per organizer
    assert await meetings.list_for(BILL) == [meeting()]


async def test_ensure_assigned_is_idempotent(storage: SqliteStorage) -> None:
    meetings = storage.meetings
    assigned = meeting("ASSIGNED", online_meeting_rel=ASSIGNED)
    assert await meetings.get_assigned(BILL) is None
    assert await meetings.ensure_assigned(assigned) == assigned
    assert await meetings.get_assigned(BILL) == assigned
    updated = replace(assigned, etag="2", subject="Renamed")
    await meetings.replace(updated, expected_etag="1")
    assert await meetings.get_assigned(BILL) == updated
    assert await meetings.get(BILL, "ASSIGNED") == updated
    other = meeting("OTHER000", online_meeting_rel=ASSIGNED, conference="99")
    assert await meetings.ensure_assigned(other) == updated
    assert await meetings.get_assigned(BILL) == updated
    assert await meetings.get(BILL, "OTHER000") is None


async def test_replace_is_compare_and_swap(storage: SqliteStorage) -> None:
    meetings = storage.meetings
    await meetings.create(meeting(), 10)
    changed = meeting(
        etag="2",
        subject="New",
        description="",
        attendees=(),
        leaders=(BILL,),
        access_level="Everyone",
        automatic_leader_assignment="Everyone",
        entry_exit_announcement="Enabled",
        lobby_bypass_for_phone_users="Disabled",
        phone_user_admission="Enabled",
        expiration_time=T0 + timedelta(days=3),
    )
    sneaky = replace(changed, conference_id="777", put_guid="p2", conversation_guid="c2")
    assert await meetings.get(BILL, "IB88RLLY") == meeting()  # read first: caches must follow
    await meetings.replace(sneaky, expected_etag="1")
    assert await meetings.get(BILL, "IB88RLLY") == changed  # read-only fields untouched
    with pytest.raises(PreconditionFailed):
        await meetings.replace(meeting(etag="3", subject="Lost update"), expected_etag="1")
    assert await meetings.get(BILL, "IB88RLLY") == changed
    assert await meetings.delete(BILL, "IB88RLLY") is True
    with pytest.raises(NotFound):
        await meetings.replace(meeting(etag="4"), expected_etag="2")


async def test_delete_cascades_extensions(storage: SqliteStorage) -> None:
    meetings = storage.meetings
    await meetings.create(meeting(), 10)
    await meetings.put_extension(BILL, "IB88RLLY", extension(), None)
    assert (await meetings.get(BILL, "IB88RLLY")).extensions == (extension(),)  # type: ignore[union-attr]
    assert await meetings.delete(BILL, "IB88RLLY") is True
    assert await meetings.delete(BILL, "IB88RLLY") is False
    assert await meetings.get(BILL, "IB88RLLY") is None
    assert storage.db.fetch_one("SELECT count(*) FROM meeting_extensions") == (0,)
    await meetings.create(meeting(), 10)
    assert (await meetings.get(BILL, "IB88RLLY")).extensions == ()  # type: ignore[union-attr]


async def test_put_extension(storage: SqliteStorage) -> None:
    meetings = storage.meetings
    await meetings.create(meeting(), 10)
    first, second = extension("first"), extension("second", etag="s1")
    assert (await meetings.get(BILL, "IB88RLLY")).extensions == ()  # type: ignore[union-attr]
    await meetings.put_extension(BILL, "IB88RLLY", first, None)
    await meetings.put_extension(BILL, "IB88RLLY", second, None)
    with pytest.raises(Conflict) as caught:
        await meetings.put_extension(BILL, "IB88RLLY", extension("first", etag="x"), None)
    assert caught.value.subcode == "AlreadyExists"
    updated = extension("first", etag="e2", type="Undefined", values=(("size", 3),))
    await meetings.put_extension(BILL, "IB88RLLY", updated, "e1")
    with pytest.raises(PreconditionFailed):
        await meetings.put_extension(BILL, "IB88RLLY", extension("first", etag="e3"), "e1")
    with pytest.raises(NotFound):
        await meetings.put_extension(BILL, "IB88RLLY", extension("missing"), "e1")
    with pytest.raises(NotFound):
        await meetings.put_extension(BILL, "NOSUCHID", extension("x"), None)
    stored = await meetings.get(BILL, "IB88RLLY")
    assert stored is not None and stored.extensions == (updated, second)  # creation order kept
    assert await meetings.delete_extension(BILL, "IB88RLLY", "first") is True
    assert await meetings.delete_extension(BILL, "IB88RLLY", "first") is False
    assert (await meetings.get(BILL, "IB88RLLY")).extensions == (second,)  # type: ignore[union-attr]


async def test_extension_writes_mark_the_meeting_changed_under_its_etag(
    storage: SqliteStorage,
) -> None:
    meetings = storage.meetings

    async def changed() -> bool:
        stored = await meetings.get(BILL, "IB88RLLY")
        assert stored is not None
        return stored.embedded_changed

    await meetings.create(meeting(), 10)
    assert not await changed()
    await meetings.put_extension(BILL, "IB88RLLY", extension(), None)
    assert await changed()  # added
    current = await meetings.get(BILL, "IB88RLLY")
    assert current is not None
    await meetings.replace(replace(current, etag="2", subject="New"), expected_etag="1")
    assert not await changed()  # a new meeting ETag: nothing changed under it yet
    await meetings.put_extension(BILL, "IB88RLLY", extension(etag="e2"), "e1")
    assert await changed()  # updated
    current = await meetings.get(BILL, "IB88RLLY")
    assert current is not None
    await meetings.replace(replace(current, etag="3"), expected_etag="2")
    assert await meetings.delete_extension(BILL, "IB88RLLY", "nothing") is False
    assert not await changed()  # nothing was deleted
    assert await meetings.delete_extension(BILL, "IB88RLLY", "917823") is True
    assert await changed()  # deleted


async def test_put_extension_holds_the_meetings_values_to_max_bytes(
    storage: SqliteStorage,
) -> None:
    meetings = storage.meetings
    await meetings.create(meeting(), 10)
    big = extension("big", values=(("v", "x" * 100),))  # 110 bytes stored: [["v","x…"]]
    await meetings.put_extension(BILL, "IB88RLLY", big, None, 32, 120)
    with pytest.raises(Conflict) as caught:  # + 18 bytes: [["color","blue"]]
        await meetings.put_extension(BILL, "IB88RLLY", extension("more"), None, 32, 120)
    assert caught.value.subcode == "LimitExceeded"
    # Replacing one counts the others only, not the values it replaces.
    bigger = extension("big", etag="e2", values=(("v", "y" * 110),))  # 120 bytes
    await meetings.put_extension(BILL, "IB88RLLY", bigger, "e1", max_bytes=120)
    with pytest.raises(Conflict):
        too_big = extension("big", etag="e3", values=(("v", "z" * 111),))
        await meetings.put_extension(BILL, "IB88RLLY", too_big, "e2", max_bytes=120)
    stored = await meetings.get(BILL, "IB88RLLY")
    assert stored is not None and stored.extensions == (bigger,)


async def test_application_embedded_etag_round_trips(storage: SqliteStorage) -> None:
    apps = storage.applications
    created, _ = await apps.get_or_create(app(), 10)
    assert not created.embedded_changed
    marked = replace(created, embedded_etag=created.etag, communication_etag="c2")
    await apps.save(marked, created.communication_etag)
    stored = await apps.get(created.app_id)
    assert stored is not None and stored.embedded_changed


async def test_extension_values_round_trip(storage: SqliteStorage) -> None:
    values = (
        ("s", "text"),
        ("empty", ""),
        ("i", 42),
        ("neg", -7),
        ("f", 1.5),
        ("t", True),
        ("no", False),
        ("n", None),
        ("l", ["a", 1, False, None]),
        ("d", {"k": ["v"]}),
        ("u", "é☃𝄞\r\n"),
        ("big", 2**53),
    )
    await storage.meetings.create(meeting(), 10)
    await storage.meetings.put_extension(BILL, "IB88RLLY", extension(values=values), None)
    stored = await storage.meetings.get(BILL, "IB88RLLY")
    assert stored is not None and stored.extensions[0].values == values
    assert [type(v) for _, v in stored.extensions[0].values] == [type(v) for _, v in values]


# -- event log ------------------------------------------------------------------------------


async def test_event_log_trim_tells_each_follower_what_it_lost(storage: SqliteStorage) -> None:
    """``trim`` drops by age; ``lost(app, after)`` says whether that took events the application
    follows and had not received (position > ``after``), for the time it followed them."""
    log = storage.events
    await log.follow("A", "app:A")
    await log.follow("B", "app:B")
    await log.follow("D", "conv:X")
    old = T0 - timedelta(hours=4)
    a2 = await log.append([NewEvent("app:A", HIGH, {"n": 1}), NewEvent("app:A", HIGH, {})], old)
    x1 = await log.append([NewEvent("conv:X", HIGH, {})], old)
    await log.unfollow("D", "conv:X")  # D stops following X here
    x2 = await log.append([NewEvent("conv:X", HIGH, {})], old)
    b1 = await log.append([NewEvent("app:B", HIGH, {})], T0)
    assert not any([await log.lost("A", 0), await log.lost("D", 0), await log.lost("B", 0)])
    assert await log.trim(T0 - timedelta(hours=3)) == 4
    assert await log.lost("A", 0) and await log.lost("A", a2 - 1)
    assert not await log.lost("A", a2)  # it had received both
    assert await log.lost("D", x1 - 1)
    assert not await log.lost("D", x1)  # x2 came after D stopped following X
    assert not await log.lost("B", 0)  # nothing of B's stream went
    await log.follow("C", "app:A")  # a new follower starts after everything in the log
    assert not await log.lost("C", 0)
    assert [e.position for e in await log.read("B", 0)] == [b1]
    assert x2 < b1
    # Marks of streams nobody follows any more go at the next trim that drops something.
    await log.forget("A")
    await log.forget("C")
    await log.append([NewEvent("app:B", HIGH, {})], old)
    assert await log.trim(T0 - timedelta(hours=3)) == 1
    assert storage.db.fetch_all("SELECT stream FROM event_trims ORDER BY stream") == [
        ("app:B",),
        ("conv:X",),
    ]


async def test_replace_answers_the_meeting_with_the_extensions_stored_at_the_swap(
    storage: SqliteStorage,
) -> None:
    """A PUT read the meeting before an extension was added: its answer under the new ETag
    must show what a GET under that ETag shows."""
    meetings = storage.meetings
    await meetings.create(meeting(), 10)
    read = await meetings.get(BILL, "IB88RLLY")
    assert read is not None and read.extensions == ()
    await meetings.put_extension(BILL, "IB88RLLY", extension(), None)
    stored = await meetings.replace(replace(read, etag="2", subject="New"), expected_etag="1")
    assert stored.extensions == (extension(),)
    assert await meetings.get(BILL, "IB88RLLY") == stored


async def test_any_etag_swaps_whatever_is_stored(storage: SqliteStorage) -> None:
    meetings = storage.meetings
    await meetings.create(meeting(), 10)
    await meetings.replace(meeting(etag="2", subject="one"), expected_etag=ANY_ETAG)
    await meetings.replace(meeting(etag="3", subject="two"), expected_etag=ANY_ETAG)
    assert (await meetings.get(BILL, "IB88RLLY")).subject == "two"  # type: ignore[union-attr]
    await meetings.put_extension(BILL, "IB88RLLY", extension("first"), None)
    await meetings.put_extension(BILL, "IB88RLLY", extension("first", etag="e2"), ANY_ETAG)
    await meetings.put_extension(BILL, "IB88RLLY", extension("first", etag="e3"), ANY_ETAG)
    with pytest.raises(NotFound):
        await meetings.put_extension(BILL, "IB88RLLY", extension("missing"), ANY_ETAG)
    assert await meetings.delete_extension(BILL, "IB88RLLY", "first", ANY_ETAG) is True
    assert await meetings.delete(BILL, "IB88RLLY", ANY_ETAG) is True


async def test_conditional_deletes_compare_in_their_own_transaction(
    storage: SqliteStorage,
) -> None:
    """A DELETE whose If-Match named the ETag it read must not delete a change made since."""
    meetings = storage.meetings
    await meetings.create(meeting(), 10)
    await meetings.put_extension(BILL, "IB88RLLY", extension("first"), None)
    await meetings.put_extension(BILL, "IB88RLLY", extension("first", etag="e2"), "e1")
    with pytest.raises(PreconditionFailed):
        await meetings.delete_extension(BILL, "IB88RLLY", "first", "e1")
    assert (await meetings.get(BILL, "IB88RLLY")).extensions != ()  # type: ignore[union-attr]
    assert await meetings.delete_extension(BILL, "IB88RLLY", "missing", "e1") is False
    assert await meetings.delete_extension(BILL, "IB88RLLY", "first", "e2") is True
    await meetings.replace(meeting(etag="2"), expected_etag="1")
    with pytest.raises(PreconditionFailed):
        await meetings.delete(BILL, "IB88RLLY", "1")
    assert await meetings.get(BILL, "IB88RLLY") is not None
    assert await meetings.delete(BILL, "IB88RLLY", "2") is True
    assert await meetings.delete(BILL, "IB88RLLY", "2") is False

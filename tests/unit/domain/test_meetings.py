"""Scheduling rules of myOnlineMeetings / myOnlineMeeting (spec §2.6, §2.13, §5 E1/E12-E14/E29,
E46/E47): every rule of check_input/new_meeting/updated_meeting, ids and URI shapes."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from openucwa.domain.errors import BadRequest
from openucwa.domain.ids import ApplicationId, MeetingId, RandomIds, is_meeting_id
from openucwa.domain.meetings import (
    ASSIGNED,
    SCHEDULED,
    EligibleValues,
    MeetingDefaults,
    MeetingInput,
    MeetingPolicies,
    OnlineMeeting,
    SchedulingRules,
    canonical_enum,
    new_meeting,
    updated_meeting,
    with_new_identity,
)
from openucwa.domain.users import Organization

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
ORGANIZER = "sip:bmauldin@contoso.com"
ALICE = "sip:alice@contoso.com"
TOSH = "sip:tosh@contoso.com"
CONFERENCE_ID = "12983487"
ORG = Organization(frozenset({"contoso.com"}))
RULES = SchedulingRules(organization=ORG)
GUID = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}"


class CountingIds:
    """A deterministic IdGenerator: every id carries the next number of one counter."""

    def __init__(self, etags: list[str] | None = None) -> None:
        self.n = 0
        self.etags = list(etags or [])

    def _next(self) -> int:
        self.n += 1
        return self.n

    def application_id(self) -> ApplicationId:
        return ApplicationId(str(100_000_000_000 + self._next()))

    def meeting_id(self) -> MeetingId:
        return MeetingId(f"MEET{self._next():04d}")

    def guid(self) -> str:
        return f"00000000-0000-4000-8000-{self._next():012d}"

    def etag(self) -> str:
        return self.etags.pop(0) if self.etags else str(self._next())

    def token(self) -> str:
        return f"cwt=token{self._next()}"

    def short_id(self) -> str:
        return f"{self._next():012x}"


def make(rules: SchedulingRules = RULES, /, **fields: Any) -> OnlineMeeting:
    return new_meeting(MeetingInput(**fields), ORGANIZER, rules, CountingIds(), NOW, CONFERENCE_ID)


def problems(rules: SchedulingRules = RULES, /, **fields: Any) -> dict[str, str]:
    with pytest.raises(BadRequest) as caught:
        make(rules, **fields)
    assert caught.value.subcode == "ParameterValidationFailure"
    return caught.value.parameters


def test_defaults_fill_every_absent_property() -> None:
    meeting = make()
    assert (meeting.meeting_id, meeting.conference_id) == ("MEET0001", CONFERENCE_ID)
    assert meeting.conversation_guid != meeting.put_guid
    assert meeting.etag == "4"
    assert meeting.organizer_uri == ORGANIZER
    assert meeting.online_meeting_rel == SCHEDULED and not meeting.is_assigned
    assert meeting.access_level == "SameEnterprise"
    assert meeting.automatic_leader_assignment == "Disabled"
    assert meeting.entry_exit_announcement == "Disabled"
    assert meeting.lobby_bypass_for_phone_users == "Disabled"
    assert meeting.phone_user_admission == "Disabled"
    assert (meeting.subject, meeting.description) == ("", "")
    assert (meeting.attendees, meeting.leaders, meeting.extensions) == ((), (), ())
    assert meeting.expiration_time == NOW + timedelta(hours=8)


def test_operator_defaults_are_used() -> None:
    defaults = MeetingDefaults(access_level="Everyone", automatic_leader_assignment="Everyone")
    meeting = make(replace(RULES, defaults=defaults, default_lifetime=timedelta(hours=1)))
    assert (meeting.access_level, meeting.automatic_leader_assignment) == ("Everyone", "Everyone")
    assert meeting.expiration_time == NOW + timedelta(hours=1)


@pytest.mark.parametrize("value", ["None", "none", "NONE"])
def test_access_level_none_is_replaced_by_the_default(value: str) -> None:
    assert make(access_level=value).access_level == "SameEnterprise"
    everyone = replace(RULES, defaults=MeetingDefaults(access_level="Everyone"))
    assert make(everyone, access_level=value).access_level == "Everyone"


@pytest.mark.parametrize(
    ("field", "sent", "canonical"),
    [
        ("access_level", "everyone", "Everyone"),
        ("access_level", "sameENTERPRISE", "SameEnterprise"),
        ("access_level", "LOCKED", "Locked"),
        ("access_level", "invited", "Invited"),
        ("automatic_leader_assignment", "sameenterprise", "SameEnterprise"),
        ("automatic_leader_assignment", "EVERYONE", "Everyone"),
        ("entry_exit_announcement", "disabled", "Disabled"),
        ("lobby_bypass_for_phone_users", "ENABLED", "Enabled"),
        ("phone_user_admission", "enabled", "Enabled"),
    ],
)
def test_enums_match_case_insensitively_and_store_the_canonical_spelling(
    field: str, sent: str, canonical: str
) -> None:
    assert getattr(make(**{field: sent}), field) == canonical


ENUM_FIELDS = {
    "access_level": "accessLevel",
    "automatic_leader_assignment": "automaticLeaderAssignment",
    "entry_exit_announcement": "entryExitAnnouncement",
    "lobby_bypass_for_phone_users": "lobbyBypassForPhoneUsers",
    "phone_user_admission": "phoneUserAdmission",
}


@pytest.mark.parametrize("field", ENUM_FIELDS)
def test_an_unknown_enum_value_names_the_property(field: str) -> None:
    found = problems(**{field: "Sometimes"})
    assert list(found) == [ENUM_FIELDS[field]]
    assert "Must be one of" in found[ENUM_FIELDS[field]]


@pytest.mark.parametrize(
    ("eligible", "field", "value"),
    [
        (EligibleValues(access_levels=("SameEnterprise",)), "access_level", "Everyone"),
        (
            EligibleValues(automatic_leader_assignments=("Disabled",)),
            "automatic_leader_assignment",
            "Everyone",
        ),
        (
            EligibleValues(lobby_bypass_for_phone_users_settings=("Disabled",)),
            "lobby_bypass_for_phone_users",
            "Enabled",
        ),
        (EligibleValues(), "entry_exit_announcement", "Unsupported"),
    ],
)
def test_a_value_outside_the_eligible_set_is_refused(
    eligible: EligibleValues, field: str, value: str
) -> None:
    found = problems(replace(RULES, eligible=eligible), **{field: value})
    assert "Not eligible" in found[ENUM_FIELDS[field]]


def _eea_rules(policy: str, eligible: tuple[str, ...]) -> SchedulingRules:
    return replace(
        RULES,
        eligible=EligibleValues(entry_exit_announcements=eligible),
        policies=MeetingPolicies(entry_exit_announcement=policy),
    )


def test_entry_exit_announcement_enabled_needs_the_policy_enabled() -> None:
    both = ("Disabled", "Enabled")
    assert make(_eea_rules("Enabled", both), entry_exit_announcement="enabled")
    assert "entryExitAnnouncement" in problems(
        _eea_rules("Disabled", both), entry_exit_announcement="Enabled"
    )
    # The policy alone does not make a value eligible.
    assert "entryExitAnnouncement" in problems(
        _eea_rules("Enabled", ("Disabled",)), entry_exit_announcement="Enabled"
    )
    assert make(_eea_rules("Disabled", both), entry_exit_announcement="Disabled")


def test_phone_user_admission_enabled_needs_the_policy_to_allow_it() -> None:
    closed = replace(RULES, policies=MeetingPolicies(phone_user_admission="Disabled"))
    assert make(phone_user_admission="Enabled").phone_user_admission == "Enabled"
    assert "phoneUserAdmission" in problems(closed, phone_user_admission="Enabled")
    assert make(closed, phone_user_admission="Disabled").phone_user_admission == "Disabled"


@pytest.mark.parametrize(
    "offset",
    [-timedelta(days=365), timedelta(0), timedelta(days=3652), timedelta(microseconds=1)],
)
def test_expiration_time_inside_the_window_is_kept(offset: timedelta) -> None:
    assert make(expiration_time=NOW + offset).expiration_time == NOW + offset


@pytest.mark.parametrize(
    "offset",
    [
        -timedelta(days=365, microseconds=1),
        timedelta(days=3652, microseconds=1),
        timedelta(days=100_000),
    ],
)
def test_expiration_time_outside_the_window_is_refused(offset: timedelta) -> None:
    assert list(problems(expiration_time=NOW + offset)) == ["expirationTime"]


@pytest.mark.parametrize(
    ("now", "earliest", "latest"),
    [
        # Three leap days in the next ten years: 3653 days, one more than a fixed 3652.
        (
            datetime(2026, 12, 4, 20, 0, tzinfo=UTC),
            datetime(2025, 12, 4, 20, 0, tzinfo=UTC),
            datetime(2036, 12, 4, 20, 0, tzinfo=UTC),
        ),
        # A 29 February in the past year: 366 days back.
        (
            datetime(2028, 3, 1, 0, 0, tzinfo=UTC),
            datetime(2027, 3, 1, 0, 0, tzinfo=UTC),
            datetime(2038, 3, 1, 0, 0, tzinfo=UTC),
        ),
        # From a 29 February: the 28th in years without one.
        (
            datetime(2028, 2, 29, 12, 0, tzinfo=UTC),
            datetime(2027, 2, 28, 12, 0, tzinfo=UTC),
            datetime(2038, 2, 28, 12, 0, tzinfo=UTC),
        ),
    ],
)
def test_the_expiration_window_is_counted_in_calendar_years(
    now: datetime, earliest: datetime, latest: datetime
) -> None:
    def at(when: datetime) -> OnlineMeeting:
        data = MeetingInput(expiration_time=when)
        return new_meeting(data, ORGANIZER, RULES, CountingIds(), now, CONFERENCE_ID)

    assert at(earliest).expiration_time == earliest
    assert at(latest).expiration_time == latest
    tick = timedelta(microseconds=1)
    for outside in (earliest - tick, latest + tick):
        with pytest.raises(BadRequest) as caught:
            at(outside)
        assert list(caught.value.parameters) == ["expirationTime"]


@pytest.mark.parametrize(("field", "limit"), [("subject", 250), ("description", 4096)])
def test_subject_and_description_lengths(field: str, limit: int) -> None:
    assert getattr(make(**{field: "x" * limit}), field) == "x" * limit
    assert str(limit) in problems(**{field: "x" * (limit + 1)})[field]
    small = replace(RULES, max_subject_length=3, max_description_length=3)
    assert field in problems(small, **{field: "abcd"})


@pytest.mark.parametrize("field", ["attendees", "leaders"])
def test_people_are_parsed_deduplicated_and_kept_in_order(field: str) -> None:
    """As spelled (the first spelling of each person; ``sip:`` added where it was left out),
    as ScheduleAnOnlineMeeting echoes ``sip:Chris@contoso.com``; duplicates found by their
    canonical form."""
    sent = ["Tosh@Contoso.com", "SIP:alice@contoso.com", " sip:TOSH@contoso.com ", ALICE]
    assert getattr(make(**{field: sent}), field) == (
        "sip:Tosh@Contoso.com",
        "sip:alice@contoso.com",
    )
    assert getattr(make(**{field: ["sip:Chris@contoso.com"]}), field) == ("sip:Chris@contoso.com",)


@pytest.mark.parametrize("field", ["attendees", "leaders"])
def test_people_must_be_sip_addresses(field: str) -> None:
    found = problems(**{field: [ALICE, "not a sip address" + "x" * 200]})
    assert "Not a SIP address" in found[field]
    assert len(found[field]) < 150  # the echoed input is cut short


@pytest.mark.parametrize("field", ["attendees", "leaders"])
def test_people_must_be_part_of_the_organization(field: str) -> None:
    found = problems(**{field: [ALICE, "sip:eve@fabrikam.com"]})
    assert "sip:eve@fabrikam.com is not part of the organization" in found[field]
    lenient = replace(RULES, require_invitees_in_organization=False)
    assert getattr(make(lenient, **{field: ["eve@fabrikam.com"]}), field) == (
        "sip:eve@fabrikam.com",
    )


def test_the_organizer_is_dropped_from_leaders_but_not_from_attendees() -> None:
    meeting = make(leaders=["BMauldin@contoso.com", ALICE], attendees=[ORGANIZER])
    assert meeting.leaders == (ALICE,)
    assert meeting.attendees == (ORGANIZER,)


@pytest.mark.parametrize("field", ["attendees", "leaders"])
def test_max_invitees(field: str) -> None:
    two = replace(RULES, max_invitees=2)
    assert len(getattr(make(two, **{field: [ALICE, TOSH]}), field)) == 2
    assert "At most 2" in problems(two, **{field: [ALICE, TOSH, "sip:carol@contoso.com"]})[field]


def test_empty_people_lists_are_fine() -> None:
    assert make(attendees=[], leaders=[]).attendees == ()


def test_every_problem_is_reported_in_one_error() -> None:
    found = problems(
        access_level="Open",
        automatic_leader_assignment="Nobody",
        entry_exit_announcement="Loud",
        lobby_bypass_for_phone_users="Maybe",
        phone_user_admission="Sometimes",
        subject="s" * 251,
        description="d" * 4097,
        attendees=["sip:eve@fabrikam.com"],
        leaders=["nobody"],
        expiration_time=NOW - timedelta(days=400),
    )
    assert set(found) == {
        "accessLevel",
        "automaticLeaderAssignment",
        "entryExitAnnouncement",
        "lobbyBypassForPhoneUsers",
        "phoneUserAdmission",
        "subject",
        "description",
        "attendees",
        "leaders",
        "expirationTime",
    }


# -- updates --------------------------------------------------------------------------------


def test_updated_meeting_replaces_writable_fields_and_keeps_read_only_ones() -> None:
    ids = CountingIds()
    original = new_meeting(
        MeetingInput(subject="Sales", attendees=[ALICE], access_level="Everyone"),
        ORGANIZER,
        RULES,
        ids,
        NOW,
        CONFERENCE_ID,
    )
    later = NOW + timedelta(hours=1)
    updated = updated_meeting(original, MeetingInput(leaders=[TOSH]), RULES, ids, later)
    assert updated.etag != original.etag
    for name in ("meeting_id", "conference_id", "conversation_guid", "put_guid", "organizer_uri"):
        assert getattr(updated, name) == getattr(original, name)
    assert updated.online_meeting_rel == original.online_meeting_rel
    # PUT replaces every writable property: what was left out goes back to its default.
    assert (updated.subject, updated.attendees, updated.leaders) == ("", (), (TOSH,))
    assert updated.access_level == "SameEnterprise"
    assert updated.expiration_time == later + timedelta(hours=8)


def test_updated_meeting_never_reuses_the_old_etag() -> None:
    original = make()
    ids = CountingIds(etags=[original.etag, original.etag, "fresh"])
    assert updated_meeting(original, MeetingInput(), RULES, ids, NOW).etag == "fresh"


def test_updated_meeting_validates_like_create() -> None:
    with pytest.raises(BadRequest) as caught:
        updated_meeting(make(), MeetingInput(subject="x" * 251), RULES, CountingIds(), NOW)
    assert list(caught.value.parameters) == ["subject"]


def test_with_new_identity_remints_only_the_meeting_id() -> None:
    ids = CountingIds()
    original = new_meeting(MeetingInput(subject="Sales"), ORGANIZER, RULES, ids, NOW, CONFERENCE_ID)
    fresh = with_new_identity(original, ids)
    assert fresh.meeting_id == "MEET0005" != original.meeting_id
    assert replace(fresh, meeting_id=original.meeting_id) == original


# -- identity and URIs ----------------------------------------------------------------------


def test_online_meeting_uris_have_the_documented_shapes() -> None:
    meeting = make()
    assert meeting.online_meeting_uri == (
        "sip:bmauldin@contoso.com;gruu;opaque=app:conf:focus:id:MEET0001"
    )
    assert meeting.legacy_online_meeting_uri == (
        "conf:sip:bmauldin@contoso.com;gruu;opaque=app:conf:focus:id:MEET0001"
        f"?conversation-id={meeting.conversation_guid}"
    )
    assert meeting.organizer_user_part == "bmauldin"


def test_assigned_meeting() -> None:
    meeting = new_meeting(
        MeetingInput(), ORGANIZER, RULES, CountingIds(), NOW, CONFERENCE_ID, ASSIGNED
    )
    assert meeting.is_assigned and meeting.online_meeting_rel == "myAssignedOnlineMeeting"


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("IB88RLLY", True),
        ("PYC58WSY", True),
        ("12345678", True),
        ("ib88rlly", False),
        ("IB88RLL", False),
        ("IB88RLLYX", False),
        ("IB88RLL-", False),
        ("IB88RLLÄ", False),
        ("", False),
    ],
)
def test_is_meeting_id(value: str, ok: bool) -> None:
    assert is_meeting_id(value) is ok


def test_random_ids_have_the_shapes_real_servers_mint() -> None:
    ids = RandomIds()
    for _ in range(200):
        assert is_meeting_id(ids.meeting_id())
        assert re.fullmatch(r"[1-9]\d{11}", ids.application_id())
        assert re.fullmatch(GUID, ids.guid())
        assert re.fullmatch(r"[1-9]\d{0,9}", ids.etag())
        assert re.fullmatch(r"[0-9a-f]{12}", ids.short_id())
    assert len({ids.meeting_id() for _ in range(200)}) == 200
    assert len({ids.short_id() for _ in range(200)}) == 200


@pytest.mark.parametrize(
    ("value", "expected"),
    [("everyone", "Everyone"), ("EVERYONE", "Everyone"), ("Everyone", "Everyone"), ("all", None)],
)
def test_canonical_enum(value: str, expected: str | None) -> None:
    assert canonical_enum(value, ("Disabled", "Everyone")) == expected

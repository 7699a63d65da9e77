"""Scheduled online meetings: the rules of myOnlineMeetings / myOnlineMeeting (spec §2.6).

Everything that decides what a stored meeting looks like lives here: enum spellings,
defaults, eligibility, the expirationTime window, organisation membership of attendees and
leaders, and how ids are minted. No I/O: ids and time come in as arguments.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from openucwa.domain.errors import BadRequest, validation_failure
from openucwa.domain.frozen import quick_constructor
from openucwa.domain.ids import IdGenerator, MeetingId
from openucwa.domain.users import Organization, parse_sip_uri

ACCESS_LEVELS = ("Everyone", "Invited", "Locked", "None", "SameEnterprise")
AUTOMATIC_LEADER_ASSIGNMENTS = ("Disabled", "Everyone", "SameEnterprise")
ENTRY_EXIT_ANNOUNCEMENTS = ("Disabled", "Enabled", "Unsupported")
LOBBY_BYPASS_FOR_PHONE_USERS = ("Disabled", "Enabled")
PHONE_USER_ADMISSION = ("Disabled", "Enabled")
ONLINE_MEETING_RELS = ("myAssignedOnlineMeeting", "myOnlineMeetings")
GENERIC_POLICY = ("Disabled", "Enabled")

SCHEDULED = "myOnlineMeetings"
ASSIGNED = "myAssignedOnlineMeeting"


def canonical_enum(value: str, allowed: Sequence[str]) -> str | None:
    """Match an enum value case-insensitively and return its canonical spelling."""
    if value in allowed:  # already canonical, as clients send it: nothing to casefold
        return value
    folded = value.casefold()
    for candidate in allowed:
        if candidate.casefold() == folded:
            return candidate
    return None


@dataclass(frozen=True, slots=True)
class MeetingDefaults:
    access_level: str = "SameEnterprise"
    automatic_leader_assignment: str = "Disabled"
    entry_exit_announcement: str = "Disabled"
    lobby_bypass_for_phone_users: str = "Disabled"
    phone_user_admission: str = "Disabled"
    default_online_meeting_rel: str = SCHEDULED
    participants_warning_threshold: int = 250


@dataclass(frozen=True, slots=True)
class EligibleValues:
    access_levels: tuple[str, ...] = ("Everyone", "Invited", "Locked", "SameEnterprise")
    automatic_leader_assignments: tuple[str, ...] = ("Disabled", "SameEnterprise", "Everyone")
    eligible_online_meeting_rels: tuple[str, ...] = (SCHEDULED, ASSIGNED)
    entry_exit_announcements: tuple[str, ...] = ("Disabled",)
    lobby_bypass_for_phone_users_settings: tuple[str, ...] = ("Disabled", "Enabled")


@dataclass(frozen=True, slots=True)
class MeetingPolicies:
    entry_exit_announcement: str = "Disabled"
    external_user_meeting_recording: str = "Disabled"
    meeting_recording: str = "Disabled"
    phone_user_admission: str = "Enabled"
    voip_audio: str = "Enabled"
    meeting_size: int = 250


@dataclass(frozen=True, slots=True)
class SchedulingRules:
    """Operator configuration for scheduling. Every limit here is documented in docs/."""

    organization: Organization
    defaults: MeetingDefaults = field(default_factory=MeetingDefaults)
    eligible: EligibleValues = field(default_factory=EligibleValues)
    policies: MeetingPolicies = field(default_factory=MeetingPolicies)
    max_meetings_per_user: int = 1000
    max_extensions_per_meeting: int = 32
    # Stored values of all of a meeting's extensions together: a list embeds every extension of
    # every meeting, so this times max_meetings_per_user bounds what one user's list holds.
    max_extension_bytes_per_meeting: int = 16 * 1024
    default_lifetime: timedelta = timedelta(hours=8)
    max_subject_length: int = 250
    max_description_length: int = 4096
    max_invitees: int = 1000
    require_invitees_in_organization: bool = True


@dataclass(frozen=True, slots=True)
class MeetingInput:
    """The writable properties of a meeting as the client sent them (None = absent or null)."""

    access_level: str | None = None
    attendees: Sequence[str] | None = None
    automatic_leader_assignment: str | None = None
    description: str | None = None
    entry_exit_announcement: str | None = None
    expiration_time: datetime | None = None
    leaders: Sequence[str] | None = None
    lobby_bypass_for_phone_users: str | None = None
    phone_user_admission: str | None = None
    subject: str | None = None
    problems: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Extension:
    """An onlineMeetingExtension: an id, a distribution type and programmer-defined values."""

    extension_id: str
    type: str
    values: tuple[tuple[str, object], ...]
    etag: str
    put_guid: str


EXTENSION_TYPES = ("RoamedOrganizerData", "RoamedParticipantData", "Undefined")


@dataclass(frozen=True, slots=True)
class OnlineMeeting:
    meeting_id: MeetingId
    organizer_uri: str
    online_meeting_rel: str
    conference_id: str
    conversation_guid: str
    put_guid: str
    etag: str
    subject: str
    description: str
    access_level: str
    attendees: tuple[str, ...]
    leaders: tuple[str, ...]
    automatic_leader_assignment: str
    entry_exit_announcement: str
    lobby_bypass_for_phone_users: str
    phone_user_admission: str
    expiration_time: datetime
    extensions: tuple[Extension, ...] = ()
    # The meeting ETag under which an extension last changed ("" if none has): an extension
    # changes without changing the meeting's ETag (PayloadFormat).
    embedded_etag: str = ""

    @property
    def embedded_changed(self) -> bool:
        """Whether an extension changed since ``etag`` was minted: a client's copy that
        carries this ETag may then be older than what a GET answers now."""
        return self.embedded_etag == self.etag

    @property
    def online_meeting_uri(self) -> str:
        return f"{self.organizer_uri};gruu;opaque=app:conf:focus:id:{self.meeting_id}"

    @property
    def legacy_online_meeting_uri(self) -> str:
        return f"conf:{self.online_meeting_uri}?conversation-id={self.conversation_guid}"

    @property
    def organizer_user_part(self) -> str:
        return self.organizer_uri[4:].split("@", 1)[0]

    @property
    def is_assigned(self) -> bool:
        return self.online_meeting_rel == ASSIGNED


def _checked_enum(
    name: str,
    value: str | None,
    allowed: Sequence[str],
    eligible: Sequence[str],
    default: str,
    problems: dict[str, str],
) -> str:
    if value is None:
        return default
    canonical = value if value in allowed else canonical_enum(value, allowed)
    if canonical is None:
        problems[name] = f"Must be one of: {', '.join(allowed)}."
        return default
    if canonical == "None" and name == "accessLevel":
        return default  # "not initialized": replaced by the default, never stored.
    if canonical not in eligible:
        problems[name] = f"Not eligible for this organizer; eligible: {', '.join(eligible)}."
        return default
    return canonical


def _checked_people(
    name: str,
    values: Sequence[str] | None,
    rules: SchedulingRules,
    problems: dict[str, str],
    drop: str | None = None,
) -> tuple[str, ...]:
    """SIP addresses as the client spelled them (``sip:`` added where it was left out), as the
    ScheduleAnOnlineMeeting trace echoes ``sip:Chris@contoso.com``; checked, and duplicates
    (and ``drop``) found, by their canonical lowercase form. Compare them through
    ``parse_sip_uri``."""
    if not values:
        return ()
    if len(values) > rules.max_invitees:
        problems[name] = f"At most {rules.max_invitees} entries."
        return ()
    people: dict[str, str] = {}  # canonical -> as spelled, the first spelling kept
    members_only = rules.require_invitees_in_organization
    contains = rules.organization.contains
    for raw in values:
        uri = parse_sip_uri(raw)
        if uri is None:
            problems[name] = f"Not a SIP address: {raw[:100]!r}."
            return ()
        if members_only and not contains(uri):
            problems[name] = f"{uri} is not part of the organization."
            return ()
        if uri not in people and uri != drop:
            text = raw.strip()
            people[uri] = "sip:" + (text[4:] if text[:4].lower() == "sip:" else text)
    return tuple(people.values())


@dataclass(slots=True)  # not frozen: private, and a frozen __init__ costs ~1 us more
class _Checked:
    access_level: str
    attendees: tuple[str, ...]
    leaders: tuple[str, ...]
    automatic_leader_assignment: str
    entry_exit_announcement: str
    lobby_bypass_for_phone_users: str
    phone_user_admission: str
    description: str
    subject: str
    expiration_time: datetime


ASSIGNED_LIFETIME = timedelta(days=3650)
EXPIRATION_YEARS_BACK = 1
EXPIRATION_YEARS_AHEAD = 10


def years_from(when: datetime, years: int) -> datetime:
    """The same date and time ``years`` calendar years later (earlier when negative); 29
    February becomes 28 February in a year without one. The expirationTime window is counted
    in calendar years: a fixed 3652 days fell a day short of "ten years" across three leap
    days."""
    try:
        return when.replace(year=when.year + years)
    except ValueError:  # 29 February
        return when.replace(year=when.year + years, day=28)


def _entry_exit_eligible(rules: SchedulingRules) -> tuple[str, ...]:
    """The eligible entryExitAnnouncement values: "Enabled" only when the policy enables it."""
    offered = rules.eligible.entry_exit_announcements
    if rules.policies.entry_exit_announcement == "Enabled" or "Enabled" not in offered:
        return offered
    return tuple(v for v in offered if v != "Enabled")


def check_input(
    data: MeetingInput,
    rules: SchedulingRules,
    now: datetime,
    organizer_uri: str,
    online_meeting_rel: str = SCHEDULED,
) -> _Checked:
    """Apply every documented rule; raise 400 ParameterValidationFailure naming each problem,
    together with those found while reading the body (``data.problems``, e.g. wrong types)."""
    problems: dict[str, str] = dict(data.problems)
    d, e = rules.defaults, rules.eligible
    access_level = _checked_enum(
        "accessLevel", data.access_level, ACCESS_LEVELS, e.access_levels, d.access_level, problems
    )
    ala = _checked_enum(
        "automaticLeaderAssignment",
        data.automatic_leader_assignment,
        AUTOMATIC_LEADER_ASSIGNMENTS,
        e.automatic_leader_assignments,
        d.automatic_leader_assignment,
        problems,
    )
    eea = _checked_enum(
        "entryExitAnnouncement",
        data.entry_exit_announcement,
        ENTRY_EXIT_ANNOUNCEMENTS,
        _entry_exit_eligible(rules),
        d.entry_exit_announcement,
        problems,
    )
    lobby_bypass = _checked_enum(
        "lobbyBypassForPhoneUsers",
        data.lobby_bypass_for_phone_users,
        LOBBY_BYPASS_FOR_PHONE_USERS,
        e.lobby_bypass_for_phone_users_settings,
        d.lobby_bypass_for_phone_users,
        problems,
    )
    pua_eligible = (
        PHONE_USER_ADMISSION if rules.policies.phone_user_admission == "Enabled" else ("Disabled",)
    )
    pua = _checked_enum(
        "phoneUserAdmission",
        data.phone_user_admission,
        PHONE_USER_ADMISSION,
        pua_eligible,
        d.phone_user_admission,
        problems,
    )
    subject = data.subject or ""
    if len(subject) > rules.max_subject_length:
        problems["subject"] = f"The maximum length is {rules.max_subject_length} characters."
    description = data.description or ""
    if len(description) > rules.max_description_length:
        problems["description"] = (
            f"The maximum length is {rules.max_description_length} characters."
        )
    attendees = _checked_people("attendees", data.attendees, rules, problems)
    # The organizer leads anyway: not listed among the leaders.
    leaders = _checked_people("leaders", data.leaders, rules, problems, drop=organizer_uri)
    expiration = data.expiration_time
    if expiration is None:
        lifetime = ASSIGNED_LIFETIME if online_meeting_rel == ASSIGNED else rules.default_lifetime
        expiration = now + lifetime
    elif not (
        years_from(now, -EXPIRATION_YEARS_BACK)
        <= expiration
        <= years_from(now, EXPIRATION_YEARS_AHEAD)
    ):
        problems["expirationTime"] = (
            "Must fall between one year before and ten years after the current time."
        )
    if problems:
        raise validation_failure(problems)
    return _Checked(
        access_level=access_level,
        attendees=attendees,
        leaders=leaders,
        automatic_leader_assignment=ala,
        entry_exit_announcement=eea,
        lobby_bypass_for_phone_users=lobby_bypass,
        phone_user_admission=pua,
        description=description,
        subject=subject,
        expiration_time=expiration,
    )


def new_meeting(
    data: MeetingInput,
    organizer_uri: str,
    rules: SchedulingRules,
    ids: IdGenerator,
    now: datetime,
    conference_id: str,
    online_meeting_rel: str = SCHEDULED,
) -> OnlineMeeting:
    """A checked new meeting with fresh ids. ``conference_id`` comes from the storage's
    sequence (``MeetingRepository.reserve_conference_ids``): unique by construction."""
    checked = check_input(data, rules, now, organizer_uri, online_meeting_rel)
    return _with_fields(
        checked,
        meeting_id=ids.meeting_id(),
        organizer_uri=organizer_uri,
        online_meeting_rel=online_meeting_rel,
        conference_id=conference_id,
        conversation_guid=ids.guid(),
        put_guid=ids.guid(),
        etag=ids.etag(),
    )


def updated_meeting(
    meeting: OnlineMeeting,
    data: MeetingInput,
    rules: SchedulingRules,
    ids: IdGenerator,
    now: datetime,
) -> OnlineMeeting:
    """PUT replaces every writable property (spec §2.0.5); read-only ones never change."""
    checked = check_input(data, rules, now, meeting.organizer_uri, meeting.online_meeting_rel)
    return _with_fields(
        checked,
        meeting_id=meeting.meeting_id,
        organizer_uri=meeting.organizer_uri,
        online_meeting_rel=meeting.online_meeting_rel,
        conference_id=meeting.conference_id,
        conversation_guid=meeting.conversation_guid,
        put_guid=meeting.put_guid,
        etag=_fresh_etag(ids, meeting.etag),
        extensions=meeting.extensions,
    )


def with_new_identity(meeting: OnlineMeeting, ids: IdGenerator) -> OnlineMeeting:
    """Re-mint the id that must be unique per organizer (after a storage collision)."""
    return replace(meeting, meeting_id=ids.meeting_id())


# Built on every create and update: the same objects for ~40% of the cost (domain/frozen.py).
_build_meeting = quick_constructor(OnlineMeeting)
build_meeting_input = quick_constructor(MeetingInput)


def _with_fields(
    checked: _Checked,
    *,
    meeting_id: MeetingId,
    organizer_uri: str,
    online_meeting_rel: str,
    conference_id: str,
    conversation_guid: str,
    put_guid: str,
    etag: str,
    extensions: tuple[Extension, ...] = (),
) -> OnlineMeeting:
    """The one place a meeting is assembled: its identity plus the checked writable fields."""
    return _build_meeting(
        meeting_id=meeting_id,
        organizer_uri=organizer_uri,
        online_meeting_rel=online_meeting_rel,
        conference_id=conference_id,
        conversation_guid=conversation_guid,
        put_guid=put_guid,
        etag=etag,
        subject=checked.subject,
        description=checked.description,
        access_level=checked.access_level,
        attendees=checked.attendees,
        leaders=checked.leaders,
        automatic_leader_assignment=checked.automatic_leader_assignment,
        entry_exit_announcement=checked.entry_exit_announcement,
        lobby_bypass_for_phone_users=checked.lobby_bypass_for_phone_users,
        phone_user_admission=checked.phone_user_admission,
        expiration_time=checked.expiration_time,
        extensions=extensions,
    )


def _fresh_etag(ids: IdGenerator, old: str) -> str:
    etag = ids.etag()
    while etag == old:
        etag = ids.etag()
    return etag


# -- extensions -------------------------------------------------------------------------------

MAX_EXTENSION_ID_LENGTH = 256
MAX_EXTENSION_VALUES = 64
MAX_EXTENSION_VALUE_LENGTH = 4096
EXTENSION_RESERVED = frozenset({"id", "type", "rel", "etag", "_links", "_embedded"})
PUT_MARKER = "please pass this in a PUT request"
_GUID_NAME = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)


def is_put_marker(name: str, value: object) -> bool:
    """The GUID-named "please pass this in a PUT request" property of a resource. Only a
    GUID-named one: a programmer-defined property may hold that text as its value."""
    return value == PUT_MARKER and _GUID_NAME.fullmatch(name) is not None


def _fits_64_bits(value: object) -> bool:
    """Integers are kept exactly within the signed and unsigned 64-bit ranges; beyond them
    JSON libraries disagree (some turn them into floats), so they are refused."""
    if isinstance(value, list):
        return all(map(_fits_64_bits, value))
    return not isinstance(value, int) or isinstance(value, bool) or -(2**63) <= value < 2**64


DOTS = frozenset({".", ".."})


def check_extension(
    extension_id: str | None,
    type_: str | None,
    values: Iterable[tuple[str, object]],
    ids: IdGenerator,
    put_guid: str | None = None,
) -> Extension:
    problems: dict[str, str] = {}
    ext_id = extension_id if extension_id is not None else ids.guid()
    # "." and ".." would be dot segments in the extension's href: clients (and browsers)
    # resolve them to the collection or to the meeting itself.
    if not ext_id or len(ext_id) > MAX_EXTENSION_ID_LENGTH or "/" in ext_id or ext_id in DOTS:
        problems["id"] = f"1 to {MAX_EXTENSION_ID_LENGTH} characters, no '/', not '.' or '..'."
    ext_type = "Undefined"
    if type_ is not None:
        canonical = canonical_enum(type_, EXTENSION_TYPES)
        if canonical is None:
            problems["type"] = f"Must be one of: {', '.join(EXTENSION_TYPES)}."
        else:
            ext_type = canonical
    kept: list[tuple[str, object]] = []
    for name, value in values:
        if name.casefold() in EXTENSION_RESERVED or is_put_marker(name, value):
            continue  # what a GET carries and a client sends back: not the client's data
        if not name:
            problems["properties"] = "A property name must not be empty."
        elif len(name) > MAX_EXTENSION_ID_LENGTH:
            problems[name[:64]] = "Property name too long."
        elif not _fits_64_bits(value):
            problems[name] = "Integers must fit in 64 bits."
        elif len(value if isinstance(value, str) else repr(value)) > MAX_EXTENSION_VALUE_LENGTH:
            problems[name] = f"Value longer than {MAX_EXTENSION_VALUE_LENGTH} characters."
        else:
            kept.append((name, value))
    if len(kept) > MAX_EXTENSION_VALUES:
        problems["properties"] = f"At most {MAX_EXTENSION_VALUES} programmer-defined properties."
    if problems:
        raise validation_failure(problems)
    return Extension(
        extension_id=ext_id,
        type=ext_type,
        values=tuple(kept),
        etag=ids.etag(),
        put_guid=put_guid or ids.guid(),
    )


def require_extension_id(value: str) -> str:
    if not value or len(value) > MAX_EXTENSION_ID_LENGTH:
        raise BadRequest("ParameterValidationFailure", "Invalid extension id.")
    return value

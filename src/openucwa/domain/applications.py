"""UCWA applications: one registered client instance of a user (spec §2.3)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from openucwa.domain.errors import Forbidden, validation_failure
from openucwa.domain.ids import ApplicationId, IdGenerator
from openucwa.domain.meetings import canonical_enum

MAX_FIELD_LENGTH = 100
MODALITY_TYPES = (
    "Audio",
    "Messaging",
    "PanoramicVideo",
    "PhoneAudio",
    "Video",
    "ApplicationSharing",
    "DataCollaboration",
)
MESSAGE_FORMATS = ("Html", "Plain")
AVAILABILITIES = ("Away", "BeRightBack", "Busy", "DoNotDisturb", "Offwork", "Online")
AUDIO_PREFERENCES = ("PhoneAudio", "VoipAudio")
GENERIC_POLICIES = ("Disabled", "Enabled", "None")
LIS_QUERY_RESULTS = ("Failed", "Succeeded")
MAX_PHONE_NUMBER = 100  # communication_ref
MAX_LIS_LOCATION = 4096

# The communication resource's settings a client may write (communication_ref PUT), with the
# values each takes: a tuple of enum values, or the type of a free value (str: its maximum
# length). Stored as given (enums in their canonical spelling) and echoed by GET.
COMMUNICATION_SETTINGS: dict[str, tuple[str, ...] | type | int] = {
    "audioPreference": AUDIO_PREFERENCES,
    "conversationHistory": GENERIC_POLICIES,
    "lisLocation": MAX_LIS_LOCATION,
    "lisQueryResult": LIS_QUERY_RESULTS,
    "phoneNumber": MAX_PHONE_NUMBER,
    "publishEndpointLocation": bool,
    "videoBasedScreenSharing": GENERIC_POLICIES,
}
Setting = tuple[str, str | bool]


@dataclass(frozen=True, slots=True)
class ApplicationInput:
    culture: str | None
    endpoint_id: str | None
    user_agent: str | None
    instance_id: str | None = None
    type: str | None = None


@dataclass(frozen=True, slots=True)
class Application:
    app_id: ApplicationId
    owner_uri: str
    culture: str
    endpoint_id: str
    user_agent: str
    instance_id: str
    type: str
    etag: str
    communication_etag: str
    communication_put_guid: str
    created_at: datetime
    last_seen: datetime
    available: bool = False
    sign_in_as: str = ""
    supported_modalities: tuple[str, ...] = ()
    supported_message_formats: tuple[str, ...] = ("Plain",)
    # (name, value) of the COMMUNICATION_SETTINGS a client set, in that table's order
    communication_settings: tuple[Setting, ...] = ()
    # The application ETag under which an embedded resource (me, communication) last changed
    # ("" if none has); such a change leaves the application's ETag as it is (PayloadFormat).
    embedded_etag: str = ""

    @property
    def embedded_changed(self) -> bool:
        """Whether me or communication changed since ``etag`` was minted."""
        return self.embedded_etag == self.etag


def checked_settings(given: dict[str, object], problems: dict[str, str]) -> tuple[Setting, ...]:
    """``given``: COMMUNICATION_SETTINGS names -> what the client sent (None: not set). The
    ones set, checked (enums in canonical spelling); problems are named for the rest."""
    kept: list[Setting] = []
    for name, allowed in COMMUNICATION_SETTINGS.items():
        value = given.get(name)
        if value is None:
            continue
        if allowed is bool:
            if isinstance(value, bool):
                kept.append((name, value))
            else:
                problems[name] = "Must be true or false."
        elif isinstance(allowed, int):
            if isinstance(value, str) and len(value) <= allowed:
                kept.append((name, value))
            else:
                problems[name] = f"Must be text of at most {allowed} characters."
        elif isinstance(allowed, tuple):
            canonical = canonical_enum(value, allowed) if isinstance(value, str) else None
            if canonical is None:
                problems[name] = f"Must be one of: {', '.join(allowed)}."
            else:
                kept.append((name, canonical))
    return tuple(kept)


def _merged(old: tuple[Setting, ...], new: tuple[Setting, ...]) -> tuple[Setting, ...]:
    values = dict(old) | dict(new)
    return tuple((name, values[name]) for name in COMMUNICATION_SETTINGS if name in values)


def new_application(
    data: ApplicationInput, owner_uri: str, ids: IdGenerator, now: datetime
) -> Application:
    problems: dict[str, str] = {}
    required = {
        "culture": data.culture,
        "endpointId": data.endpoint_id,
        "userAgent": data.user_agent,
    }
    for name, value in required.items():
        if not value:
            problems[name] = "This parameter is required."
        elif len(value) > MAX_FIELD_LENGTH:
            problems[name] = f"The maximum length is {MAX_FIELD_LENGTH} characters."
    if data.instance_id is not None and len(data.instance_id) > MAX_FIELD_LENGTH:
        problems["instanceId"] = f"The maximum length is {MAX_FIELD_LENGTH} characters."
    app_type = "Browser"
    if data.type is not None and canonical_enum(data.type, ("Browser",)) is None:
        problems["type"] = "The only supported type is Browser."
    if problems:
        raise validation_failure(problems)
    return Application(
        app_id=ids.application_id(),
        owner_uri=owner_uri,
        culture=data.culture or "",
        endpoint_id=data.endpoint_id or "",
        user_agent=data.user_agent or "",
        instance_id=data.instance_id or "",
        type=app_type,
        etag=ids.etag(),
        communication_etag=ids.etag(),
        communication_put_guid=ids.guid(),
        created_at=now,
        last_seen=now,
    )


@dataclass(frozen=True, slots=True)
class AvailabilityInput:
    sign_in_as: str | None = None
    supported_modalities: tuple[str, ...] | None = None
    supported_message_formats: tuple[str, ...] | None = None
    audio_preference: str | None = None
    phone_number: str | None = None


def make_available(
    app: Application, data: AvailabilityInput, ids: IdGenerator, now: datetime
) -> Application:
    """makeMeAvailable: leave lurker mode (spec §2.3.5)."""
    problems: dict[str, str] = {}
    sign_in_as = "Online"
    if data.sign_in_as is not None:
        canonical = canonical_enum(data.sign_in_as, AVAILABILITIES)
        if canonical is None:
            problems["signInAs"] = f"Must be one of: {', '.join(AVAILABILITIES)}."
        else:
            sign_in_as = canonical
    settings = checked_settings(
        {"audioPreference": data.audio_preference, "phoneNumber": data.phone_number}, problems
    )
    modalities = _enum_list(
        "supportedModalities", data.supported_modalities or ("Messaging",), MODALITY_TYPES, problems
    )
    formats = _enum_list(
        "supportedMessageFormats", data.supported_message_formats or ("Plain",), MESSAGE_FORMATS,
        problems,
    )  # fmt: skip
    if problems:
        raise validation_failure(problems)
    if any(m not in ("Messaging", "PhoneAudio") for m in modalities):
        raise Forbidden(message="Only the Messaging and PhoneAudio modalities are supported.")
    return replace(
        app,
        available=True,
        sign_in_as=sign_in_as,
        supported_modalities=tuple(modalities),
        supported_message_formats=tuple(formats),
        communication_settings=_merged(app.communication_settings, settings),
        communication_etag=ids.etag(),
        embedded_etag=app.etag,
        last_seen=now,
    )


@dataclass(frozen=True, slots=True)
class Lifetime:
    """How long an application lives without requests (spec §2.3.3; values are configuration)."""

    idle: timedelta = timedelta(minutes=10)
    idle_when_available: timedelta = timedelta(minutes=60)
    purge_after: timedelta = timedelta(hours=1)

    def is_expired(self, app: Application, now: datetime) -> bool:
        limit = self.idle_when_available if app.available else self.idle
        return now - app.last_seen > limit

    def is_purgeable(self, app: Application, now: datetime) -> bool:
        limit = self.idle_when_available if app.available else self.idle
        return now - app.last_seen > limit + self.purge_after


def update_communication(
    app: Application,
    modalities: tuple[str, ...] | None,
    formats: tuple[str, ...] | None,
    settings: dict[str, object],
    ids: IdGenerator,
) -> Application:
    """PUT communication (spec §2.7.1): the supported modalities and message formats and the
    other writable settings (COMMUNICATION_SETTINGS), the whole set replaced as for every PUT."""
    problems: dict[str, str] = {}
    kept = checked_settings(settings, problems)
    chosen_modalities = _enum_list(
        "supportedModalities", modalities or (), MODALITY_TYPES, problems
    )
    chosen_formats = _enum_list(
        "supportedMessageFormats", formats or ("Plain",), MESSAGE_FORMATS, problems
    )
    if problems:
        raise validation_failure(problems)
    etag = ids.etag()
    while etag == app.communication_etag:
        etag = ids.etag()
    return replace(
        app,
        supported_modalities=tuple(chosen_modalities),
        supported_message_formats=tuple(chosen_formats),
        communication_settings=kept,
        communication_etag=etag,
        embedded_etag=app.etag,
    )


def _enum_list(
    name: str, values: tuple[str, ...], allowed: tuple[str, ...], problems: dict[str, str]
) -> list[str]:
    """Canonical spellings of ``values`` without repeats; a problem for ``name`` if any
    value is not one of ``allowed``."""
    chosen: list[str] = []
    for value in values:
        canonical = canonical_enum(value, allowed)
        if canonical is None:
            problems[name] = f"Must be among: {', '.join(allowed)}."
        elif canonical not in chosen:
            chosen.append(canonical)
    return chosen

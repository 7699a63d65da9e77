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
    if data.audio_preference is not None and (
        canonical_enum(data.audio_preference, AUDIO_PREFERENCES) is None
    ):
        problems["audioPreference"] = f"Must be one of: {', '.join(AUDIO_PREFERENCES)}."
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
        communication_etag=ids.etag(),
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
    ids: IdGenerator,
) -> Application:
    """PUT communication: the supported modalities and message formats (spec §2.7.1)."""
    problems: dict[str, str] = {}
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
        communication_etag=etag,
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

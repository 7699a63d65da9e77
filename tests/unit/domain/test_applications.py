"""Applications (spec §2.3.1, §2.3.3, §2.3.5) and users/organisation (§2.2)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from openucwa.domain.applications import (
    MODALITY_TYPES,
    Application,
    ApplicationInput,
    AvailabilityInput,
    Lifetime,
    make_available,
    new_application,
    update_communication,
)
from openucwa.domain.errors import BadRequest, Forbidden
from openucwa.domain.users import Organization, User, parse_sip_uri, require_sip_uri
from tests.unit.domain.test_meetings import CountingIds

NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
OWNER = "sip:bmauldin@contoso.com"
VALID = {"culture": "en-US", "endpoint_id": "endpoint-1", "user_agent": "tests/1.0"}


def create(**changes: Any) -> Application:
    return new_application(ApplicationInput(**{**VALID, **changes}), OWNER, CountingIds(), NOW)


def refused(**changes: Any) -> dict[str, str]:
    with pytest.raises(BadRequest) as caught:
        create(**changes)
    assert caught.value.subcode == "ParameterValidationFailure"
    return caught.value.parameters


def test_new_application() -> None:
    app = create(instance_id="tab-2")
    assert (app.app_id, app.etag, app.communication_etag) == ("100000000001", "2", "3")
    assert app.communication_put_guid == "00000000-0000-4000-8000-000000000004"
    assert (app.owner_uri, app.culture, app.endpoint_id) == (OWNER, "en-US", "endpoint-1")
    assert (app.user_agent, app.instance_id, app.type) == ("tests/1.0", "tab-2", "Browser")
    assert app.created_at == app.last_seen == NOW
    assert not app.available and app.supported_message_formats == ("Plain",)
    assert create().instance_id == ""


@pytest.mark.parametrize(
    ("field", "name"),
    [("culture", "culture"), ("endpoint_id", "endpointId"), ("user_agent", "userAgent")],
)
@pytest.mark.parametrize("missing", [None, ""])
def test_required_fields(field: str, name: str, missing: str | None) -> None:
    assert refused(**{field: missing}) == {name: "This parameter is required."}


def test_all_missing_fields_are_reported_together() -> None:
    found = refused(culture=None, endpoint_id="", user_agent=None, type="Desktop")
    assert set(found) == {"culture", "endpointId", "userAgent", "type"}


@pytest.mark.parametrize(
    ("field", "name"),
    [
        ("culture", "culture"),
        ("endpoint_id", "endpointId"),
        ("user_agent", "userAgent"),
        ("instance_id", "instanceId"),
    ],
)
def test_fields_are_at_most_100_characters(field: str, name: str) -> None:
    assert getattr(create(**{field: "x" * 100}), field) == "x" * 100
    assert "100" in refused(**{field: "x" * 101})[name]


@pytest.mark.parametrize("value", ["Browser", "browser", "BROWSER"])
def test_type_browser_is_accepted(value: str) -> None:
    assert create(type=value).type == "Browser"


@pytest.mark.parametrize("value", ["Desktop", "", "Browser2"])
def test_any_other_type_is_refused(value: str) -> None:
    assert list(refused(type=value)) == ["type"]


# -- makeMeAvailable ------------------------------------------------------------------------


def available(**fields: Any) -> Application:
    return make_available(create(), AvailabilityInput(**fields), CountingIds(), NOW + timedelta(1))


def available_refused(**fields: Any) -> dict[str, str]:
    with pytest.raises(BadRequest) as caught:
        available(**fields)
    return caught.value.parameters


def test_make_available_defaults() -> None:
    before = create()
    app = make_available(before, AvailabilityInput(), CountingIds(), NOW + timedelta(minutes=1))
    assert app.available and app.sign_in_as == "Online"
    assert app.supported_modalities == ("Messaging",)
    assert app.supported_message_formats == ("Plain",)
    assert app.last_seen == NOW + timedelta(minutes=1)
    assert app.communication_etag == "1"
    assert (
        replace(
            app,
            available=False,
            sign_in_as="",
            supported_modalities=(),
            communication_etag=before.communication_etag,
            embedded_etag=before.embedded_etag,
            last_seen=NOW,
        )
        == before
    )


def test_make_available_canonicalises_and_deduplicates() -> None:
    app = available(
        sign_in_as="busy",
        supported_modalities=("messaging", "PHONEAUDIO", "Messaging"),
        supported_message_formats=("html", "Plain", "HTML"),
        audio_preference="voipaudio",
    )
    assert app.sign_in_as == "Busy"
    assert app.supported_modalities == ("Messaging", "PhoneAudio")
    assert app.supported_message_formats == ("Html", "Plain")


def test_make_available_reports_every_bad_enum() -> None:
    found = available_refused(
        sign_in_as="Sleeping",
        audio_preference="Bluetooth",
        supported_modalities=("Telepathy",),
        supported_message_formats=("Rtf",),
    )
    assert set(found) == {
        "signInAs",
        "audioPreference",
        "supportedModalities",
        "supportedMessageFormats",
    }


@pytest.mark.parametrize(
    "modality", [m for m in MODALITY_TYPES if m not in ("Messaging", "PhoneAudio")]
)
def test_unsupported_modalities_are_forbidden(modality: str) -> None:
    with pytest.raises(Forbidden):
        available(supported_modalities=("Messaging", modality.lower()))


def test_validation_problems_come_before_forbidden() -> None:
    assert "supportedModalities" in available_refused(supported_modalities=("Video", "Smell"))


# -- lifetime -------------------------------------------------------------------------------

LIFETIME = Lifetime()
TICK = timedelta(microseconds=1)


@pytest.mark.parametrize(("is_available", "idle"), [(False, 10), (True, 60)])
def test_is_expired_after_the_idle_limit(is_available: bool, idle: int) -> None:
    app = replace(create(), available=is_available)
    limit = timedelta(minutes=idle)
    assert not LIFETIME.is_expired(app, NOW + limit)
    assert LIFETIME.is_expired(app, NOW + limit + TICK)


@pytest.mark.parametrize(("is_available", "idle"), [(False, 10), (True, 60)])
def test_is_purgeable_an_hour_after_expiry(is_available: bool, idle: int) -> None:
    app = replace(create(), available=is_available)
    limit = timedelta(minutes=idle) + timedelta(hours=1)
    assert not LIFETIME.is_purgeable(app, NOW + limit)
    assert LIFETIME.is_purgeable(app, NOW + limit + TICK)


def test_lifetime_is_configuration() -> None:
    short = Lifetime(idle=timedelta(seconds=5), purge_after=timedelta(seconds=5))
    app = create()
    assert short.is_expired(app, NOW + timedelta(seconds=6))
    assert not short.is_purgeable(app, NOW + timedelta(seconds=10))
    assert short.is_purgeable(app, NOW + timedelta(seconds=11))


# -- PUT communication ----------------------------------------------------------------------


def test_update_communication_canonicalises_and_keeps_the_rest() -> None:
    before = create()
    ids = CountingIds(etags=[before.communication_etag, "fresh"])
    after = update_communication(before, ("messaging", "VIDEO", "Messaging"), ("html",), {}, ids)
    assert after.supported_modalities == ("Messaging", "Video")
    assert after.supported_message_formats == ("Html",)
    assert after.communication_etag == "fresh"  # never the old one
    assert (
        replace(
            after,
            supported_modalities=(),
            supported_message_formats=("Plain",),
            communication_etag=before.communication_etag,
            embedded_etag=before.embedded_etag,
        )
        == before
    )


def test_update_communication_defaults() -> None:
    after = update_communication(create(), None, None, {}, CountingIds())
    assert (after.supported_modalities, after.supported_message_formats) == ((), ("Plain",))


def test_update_communication_reports_every_bad_value() -> None:
    with pytest.raises(BadRequest) as caught:
        update_communication(
            create(),
            ("Smell",),
            ("Rtf",),
            {"audioPreference": "Loud", "phoneNumber": "1" * 101, "publishEndpointLocation": "no"},
            CountingIds(),
        )
    assert set(caught.value.parameters) == {
        "supportedModalities",
        "supportedMessageFormats",
        "audioPreference",
        "phoneNumber",
        "publishEndpointLocation",
    }


def test_update_communication_keeps_the_settings_it_was_given_in_canonical_spelling() -> None:
    given = {
        "videoBasedScreenSharing": "enabled",
        "audioPreference": "phoneaudio",
        "phoneNumber": "tel:+14255552222",
        "publishEndpointLocation": False,
        "lisQueryResult": None,
    }
    after = update_communication(create(), None, None, given, CountingIds())
    assert after.communication_settings == (
        ("audioPreference", "PhoneAudio"),
        ("phoneNumber", "tel:+14255552222"),
        ("publishEndpointLocation", False),
        ("videoBasedScreenSharing", "Enabled"),
    )
    cleared = update_communication(after, None, None, {}, CountingIds())
    assert cleared.communication_settings == ()


# -- users ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("alice@contoso.com", "sip:alice@contoso.com"),
        ("sip:Alice@Contoso.COM", "sip:alice@contoso.com"),
        ("SIP:alice@contoso.com", "sip:alice@contoso.com"),
        ("  sip:alice@contoso.com\t", "sip:alice@contoso.com"),
        ("o'neil.j_r-x+y%z@mail.contoso.co.uk", "sip:o'neil.j_r-x+y%z@mail.contoso.co.uk"),
    ],
)
def test_parse_sip_uri(value: str, expected: str) -> None:
    assert parse_sip_uri(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        "",
        "alice",
        "alice@",
        "@contoso.com",
        "sip:alice@contoso",
        "alice@contoso.c",
        "alice smith@contoso.com",
        "alice@contoso.com;gruu",
        "tel:+14255550100",
        "sips:alice@contoso.com",
        "sip:sip:alice@contoso.com",
        "alice@@contoso.com",
        "alice@contoso.com\nbob@contoso.com",
    ],
)
def test_parse_sip_uri_refuses(value: str) -> None:
    assert parse_sip_uri(value) is None


def test_require_sip_uri() -> None:
    assert require_sip_uri("Alice@Contoso.com") == "sip:alice@contoso.com"
    with pytest.raises(BadRequest) as caught:
        require_sip_uri("alice")
    assert caught.value.subcode == "ParameterValidationFailure"


def test_user_parts() -> None:
    user = User(uri="sip:bmauldin@contoso.com", name="Bill", password_hash="h")
    assert (user.user_part, user.domain, user.address) == (
        "bmauldin",
        "contoso.com",
        "bmauldin@contoso.com",
    )


def test_organization_membership() -> None:
    org = Organization(frozenset({"contoso.com", "a-contoso.com"}))
    assert org.contains("sip:alice@contoso.com")
    assert org.contains("sip:alice@CONTOSO.com")
    assert not org.contains("sip:eve@fabrikam.com")
    assert not org.contains("sip:eve@sub.contoso.com")
    assert not org.contains("sip:eve@contoso.com.evil.example")
    assert org.primary_domain == "a-contoso.com"

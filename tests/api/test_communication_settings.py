"""The communication resource's writable settings (communication_ref PUT: audioPreference,
conversationHistory, lisLocation, lisQueryResult, phoneNumber, publishEndpointLocation,
videoBasedScreenSharing) are kept and echoed, in JSON and XML, and checked against their enums.
Before, a PUT answered 200 and dropped them; makeMeAvailable dropped phoneNumber and
audioPreference too."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

from tests.api.events_support import Channel, flat, one
from tests.conftest import Helpers, Session

UCWA_NS = "{http://schemas.microsoft.com/rtc/2012/03/ucwa}"
SAMPLE = {  # communication_ref's PUT request, with values of each enum
    "audioPreference": "PhoneAudio",
    "conversationHistory": "Disabled",
    "lisLocation": "Building 40, floor 2",
    "lisQueryResult": "Succeeded",
    "phoneNumber": "tel:+14255552222",
    "publishEndpointLocation": False,
    "videoBasedScreenSharing": "Enabled",
    "supportedMessageFormats": ["Plain", "Html"],
    "supportedModalities": ["Messaging"],
}


async def communication(helpers: Helpers, who: Session) -> tuple[dict[str, Any], str]:
    got = await helpers.client.get(who.link("communication", "self"), headers=who.headers)
    assert got.status_code == 200, got.text
    return got.json(), got.headers["etag"]


async def put(helpers: Helpers, who: Session, body: dict[str, Any], etag: str) -> Any:
    href = who.link("communication", "self")
    return await helpers.client.put(href, json=body, headers={**who.headers, "If-Match": etag})


async def test_a_put_keeps_every_writable_setting(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    current, etag = await communication(helpers, bill)
    for name in ("audioPreference", "phoneNumber", "lisLocation"):
        assert name not in current  # nothing set yet: nothing shown
    channel = Channel(helpers, bill)
    await channel.poll()
    parked = await channel.park()
    done = await put(helpers, bill, {**current, **SAMPLE}, etag)
    assert done.status_code == 200, done.text
    for shown in (done.json(), (await communication(helpers, bill))[0]):
        assert {k: shown[k] for k in SAMPLE} == SAMPLE
    event = await parked  # the communication updated event embeds the same settings
    assert flat(event) == [("communication", "communication", "updated")]
    embedded = one(event, "communication")["_embedded"]["communication"]
    assert {k: embedded[k] for k in SAMPLE} == SAMPLE
    # A PUT replaces the whole set, as every PUT does: what it leaves out is cleared.
    again, etag = await communication(helpers, bill)
    only = {k: v for k, v in again.items() if k not in ("phoneNumber", "lisLocation")}
    done = await put(helpers, bill, only, etag)
    assert done.status_code == 200, done.text
    assert "phoneNumber" not in done.json() and "lisLocation" not in done.json()
    assert done.json()["audioPreference"] == "PhoneAudio"


async def test_xml_shows_the_settings(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    current, etag = await communication(helpers, bill)
    assert (await put(helpers, bill, {**current, **SAMPLE}, etag)).status_code == 200
    got = await helpers.client.get(
        bill.link("communication", "self"),
        headers={**bill.headers, "Accept": "application/vnd.microsoft.com.ucwa+xml"},
    )
    root = ET.fromstring(got.content)
    props = {p.get("name"): p.text for p in root.findall(f"{UCWA_NS}property")}
    assert props["phoneNumber"] == "tel:+14255552222"
    assert props["publishEndpointLocation"] == "false"
    assert props["audioPreference"] == "PhoneAudio"


async def test_bad_settings_are_refused_and_nothing_changes(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    current, etag = await communication(helpers, bill)
    bad = {
        **current,
        "audioPreference": "Bogus",
        "lisQueryResult": "Maybe",
        "conversationHistory": "Sometimes",
        "phoneNumber": "1" * 101,
        "publishEndpointLocation": "yes",
    }
    refused = await put(helpers, bill, bad, etag)
    assert refused.status_code == 400, refused.text
    assert refused.json()["subcode"] == "ParameterValidationFailure"
    assert set(refused.json()["parameters"]) >= {
        "audioPreference",
        "lisQueryResult",
        "conversationHistory",
        "phoneNumber",
        "publishEndpointLocation",
    }
    assert (await communication(helpers, bill)) == (current, etag)


async def test_make_me_available_keeps_phone_number_and_audio_preference(
    helpers: Helpers,
) -> None:
    bill = await helpers.session("bill")
    body = {
        "signInAs": "Busy",
        "supportedModalities": ["Messaging"],
        "phoneNumber": "tel:+14255550000",
        "audioPreference": "voipaudio",
    }
    made = await helpers.client.post(
        bill.link("me", "makeMeAvailable"), json=body, headers=bill.headers
    )
    assert made.status_code == 204, made.text
    shown, _ = await communication(helpers, bill)
    assert shown["phoneNumber"] == "tel:+14255550000"
    assert shown["audioPreference"] == "VoipAudio"

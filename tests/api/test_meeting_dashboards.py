"""The onlineMeetings dashboard and its read-only children over HTTP, JSON and XML:
onlineMeetingDefaultValues, onlineMeetingEligibleValues, onlineMeetingPolicies,
onlineMeetingInvitationCustomization, phoneDialInInformation. Spec: UCWA-MEETINGS.md §2.0.3,
§2.6.1, §2.6.5-2.6.9, §2.13, E1, E51; the *_ref.md pages list the properties."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.meetings_support import (
    PROPERTIES,
    XML,
    assert_error,
    get_json,
    schedule,
    self_href,
    xml_links,
    xml_props,
    xml_root,
)
from tests.conftest import Helpers

ACCESS_LEVELS = {"Everyone", "Invited", "Locked", "None", "SameEnterprise"}
LEADER_ASSIGNMENTS = {"Disabled", "Everyone", "SameEnterprise"}
ANNOUNCEMENTS = {"Disabled", "Enabled", "Unsupported"}
ENABLED_DISABLED = {"Disabled", "Enabled"}
MEETING_RELS = {"myAssignedOnlineMeeting", "myOnlineMeetings"}

CHILDREN: dict[str, tuple[str, frozenset[str]]] = {
    "myOnlineMeetings": ("myOnlineMeetings", frozenset()),
    "myAssignedOnlineMeeting": ("myAssignedOnlineMeeting", PROPERTIES),
    "onlineMeetingDefaultValues": (
        "onlineMeetingDefaultValues",
        frozenset(
            {
                "accessLevel",
                "automaticLeaderAssignment",
                "defaultOnlineMeetingRel",
                "entryExitAnnouncement",
                "lobbyBypassForPhoneUsers",
                "participantsWarningThreshold",
            }
        ),  # fmt: skip
    ),
    "onlineMeetingEligibleValues": (
        "onlineMeetingEligibleValues",
        frozenset(
            {
                "accessLevels",
                "automaticLeaderAssignments",
                "eligibleOnlineMeetingRels",
                "entryExitAnnouncements",
                "lobbyBypassForPhoneUsersSettings",
            }
        ),  # fmt: skip
    ),
    "onlineMeetingPolicies": (
        "onlineMeetingPolicies",
        frozenset(
            {
                "entryExitAnnouncement",
                "externalUserMeetingRecording",
                "meetingRecording",
                "meetingSize",
                "phoneUserAdmission",
                "voipAudio",
            }
        ),  # fmt: skip
    ),
    "onlineMeetingInvitationCustomization": (
        "onlineMeetingInvitationCustomization",
        frozenset(
            {
                "enterpriseHelpUrl",
                "invitationFooterText",
                "invitationHelpUrl",
                "invitationLegalUrl",
                "invitationLogoUrl",
            }
        ),  # fmt: skip
    ),
    "phoneDialInInformation": (
        "phoneDialInInformation",
        frozenset(
            {
                "conferenceId",
                "defaultRegion",
                "externalDirectoryUri",
                "internalDirectoryUri",
                "isAudioConferenceProviderEnabled",
                "participantPassCode",
                "tollFreeNumbers",
                "tollNumber",
            }
        ),  # fmt: skip
    ),
}
READ_ONLY = [
    name for name in CHILDREN if name not in ("myOnlineMeetings", "myAssignedOnlineMeeting")
]

# (meeting property, eligibleValues list, every spelling of the enum)
ELIGIBILITY = [
    ("accessLevel", "accessLevels", ACCESS_LEVELS - {"None"}),
    ("automaticLeaderAssignment", "automaticLeaderAssignments", LEADER_ASSIGNMENTS),
    ("entryExitAnnouncement", "entryExitAnnouncements", ANNOUNCEMENTS),
    ("lobbyBypassForPhoneUsers", "lobbyBypassForPhoneUsersSettings", ENABLED_DISABLED),
]


async def test_dashboard_links(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    embedded = bill.app["_embedded"]["onlineMeetings"]
    response = await helpers.client.get(bill.link("onlineMeetings", "self"), headers=bill.headers)
    assert response.status_code == 200
    body = response.json()
    assert body["rel"] == "onlineMeetings"
    assert set(body["_links"]) == {"self", *CHILDREN}
    assert body["_links"] == embedded["_links"]
    root = xml_root(await helpers.client.get(self_href(body), headers={**bill.headers, **XML}))
    assert root.attrib["rel"] == "onlineMeetings"
    assert xml_links(root) == {k: v["href"] for k, v in body["_links"].items() if k != "self"}


@pytest.mark.parametrize("link", list(CHILDREN))
async def test_each_link_resolves_in_json(helpers: Helpers, link: str) -> None:
    bill = await helpers.session("bill")
    rel, properties = CHILDREN[link]
    href = bill.link("onlineMeetings", link)
    response = await helpers.client.get(href, headers=bill.headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["rel"] == rel and self_href(body) == href
    assert body.keys() >= properties


@pytest.mark.parametrize("link", list(CHILDREN))
async def test_each_link_resolves_in_xml(helpers: Helpers, link: str) -> None:
    bill = await helpers.session("bill")
    rel, properties = CHILDREN[link]
    href = bill.link("onlineMeetings", link)
    root = xml_root(await helpers.client.get(href, headers={**bill.headers, **XML}))
    assert (root.attrib["rel"], root.attrib["href"]) == (rel, href)
    assert xml_props(root).keys() >= properties


async def get_child(helpers: Helpers, link: str) -> dict[str, Any]:
    bill = await helpers.session("bill")
    return await get_json(helpers, bill, bill.link("onlineMeetings", link))


async def test_default_values(helpers: Helpers) -> None:
    defaults = await get_child(helpers, "onlineMeetingDefaultValues")
    assert defaults["accessLevel"] in ACCESS_LEVELS - {"None"}
    assert defaults["automaticLeaderAssignment"] in LEADER_ASSIGNMENTS
    assert defaults["defaultOnlineMeetingRel"] in MEETING_RELS
    assert defaults["entryExitAnnouncement"] in ANNOUNCEMENTS
    assert defaults["lobbyBypassForPhoneUsers"] in ENABLED_DISABLED
    threshold = defaults["participantsWarningThreshold"]
    assert isinstance(threshold, int) and not isinstance(threshold, bool) and threshold > 0
    eligible = await get_child(helpers, "onlineMeetingEligibleValues")
    for prop, listed, _ in ELIGIBILITY:  # following the defaults can never fail
        assert defaults[prop] in eligible[listed], prop


async def test_eligible_values_and_links(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    eligible = await get_json(
        helpers, bill, bill.link("onlineMeetings", "onlineMeetingEligibleValues")
    )
    for _, listed, spellings in ELIGIBILITY:
        assert isinstance(eligible[listed], list) and eligible[listed], listed
        assert set(eligible[listed]) <= spellings, listed
    assert set(eligible["eligibleOnlineMeetingRels"]) <= MEETING_RELS
    links = eligible["_links"]
    assert links["myOnlineMeetings"]["href"] == bill.link("onlineMeetings", "myOnlineMeetings")
    assert links["myAssignedOnlineMeeting"]["href"] == bill.link(
        "onlineMeetings", "myAssignedOnlineMeeting"
    )
    listing = await get_json(helpers, bill, links["myOnlineMeetings"]["href"])
    assert listing["rel"] == "myOnlineMeetings"
    assigned = await get_json(helpers, bill, links["myAssignedOnlineMeeting"]["href"])
    assert assigned["rel"] == "myAssignedOnlineMeeting"


@pytest.mark.parametrize(("prop", "listed", "spellings"), ELIGIBILITY)
async def test_post_accepts_exactly_the_eligible_values(
    helpers: Helpers, prop: str, listed: str, spellings: set[str]
) -> None:
    bill = await helpers.session("bill")
    eligible = await get_json(
        helpers, bill, bill.link("onlineMeetings", "onlineMeetingEligibleValues")
    )
    for value in sorted(spellings):
        response = await schedule(helpers, bill, {prop: value})
        if value in eligible[listed]:
            assert response.status_code == 201, (value, response.text)
            assert response.json()[prop] == value
        else:
            assert response.status_code == 400, (value, response.text)
            assert prop in response.json()["parameters"]


async def test_policies(helpers: Helpers) -> None:
    policies = await get_child(helpers, "onlineMeetingPolicies")
    for name in (
        "entryExitAnnouncement", "externalUserMeetingRecording", "meetingRecording",
        "phoneUserAdmission", "voipAudio",
    ):  # fmt: skip
        assert policies[name] in ENABLED_DISABLED, name
    size = policies["meetingSize"]
    assert isinstance(size, int) and not isinstance(size, bool) and size > 0


async def test_scheduling_honours_the_policies(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    policies = await get_json(helpers, bill, bill.link("onlineMeetings", "onlineMeetingPolicies"))
    for prop in ("phoneUserAdmission", "entryExitAnnouncement"):
        response = await schedule(helpers, bill, {prop: "Enabled"})
        if policies[prop] == "Enabled":
            assert response.status_code == 201, (prop, response.text)
        else:
            assert_error(response, 400, "BadRequest", "ParameterValidationFailure")


async def test_invitation_customization(helpers: Helpers) -> None:
    custom = await get_child(helpers, "onlineMeetingInvitationCustomization")
    for name in CHILDREN["onlineMeetingInvitationCustomization"][1]:
        assert isinstance(custom[name], str), name


async def test_phone_dial_in_information(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    href = bill.link("onlineMeetings", "phoneDialInInformation")
    dial_in = await get_json(helpers, bill, href)
    assigned = await get_json(helpers, bill, bill.link("onlineMeetings", "myAssignedOnlineMeeting"))
    assert dial_in["conferenceId"] == assigned["conferenceId"] and dial_in["conferenceId"].isdigit()
    assert isinstance(dial_in["isAudioConferenceProviderEnabled"], bool)
    assert isinstance(dial_in["tollFreeNumbers"], list)
    for name in ("defaultRegion", "externalDirectoryUri", "participantPassCode", "tollNumber"):
        assert isinstance(dial_in[name], str), name
    # An array even when empty (digest §4.2 rule 4; CLIENT-COMPAT: arrays read unguarded).
    assert dial_in["_embedded"]["dialInRegion"] == []
    props = xml_props(xml_root(await helpers.client.get(href, headers={**bill.headers, **XML})))
    expected = "true" if dial_in["isAudioConferenceProviderEnabled"] else "false"
    assert props["isAudioConferenceProviderEnabled"] == expected
    assert props["tollFreeNumbers"] == dial_in["tollFreeNumbers"]
    assert props["conferenceId"] == assigned["conferenceId"]


@pytest.mark.parametrize("link", READ_ONLY)
@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE"])
async def test_read_only_resources_refuse_other_methods(
    helpers: Helpers, link: str, method: str
) -> None:
    bill = await helpers.session("bill")
    headers = {**bill.headers, "If-Match": '"x"'}
    href = bill.link("onlineMeetings", link)
    response = await helpers.client.request(method, href, json={}, headers=headers)
    assert_error(response, 405, "MethodNotAllowed", None)


@pytest.mark.parametrize("link", ["self", *CHILDREN])
async def test_token_and_ownership_are_checked(helpers: Helpers, link: str) -> None:
    bill, alice = await helpers.session("bill"), await helpers.session("alice")
    href = bill.link("onlineMeetings", link)
    anonymous = await helpers.client.get(href)
    assert anonymous.status_code == 401
    assert 'MsRtcOAuth href="' in anonymous.headers["www-authenticate"]
    not_hers = await helpers.client.get(href, headers=alice.headers)
    assert_error(not_hers, 404, "NotFound", "ApplicationNotFound")

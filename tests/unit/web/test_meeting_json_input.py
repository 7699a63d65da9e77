"""The typed JSON reader of a meeting's properties agrees with the tolerant reader: for every
body it either declines (None) or returns exactly what ``meeting_input(from_json(body))``
returns, and it takes the bodies clients usually send."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings, strategies as st

from openucwa.domain.errors import BadRequest
from openucwa.representation.input import MAX_LIST_ITEMS, from_json
from openucwa.web.resources.my_online_meetings import meeting_input, meeting_input_from_json

NAMES = [
    "accessLevel",
    "attendees",
    "automaticLeaderAssignment",
    "description",
    "entryExitAnnouncement",
    "attendanceAnnouncementsStatus",
    "expirationTime",
    "leaders",
    "lobbyBypassForPhoneUsers",
    "phoneUserAdmission",
    "subject",
]
OTHER_NAMES = ["Subject", "ACCESSLEVEL", "rel", "etag", "_links", "onlineMeetingId", "x"]
TEXT = st.text(max_size=12)
DATES = st.sampled_from(
    ["/Date(1700000000000)/", "2026-11-24T10:00:00Z", "2026-11-24T10:00:00", "not a date", ""]
)
VALUES = st.one_of(
    st.none(),
    TEXT,
    DATES,
    st.integers(-5, 5),
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.lists(TEXT, max_size=3),
    st.lists(st.one_of(TEXT, st.none(), st.integers(-5, 5)), max_size=3),
    st.dictionaries(TEXT, TEXT, max_size=2),
)
BODIES = st.dictionaries(st.sampled_from(NAMES + OTHER_NAMES), VALUES, max_size=8)
LISTS = {"attendees", "leaders"}
# Bodies of the right shape (each property of its type, or null), as clients send them.
WELL_TYPED = st.fixed_dictionaries(
    {},
    optional={
        name: st.one_of(
            st.none(),
            st.lists(TEXT, max_size=3)
            if name in LISTS
            else DATES
            if name == "expirationTime"
            else TEXT,
        )
        for name in NAMES
    },
)

USUAL: dict[str, Any] = {
    "subject": "Weekly sync",
    "description": "Agenda",
    "accessLevel": "Everyone",
    "attendees": ["sip:alice@contoso.com", "sip:tosh@contoso.com"],
    "leaders": ["sip:alice@contoso.com"],
    "automaticLeaderAssignment": "SameEnterprise",
    "entryExitAnnouncement": "Disabled",
    "lobbyBypassForPhoneUsers": "Disabled",
    "phoneUserAdmission": "Disabled",
    "expirationTime": "/Date(1900000000000)/",
}


def tolerant(body: bytes) -> Any:
    try:
        return meeting_input(from_json(body))
    except BadRequest as exc:
        return exc


@settings(max_examples=400, deadline=None)
@given(BODIES)
def test_it_returns_what_the_tolerant_reader_returns_or_declines(body: dict[str, Any]) -> None:
    raw = orjson.dumps(body)
    typed = meeting_input_from_json(raw)
    if typed is not None:
        assert typed == tolerant(raw)


@settings(max_examples=400, deadline=None)
@given(WELL_TYPED)
def test_well_typed_bodies_are_read_the_same_both_ways(body: dict[str, Any]) -> None:
    raw = orjson.dumps(body)
    typed = meeting_input_from_json(raw)
    if typed is not None or "expirationTime" not in body:  # only a bad date is declined
        assert typed == tolerant(raw)


@pytest.mark.parametrize(
    "body",
    [
        orjson.dumps(USUAL),
        orjson.dumps({}),
        orjson.dumps({"subject": None, "attendees": None}),
        orjson.dumps({"attendanceAnnouncementsStatus": "Enabled"}),
        orjson.dumps({"entryExitAnnouncement": None, "attendanceAnnouncementsStatus": "x"}),
        b' { "subject" : "spaces around" } ',
        b'{"subject":"first","subject":"last wins, as orjson"}',
    ],
)
def test_the_bodies_clients_send_are_decoded_here(body: bytes) -> None:
    typed = meeting_input_from_json(body)
    assert typed is not None
    assert typed == tolerant(body)


@pytest.mark.parametrize(
    "body",
    [
        orjson.dumps({"Subject": "another spelling"}),
        orjson.dumps({"subject": 5}),
        orjson.dumps({"attendees": "sip:alice@contoso.com"}),
        orjson.dumps({"attendees": ["sip:alice@contoso.com", None]}),
        orjson.dumps({"expirationTime": "tomorrow"}),
        orjson.dumps({"expirationTime": 1700000000000}),
        orjson.dumps({"rel": "myOnlineMeeting", "subject": "round-tripped GET"}),
        orjson.dumps({"attendees": ["sip:a@contoso.com"] * (MAX_LIST_ITEMS + 1)}),
        orjson.dumps(["not", "an", "object"]),
        b'{"subject":"\xff"}',
        b'{"subject":"\\ud800"}',
        b'{"subject":"trailing"} x',
        b"\xef\xbb\xbf{}",
    ],
)
def test_anything_else_is_left_to_the_tolerant_reader(body: bytes) -> None:
    assert meeting_input_from_json(body) is None

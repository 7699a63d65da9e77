"""Resource -> UCWA JSON (spec §4.2, §4.4 JSON dates, §4.6 error bodies)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import orjson
from hypothesis import given, settings, strategies as st

from openucwa.representation.json_codec import encode, encode_error, encode_plain, to_tree
from openucwa.representation.resource import ErrorBody, Link, Resource

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
WHEN = EPOCH + timedelta(milliseconds=1474932029051)
MEETING = "/ucwa/oauth/v1/applications/101/onlineMeetings/myOnlineMeetings/IB88RLLY"


def decode(resource: Resource) -> dict[str, object]:
    tree = orjson.loads(encode(resource))
    assert isinstance(tree, dict)
    return tree


def test_properties_rel_and_etag_are_top_level_members() -> None:
    resource = Resource(
        "myOnlineMeeting",
        properties={
            "subject": "Quarterly sales numbers",
            "attendees": ["sip:alice@contoso.com"],
            "participantsWarningThreshold": 250,
            "isAudioConferenceProviderEnabled": False,
            "ratio": 0.5,
            "description": "",
        },
        etag="891351",
    )
    assert decode(resource) == {
        "subject": "Quarterly sales numbers",
        "attendees": ["sip:alice@contoso.com"],
        "participantsWarningThreshold": 250,
        "isAudioConferenceProviderEnabled": False,
        "ratio": 0.5,
        "description": "",
        "rel": "myOnlineMeeting",
        "etag": "891351",
    }


def test_none_is_omitted_and_never_null() -> None:
    body = encode(Resource("me", properties={"title": None, "name": "Bill"}))
    assert b"null" not in body and b"title" not in body
    assert orjson.loads(body) == {"name": "Bill", "rel": "me"}


def test_rel_in_json_false_leaves_rel_out() -> None:
    assert decode(Resource("user", href="https://x/", rel_in_json=False)) == {
        "_links": {"self": {"href": "https://x/"}}
    }


def test_self_comes_from_href_and_other_links_follow() -> None:
    resource = Resource(
        "myOnlineMeeting",
        href=MEETING,
        links={"onlineMeetingExtensions": Link(MEETING + "/extensions")},
    )
    assert decode(resource)["_links"] == {
        "self": {"href": MEETING},
        "onlineMeetingExtensions": {"href": MEETING + "/extensions"},
    }


def test_no_href_and_no_links_means_no_links_member() -> None:
    assert "_links" not in decode(Resource("reason"))
    assert decode(Resource("x", links={"next": Link("/n")}))["_links"] == {"next": {"href": "/n"}}


def test_multiple_rels_are_always_arrays_and_titles_are_kept() -> None:
    resource = Resource(
        "attendees",
        href="/a",
        links={
            "participant": [Link("/p/1", title="Alice"), Link("/p/2")],
            "one": [Link("/p/3")],
            "none": [],
            "single": Link("/s", title="Single"),
        },
    )
    assert decode(resource)["_links"] == {
        "self": {"href": "/a"},
        "participant": [{"href": "/p/1", "title": "Alice"}, {"href": "/p/2"}],
        "one": [{"href": "/p/3"}],
        "none": [],
        "single": {"href": "/s", "title": "Single"},
    }


def test_embedded_single_and_arrays_nest_with_their_own_self_links() -> None:
    extension = Resource(
        "onlineMeetingExtension", href=MEETING + "/extensions/917823", properties={"id": "917823"}
    )
    meeting = Resource(
        "myOnlineMeeting", href=MEETING, embedded={"onlineMeetingExtension": [extension]}
    )
    app = Resource(
        "application",
        href="/app",
        embedded={
            "me": Resource("me", href="/app/me"),
            "myOnlineMeeting": [meeting],
            "empty": [],
        },
    )
    tree = decode(app)
    assert tree["_embedded"] == {
        "me": {"rel": "me", "_links": {"self": {"href": "/app/me"}}},
        "myOnlineMeeting": [
            {
                "rel": "myOnlineMeeting",
                "_links": {"self": {"href": MEETING}},
                "_embedded": {
                    "onlineMeetingExtension": [
                        {
                            "id": "917823",
                            "rel": "onlineMeetingExtension",
                            "_links": {"self": {"href": MEETING + "/extensions/917823"}},
                        }
                    ]
                },
            }
        ],
        "empty": [],
    }
    assert "_embedded" not in decode(Resource("me"))


def test_dates_are_written_the_aspnet_way_in_the_raw_bytes() -> None:
    body = encode(Resource("m", properties={"expirationTime": WHEN, "list": [WHEN, "x"]}))
    assert b'"expirationTime":"\\/Date(1474932029051)\\/"' in body
    assert b'"list":["\\/Date(1474932029051)\\/","x"]' in body
    assert orjson.loads(body)["expirationTime"] == "/Date(1474932029051)/"


def test_dates_drop_sub_millisecond_digits() -> None:
    when = WHEN + timedelta(microseconds=999)
    assert to_tree(Resource("m", properties={"t": when}))["t"] == "/Date(1474932029051)/"


def test_a_body_without_dates_is_left_alone() -> None:
    resource = Resource("m", properties={"path": "/a/b/", "text": "Date(1)"})
    assert encode(resource) == orjson.dumps(to_tree(resource))


# Strings built from the pieces the date escaping looks for, so collisions actually happen.
PIECES = st.sampled_from(["/Date(", ")/", "/", '"', "\\", "1", "a", "é", "\n", "\\/"])
PLAIN = st.lists(PIECES, max_size=8).map("".join)


@settings(database=None, deadline=None, max_examples=300)
@given(st.dictionaries(PLAIN, PLAIN | st.lists(PLAIN, max_size=3), max_size=5), PLAIN)
def test_date_escaping_never_changes_what_a_parser_reads(
    properties: dict[str, object], href: str
) -> None:
    resource = Resource("r", href=href, properties=properties)  # type: ignore[arg-type]
    assert orjson.loads(encode(resource)) == to_tree(resource)


VALUES = PLAIN | st.none() | st.integers(-3, 3) | st.booleans()
DATES = st.integers(-(10**13), 10**13).map(lambda ms: EPOCH + timedelta(microseconds=ms * 7))
RESOURCES = st.recursive(
    st.builds(
        Resource,
        PLAIN,
        href=st.none() | PLAIN,
        properties=st.dictionaries(
            PLAIN, VALUES | DATES | st.lists(VALUES | DATES, max_size=3), max_size=5
        ),
        links=st.dictionaries(
            PLAIN,
            st.builds(Link, PLAIN, st.none() | PLAIN) | st.lists(st.builds(Link, PLAIN)),
            max_size=2,
        ),
        etag=st.none() | PLAIN,
        rel_in_json=st.booleans(),
    ),
    lambda inner: st.builds(
        Resource,
        PLAIN,
        embedded=st.dictionaries(PLAIN, inner | st.lists(inner, max_size=2), max_size=2),
    ),
    max_leaves=4,
)


@settings(database=None, deadline=None, max_examples=500)
@given(RESOURCES)
def test_encode_writes_the_bytes_of_the_plain_tree(resource: Resource) -> None:
    """encode() takes a shorter way than to_tree() (dates written whole by orjson's default):
    the bytes must be exactly those of the plain tree, but for each date's escaped slashes.
    A string is never written as ``"\\/Date(``: orjson writes a backslash as two."""
    unescaped = _ESCAPED_DATE.sub(rb'"/Date(\1)/"', encode(resource))
    assert unescaped == orjson.dumps(to_tree(resource))


_ESCAPED_DATE = re.compile(rb'"\\/Date\((-?\d+)\)\\/"')


def test_strings_that_look_like_dates_are_written_as_orjson_writes_them() -> None:
    resource = Resource("m", properties={"s": "/Date(1)/", "t": "\\/Date(1)\\/"})
    assert encode(resource) == orjson.dumps(to_tree(resource))
    assert orjson.loads(encode(resource)) == {"s": "/Date(1)/", "t": "\\/Date(1)\\/", "rel": "m"}


def test_error_body_with_everything() -> None:
    error = ErrorBody(
        "BadRequest",
        "ParameterValidationFailure",
        "Please check what you entered and try again.",
        {"subject": "The maximum length is 250 characters."},
    )
    assert orjson.loads(encode_error(error)) == {
        "code": "BadRequest",
        "subcode": "ParameterValidationFailure",
        "message": "Please check what you entered and try again.",
        "parameters": {"subject": "The maximum length is 250 characters."},
    }


def test_error_body_leaves_out_what_is_empty() -> None:
    body = encode_error(ErrorBody("NotFound", None, "The requested resource was not found."))
    assert orjson.loads(body) == {
        "code": "NotFound",
        "message": "The requested resource was not found.",
    }
    assert orjson.loads(encode_error(ErrorBody("Gone", "", "m"))) == {
        "code": "Gone",
        "message": "m",
    }


def test_encode_plain() -> None:
    assert encode_plain({"access_token": "cwt=x", "expires_in": 3600}) == (
        b'{"access_token":"cwt=x","expires_in":3600}'
    )

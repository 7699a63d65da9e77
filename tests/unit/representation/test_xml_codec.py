"""Resource -> UCWA XML (spec §4.3, §4.4 XML dates, §4.6 error bodies), read back with the
standard library's ElementTree."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given, settings, strategies as st

from openucwa.representation.resource import (
    UCWA_NAMESPACE,
    ErrorBody,
    Event,
    EventBatch,
    EventLink,
    Link,
    Resource,
    Sender,
)
from openucwa.representation.xml_codec import encode, encode_error, encode_events

NS = "{" + UCWA_NAMESPACE + "}"
MEETING = "/ucwa/oauth/v1/applications/101/onlineMeetings/myOnlineMeetings/IB88RLLY"


def read(element: ET.Element) -> dict[str, Any]:
    """A <resource> element as plain data, in document order."""
    assert element.tag == NS + "resource"
    links: list[tuple[str | None, str | None, str | None]] = []
    properties: list[tuple[str | None, Any]] = []
    children: list[dict[str, Any]] = []
    for child in element:
        if child.tag == NS + "link":
            links.append((child.get("rel"), child.get("href"), child.get("title")))
        elif child.tag == NS + "property":
            assert list(child.attrib) == ["name"] and len(child) == 0
            properties.append((child.get("name"), child.text or ""))
        elif child.tag == NS + "propertyList":
            assert all(item.tag == NS + "item" for item in child)
            properties.append((child.get("name"), [item.text or "" for item in child]))
        else:
            children.append(read(child))
    return {
        "rel": element.get("rel"),
        "href": element.get("href"),
        "links": links,
        "properties": properties,
        "children": children,
    }


def expected(resource: Resource, key: str | None = None) -> dict[str, Any]:
    """What ``read`` must give for ``resource`` (embedded under ``key``, whose name the element
    takes) when every value is a string."""
    properties: list[tuple[str, Any]] = [("rel", resource.rel)]
    properties += [
        (name, value) for name, value in resource.properties.items() if value is not None
    ]
    if resource.etag is not None:
        properties.append(("etag", resource.etag))
    links = [
        (rel, one.href, one.title)
        for rel, link in resource.links.items()
        for one in (link if isinstance(link, list) else [link])
    ]
    children = [
        expected(one, name)
        for name, item in resource.embedded.items()
        for one in (item if isinstance(item, list) else [item])
    ]
    return {
        "rel": key or resource.rel,
        "href": resource.href,
        "links": links,
        "properties": properties,
        "children": children,
    }


def root(resource: Resource) -> ET.Element:
    return ET.fromstring(encode(resource))


def test_root_has_the_declaration_namespace_rel_and_href() -> None:
    body = encode(Resource("myOnlineMeeting", href=MEETING))
    assert body.startswith(b'<?xml version="1.0" encoding="utf-8"?>\n<resource ')
    element = ET.fromstring(body)
    assert element.tag == NS + "resource"
    assert (element.get("rel"), element.get("href")) == ("myOnlineMeeting", MEETING)
    assert b'rel="self"' not in body


def test_links_properties_lists_and_etag() -> None:
    resource = Resource(
        "myOnlineMeeting",
        href=MEETING,
        links={
            "onlineMeetingExtensions": Link(MEETING + "/extensions"),
            "participant": [Link("/p/1", title="Alice"), Link("/p/2")],
            "nobody": [],
        },
        properties={
            "accessLevel": "SameEnterprise",
            "attendees": ["sip:alice@contoso.com", "sip:tosh@contoso.com"],
            "leaders": [],
            "omitted": None,
        },
        etag="891351",
    )
    assert read(root(resource)) == {
        "rel": "myOnlineMeeting",
        "href": MEETING,
        "links": [
            ("onlineMeetingExtensions", MEETING + "/extensions", None),
            ("participant", "/p/1", "Alice"),
            ("participant", "/p/2", None),
        ],
        "properties": [
            ("rel", "myOnlineMeeting"),
            ("accessLevel", "SameEnterprise"),
            ("attendees", ["sip:alice@contoso.com", "sip:tosh@contoso.com"]),
            ("leaders", []),
            ("etag", "891351"),
        ],
        "children": [],
    }


def test_rel_is_a_property_even_where_json_leaves_it_out() -> None:
    # root_ref.md / user_ref.md: <property name="rel">user</property>; the JSON capture has none
    element = root(Resource("user", rel_in_json=False))
    assert element.get("href") is None
    assert read(element)["properties"] == [("rel", "user")]


def test_an_empty_string_is_an_empty_property_element() -> None:
    body = encode(Resource("m", properties={"description": ""}))
    assert b'<property name="description" />' in body


def test_scalars_are_rendered_as_xml_schema_text() -> None:
    when = datetime(2016, 9, 26, 16, 20, 29, 38904, tzinfo=timezone(timedelta(hours=-7)))
    properties = {
        "yes": True,
        "no": False,
        "count": 250,
        "whole": datetime(2016, 9, 26, 23, 20, 29, tzinfo=UTC),
        "fraction": when,
        "millis": datetime(2016, 9, 26, 23, 20, 29, 51000, tzinfo=UTC),
    }
    found = dict(read(root(Resource("m", properties=properties)))["properties"])  # type: ignore[arg-type]
    assert (found["yes"], found["no"], found["count"]) == ("true", "false", "250")
    assert found["whole"] == "2016-09-26T23:20:29Z"
    assert found["fraction"] == "2016-09-26T23:20:29.038904Z"
    assert found["millis"] == "2016-09-26T23:20:29.051Z"


def test_embedded_resources_nest_without_repeating_the_namespace() -> None:
    extension = Resource(
        "onlineMeetingExtension", href=MEETING + "/extensions/1", properties={"id": "1"}
    )
    resource = Resource(
        "application",
        href="/app",
        embedded={"me": Resource("me", href="/app/me"), "onlineMeetingExtension": [extension] * 2},
    )
    body = encode(resource)
    assert body.count(b"xmlns=") == 1
    children = read(ET.fromstring(body))["children"]
    assert [(c["rel"], c["href"]) for c in children] == [
        ("me", "/app/me"),
        ("onlineMeetingExtension", MEETING + "/extensions/1"),
        ("onlineMeetingExtension", MEETING + "/extensions/1"),
    ]
    assert children[1]["properties"] == [("rel", "onlineMeetingExtension"), ("id", "1")]


def test_an_event_s_embedded_resource_is_keyed_by_the_event_link_rel() -> None:
    conv = "/app/communication/conversations/1"
    me = conv + "/participants/alice@contoso.com"
    participant = Resource("participant", href=me, properties={"name": "Alice"})
    batch = EventBatch(
        "/app/events?ack=1",
        "next",
        "/app/events?ack=2",
        [
            Sender(
                "conversation",
                conv,
                [Event("added", EventLink("localParticipant", me, "Alice"), embedded=participant)],
            )
        ],
    )
    events = ET.fromstring(encode_events(batch))
    added = events.find(f"{NS}sender/{NS}added")
    assert added is not None and added.get("rel") == "localParticipant"
    embedded = added.find(f"{NS}resource")
    assert embedded is not None
    assert read(embedded) == expected(participant, "localParticipant")
    assert read(embedded)["properties"][0] == ("rel", "participant")


def test_special_characters_are_escaped_in_text_and_attributes() -> None:
    nasty = "Tom & Jerry <b>\"quoted\" 'single'</b> ]]> \r\n\ttab"
    resource = Resource(
        "m",
        href="/x?a=1&b=\"2\"&c='3'<",
        properties={nasty: nasty, "list": [nasty]},
        links={"l": Link("/l?x=<&>", title=nasty)},
        etag=nasty,
    )
    body = encode(resource)
    assert b"Tom &amp; Jerry &lt;b&gt;" in body
    assert b"\r" not in body
    assert read(ET.fromstring(body)) == expected(resource)


# Every character XML 1.0 can carry: no C0 controls except tab/LF/CR, no surrogates, no U+FFFE/F.
XML_CHARS = st.characters(
    exclude_categories=("Cs", "Cc"), exclude_characters="\ufffe\uffff"
) | st.sampled_from("&<>\"'\r\n\t]")
TEXT = st.text(XML_CHARS, max_size=12)
LINKS = st.builds(Link, TEXT, st.none() | TEXT)


@st.composite
def resources(draw: st.DrawFn, depth: int = 2) -> Resource:
    nested = (
        st.just({})
        if depth == 0
        else st.dictionaries(
            TEXT, resources(depth - 1) | st.lists(resources(depth - 1), max_size=2), max_size=1
        )
    )
    return Resource(
        rel=draw(TEXT),
        href=draw(st.none() | TEXT),
        properties=draw(st.dictionaries(TEXT, TEXT | st.lists(TEXT, max_size=3), max_size=4)),
        links=draw(st.dictionaries(TEXT, LINKS | st.lists(LINKS, max_size=3), max_size=3)),
        embedded=draw(nested),
        etag=draw(st.none() | TEXT),
        rel_in_json=draw(st.booleans()),
    )


@settings(database=None, deadline=None, max_examples=150)
@given(resources())
def test_any_tree_of_strings_survives_a_standard_parser(resource: Resource) -> None:
    assert read(ET.fromstring(encode(resource))) == expected(resource)


# -- error bodies ---------------------------------------------------------------------------


def test_error_body_with_parameters() -> None:
    body = encode_error(
        ErrorBody(
            "BadRequest",
            "ParameterValidationFailure",
            "Check <this> & that.",
            {"subject": "The maximum length is 250 characters.", "leaders": ""},
        )
    )
    assert b'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"' in body
    element = ET.fromstring(body)
    assert element.tag == NS + "reason"
    assert [child.tag[len(NS) :] for child in element] == [
        "code",
        "subcode",
        "message",
        "debugInfo",
        "parameters",
    ]
    assert element.findtext(NS + "code") == "BadRequest"
    assert element.findtext(NS + "subcode") == "ParameterValidationFailure"
    assert element.findtext(NS + "message") == "Check <this> & that."
    params = element.find(NS + "parameters")
    assert params is not None
    assert [(p.tag, p.get("name"), p.text or "") for p in params] == [
        (NS + "property", "subject", "The maximum length is 250 characters."),
        (NS + "property", "leaders", ""),
    ]


def test_error_body_without_subcode_or_parameters() -> None:
    body = encode_error(ErrorBody("Conflict", None, "Already there."))
    assert b"<debugInfo /><parameters /></reason>" in body
    element = ET.fromstring(body)
    assert element.find(NS + "subcode") is None
    assert [child.tag[len(NS) :] for child in element] == [
        "code",
        "message",
        "debugInfo",
        "parameters",
    ]

"""A container written one embedded resource at a time (web/respond.py ``render_stream``) is
byte for byte what the codec writes for the whole container."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from openucwa.representation import json_codec, xml_codec
from openucwa.representation.resource import Link, Resource
from openucwa.web.respond import Codec, _around


def item(i: int) -> Resource:
    return Resource(
        "myOnlineMeeting",
        href=f"/ucwa/m/{i}",
        properties={
            "subject": f"<&> '{i}' \" é",
            "attendees": [f"sip:u{i}@contoso.com"],
            "expirationTime": datetime(2027, 1, 1, tzinfo=UTC),
            "empty": None,
        },
        links={"onlineMeetingExtensions": Link(f"/ucwa/m/{i}/extensions")},
        etag=str(i),
    )


def container(scheduled: list[Resource]) -> Resource:
    return Resource(
        "myOnlineMeetings",
        href="/ucwa/m",
        embedded={"myAssignedOnlineMeeting": [item(0)], "myOnlineMeeting": scheduled},
    )


@pytest.mark.parametrize("codec", [json_codec, xml_codec], ids=["json", "xml"])
@pytest.mark.parametrize("count", [0, 1, 2, 40])
def test_pieces_make_the_whole(codec: Codec, count: int) -> None:
    items = [item(i) for i in range(1, count + 1)]
    head, tail = _around(codec, container([]), "myOnlineMeeting")
    middle = codec.EMBEDDED_SEPARATOR.join(
        codec.encode_embedded(r, "myOnlineMeeting") for r in items
    )
    assert head + middle + tail == codec.encode(container(items))

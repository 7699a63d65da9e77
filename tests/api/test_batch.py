"""batch: POST {application}/batch over HTTP (spec §2.5, §4.9, §0.4 item 14, §2.4.5).

Requests are written the way the reference pages and the sample client write them; responses
are checked byte for byte where the sample client's line-by-line parser (Mime.js) depends on
them, and read back with the stdlib MIME parser.
"""

from __future__ import annotations

import base64
import json
import re
import time
from email.message import Message
from email.parser import BytesParser
from typing import Any
from xml.etree import ElementTree as ET

import httpx
import pytest

from openucwa.bootstrap import Built
from openucwa.web import respond
from openucwa.web.resources import batch
from tests.api.meetings_support import q, xml_props
from tests.conftest import BASE, Helpers, Session

HOST = "lyncweb.contoso.com"
BOUNDARY = "77f2569d-c005-442b-b856-782305305e5f"
PART_HEADER = "Content-Type: application/http; msgtype=request"
RESPONSE_TYPE = re.compile(r'^multipart/batching; boundary="([0-9a-f-]{36})"$')


# -- writing a batch ---------------------------------------------------------------------------


def part(
    method: str,
    target: str,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    *,
    part_headers: str = PART_HEADER,
    host: str | None = HOST,
) -> bytes:
    """One MIME part holding one HTTP/1.1 request (CRLF line ends, blank line after the head)."""
    lines = [f"{method} {target} HTTP/1.1"]
    if host is not None:
        lines.append(f"Host: {host}")
    lines += [f"{name}: {value}" for name, value in (headers or {}).items()]
    if body:
        lines.append(f"Content-Length: {len(body)}")
    head = "\r\n".join(lines) + "\r\n\r\n"
    return f"{part_headers}\r\n\r\n{head}".encode() + body


def multipart(parts: list[bytes], boundary: str = BOUNDARY) -> bytes:
    out = b"".join(b"--" + boundary.encode() + b"\r\n" + p + b"\r\n" for p in parts)
    return out + b"--" + boundary.encode() + b"--\r\n"


def json_part(method: str, target: str, body: Any = None, **headers: str) -> bytes:
    all_headers = {"Accept": "application/json", **headers}
    if body is None:
        return part(method, target, all_headers)
    all_headers["Content-Type"] = "application/json"
    return part(method, target, all_headers, json.dumps(body).encode())


async def send(
    helpers: Helpers,
    who: Session,
    body: bytes,
    content_type: str = f"multipart/batching;boundary={BOUNDARY}",
    headers: dict[str, str] | None = None,
    url: str | None = None,
) -> httpx.Response:
    all_headers = {
        **who.headers,
        "Accept": "multipart/batching",
        "Content-Type": content_type,
        **(headers or {}),
    }
    return await helpers.client.post(url or who.link("batch"), content=body, headers=all_headers)


# -- reading the answer ------------------------------------------------------------------------


class Answer:
    """One response part, read the way Mime.js reads it: line by line on CRLF."""

    def __init__(self, raw: str) -> None:
        self.raw = raw
        lines = raw.split("\r\n")
        assert lines[0] == "Content-Type: application/http; msgtype=response", raw
        assert lines[1] == "", raw
        status = re.fullmatch(r"HTTP/1\.1 (\d{3}) (.+)", lines[2])
        assert status, lines[2]
        self.status, self.reason = int(status[1]), status[2]
        blank = lines.index("", 3)
        self.header_lines = lines[3:blank]
        self.headers = dict(line.split(": ", 1) for line in self.header_lines)
        # exactly one body line, then the line end that precedes the next delimiter
        assert lines[blank + 2 :] == [""], raw
        self.body = lines[blank + 1]

    def json(self) -> Any:
        return json.loads(self.body)


def answers(response: httpx.Response) -> list[Answer]:
    assert response.status_code == 200, response.text
    found = RESPONSE_TYPE.match(response.headers["content-type"])
    assert found, response.headers["content-type"]
    text = response.content.decode()
    assert "\n" not in text.replace("\r\n", ""), "every line ends in CRLF"
    delimiter = f"--{found[1]}"
    pieces = text.split(delimiter)
    assert pieces[0] == "" and pieces[-1] == "--\r\n", text
    for piece in pieces[1:-1]:
        assert piece.startswith("\r\n"), piece
    return [Answer(piece[2:]) for piece in pieces[1:-1]]


def assert_error_part(answer: Answer, status: int, code: str) -> None:
    assert answer.status == status, answer.raw
    assert answer.headers["Content-Type"].startswith("application/json"), answer.raw
    assert answer.json()["code"] == code, answer.raw


async def meetings_of(helpers: Helpers, who: Session) -> list[dict[str, Any]]:
    response = await helpers.client.get(
        who.link("onlineMeetings", "myOnlineMeetings"), headers=who.headers
    )
    assert response.status_code == 200, response.text
    found = response.json().get("_embedded", {}).get("myOnlineMeeting", [])
    return list(found) if isinstance(found, list) else [found]


# -- the tests ---------------------------------------------------------------------------------


async def test_a_json_batch_answers_each_part_in_order_on_the_wire(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    me = bill.link("me", "self")
    mine = bill.link("onlineMeetings", "myOnlineMeetings")
    body = multipart(
        [
            json_part("GET", me),
            json_part("GET", mine),
            json_part("POST", mine, {"subject": "Batched", "description": "two\nlines"}),
        ]
    )
    response = await send(helpers, bill, body)

    assert response.status_code == 200, response.text
    boundary = RESPONSE_TYPE.match(response.headers["content-type"])
    assert boundary, response.headers["content-type"]
    b = boundary[1]
    direct_me = await helpers.client.get(me, headers={**bill.headers, "Accept": "application/json"})
    expected_first = (
        (
            f"--{b}\r\n"
            "Content-Type: application/http; msgtype=response\r\n"
            "\r\n"
            "HTTP/1.1 200 OK\r\n"
            "Cache-Control: no-cache\r\n"
            "Pragma: no-cache\r\n"
            "Expires: -1\r\n"
            "X-MS-UcwaVersion: 2.0\r\n"
            "Content-Type: application/json; charset=utf-8\r\n"
            "\r\n"
        ).encode()
        + direct_me.content
        + f"\r\n--{b}\r\n".encode()
    )
    assert response.content.startswith(expected_first), response.content[:600]
    assert response.content.endswith(f"\r\n--{b}--\r\n".encode())

    got_me, listed, created = answers(response)
    assert got_me.json()["rel"] == "me"
    assert (listed.status, listed.reason) == (200, "OK")
    assert listed.json()["rel"] == "myOnlineMeetings"
    assert (created.status, created.reason) == (201, "Created")
    meeting = created.json()
    assert meeting["subject"] == "Batched" and meeting["description"] == "two\nlines"
    assert created.headers["Location"] == meeting["_links"]["self"]["href"]
    assert created.headers["ETag"] == f'"{meeting["etag"]}"'
    assert "Content-Length" not in created.headers
    assert meeting["joinUrl"].startswith(BASE + "/")

    again = await helpers.client.get(created.headers["Location"], headers=bill.headers)
    assert again.status_code == 200 and again.json()["subject"] == "Batched"
    assert [m["subject"] for m in await meetings_of(helpers, bill)] == ["Batched"]


async def test_parts_run_in_request_order(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    mine = bill.link("onlineMeetings", "myOnlineMeetings")
    subjects = [f"meeting {n}" for n in range(5)]
    body = multipart([json_part("POST", mine, {"subject": s}) for s in subjects])
    got = answers(await send(helpers, bill, body))
    assert [a.json()["subject"] for a in got] == subjects
    created = {a.json()["onlineMeetingId"] for a in got}
    assert {m["onlineMeetingId"] for m in await meetings_of(helpers, bill)} == created


async def test_an_xml_part_answers_xml_on_one_line(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    mine = bill.link("onlineMeetings", "myOnlineMeetings")
    made = await helpers.client.post(
        mine, json={"subject": "x", "description": "line 1\nline 2\r\nline 3"}, headers=bill.headers
    )
    assert made.status_code == 201, made.text
    href = made.json()["_links"]["self"]["href"]
    body = multipart(
        [
            part("GET", bill.link("me", "self"), {"Accept": "application/xml"}),
            part("GET", href, {"Accept": "application/vnd.microsoft.com.ucwa+xml"}),
            json_part("GET", href),
        ]
    )
    me, meeting, as_json = answers(await send(helpers, bill, body))

    direct = await helpers.client.get(
        bill.link("me", "self"), headers={**bill.headers, "Accept": "application/xml"}
    )
    assert me.headers["Content-Type"] == "application/xml; charset=utf-8"
    assert me.body.startswith('<?xml version="1.0" encoding="utf-8"?><resource rel="me"')
    assert me.body.encode() == direct.content.replace(b"\n", b"")
    assert ET.fromstring(me.body).attrib["href"] == bill.link("me", "self")

    vnd = "application/vnd.microsoft.com.ucwa+xml; charset=utf-8"
    assert meeting.headers["Content-Type"] == vnd
    props = xml_props(ET.fromstring(meeting.body.encode()))
    assert props["description"] == "line 1\nline 2\r\nline 3"
    assert as_json.json()["description"] == "line 1\nline 2\r\nline 3"


@pytest.mark.parametrize("which", ["events", "batch", "photo"])
async def test_a_part_not_allowed_in_a_batch_answers_400_and_the_others_run(
    helpers: Helpers, which: str
) -> None:
    bill = await helpers.session("bill")
    mine = bill.link("onlineMeetings", "myOnlineMeetings")
    forbidden = {
        "events": part("GET", bill.link("events"), {"Accept": "application/json"}),
        "batch": part("POST", bill.link("batch"), {"Accept": "multipart/batching"}),
        "photo": part("GET", bill.link("me", "photo"), {"Accept": "application/json"}),
    }[which]
    body = multipart(
        [json_part("POST", mine, {"subject": "before"}), forbidden, json_part("GET", mine)]
    )
    before, refused, after = answers(await send(helpers, bill, body))
    assert before.status == 201
    assert_error_part(refused, 400, "BadRequest")
    assert refused.reason == "Bad Request"
    assert after.status == 200
    assert [m["subject"] for m in await meetings_of(helpers, bill)] == ["before"]


async def test_events_with_another_method_inside_a_batch_is_refused_too(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    body = multipart([json_part("POST", bill.link("events"), {})])
    (refused,) = answers(await send(helpers, bill, body))
    assert_error_part(refused, 400, "BadRequest")


async def test_an_xml_part_gets_its_error_in_xml(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    body = multipart([part("GET", bill.link("events"), {"Accept": "application/xml"})])
    (refused,) = answers(await send(helpers, bill, body))
    assert refused.status == 400
    assert refused.headers["Content-Type"].startswith("application/xml")
    assert ET.fromstring(refused.body).findtext(q("code")) == "BadRequest"


async def test_an_unknown_path_answers_404_in_its_part(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    body = multipart(
        [
            json_part("GET", bill.app_href + "/nothingHere"),
            json_part("GET", bill.link("me", "self")),
        ]
    )
    missing, me = answers(await send(helpers, bill, body))
    assert_error_part(missing, 404, "NotFound")
    assert missing.reason == "Not Found"
    assert me.status == 200


async def test_a_wrong_method_answers_405_with_allow(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    (wrong,) = answers(
        await send(helpers, bill, multipart([json_part("DELETE", bill.link("me", "self"))]))
    )
    assert_error_part(wrong, 405, "MethodNotAllowed")
    direct = await helpers.client.delete(bill.link("me", "self"), headers=bill.headers)
    assert direct.status_code == 405
    assert wrong.headers["Allow"] == direct.headers["allow"]


async def test_an_unauthorized_batch_is_challenged_and_runs_nothing(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    mine = bill.link("onlineMeetings", "myOnlineMeetings")
    body = multipart([json_part("POST", mine, {"subject": "no"}, **bill.headers)])
    for auth in ({}, {"Authorization": "Bearer cwt=not-a-token"}):
        response = await helpers.client.post(
            bill.link("batch"),
            content=body,
            headers={"Content-Type": f"multipart/batching;boundary={BOUNDARY}", **auth},
        )
        assert response.status_code == 401, response.text
        assert "MsRtcOAuth" in response.headers["www-authenticate"]
    assert await meetings_of(helpers, bill) == []


async def test_the_outer_authorization_applies_unless_a_part_has_its_own(
    helpers: Helpers,
) -> None:
    bill = await helpers.session("bill")
    body = multipart(
        [
            json_part("GET", bill.link("me", "self")),
            json_part("GET", bill.link("me", "self"), Authorization="Bearer cwt=not-a-token"),
        ]
    )
    mine, theirs = answers(await send(helpers, bill, body))
    assert mine.status == 200
    assert theirs.status == 401
    assert "MsRtcOAuth" in theirs.headers["WWW-Authenticate"]


async def test_another_users_application_inside_a_batch_is_404(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    alice = await helpers.session("alice")
    bills_meetings = bill.link("onlineMeetings", "myOnlineMeetings")
    body = multipart(
        [
            json_part("GET", bill.link("me", "self")),
            json_part("POST", bills_meetings, {"subject": "sneaky"}),
            json_part("GET", alice.link("me", "self")),
        ]
    )
    me, post, own = answers(await send(helpers, alice, body))
    assert_error_part(me, 404, "NotFound")
    assert_error_part(post, 404, "NotFound")
    assert own.status == 200 and own.json()["name"] == "Alice Ciccu"
    assert await meetings_of(helpers, bill) == []

    # and the batch resource of someone else's application
    inner = multipart([json_part("GET", alice.link("me", "self"))])
    outer = await send(helpers, alice, inner, url=bill.link("batch"))
    assert outer.status_code == 404, outer.text
    assert outer.json()["code"] == "NotFound"


async def test_more_than_100_parts_are_refused_whole_with_429(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    mine = bill.link("onlineMeetings", "myOnlineMeetings")
    body = multipart([json_part("POST", mine, {"subject": f"m{n}"}) for n in range(101)])
    response = await send(helpers, bill, body)
    assert response.status_code == 429, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["code"] == "TooManyRequests"
    assert await meetings_of(helpers, bill) == []


async def test_exactly_100_parts_are_served(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    body = multipart([json_part("GET", bill.link("me", "self"))] * 100)
    got = answers(await send(helpers, bill, body))
    assert len(got) == 100 and {a.status for a in got} == {200}


@pytest.mark.parametrize(
    ("content_type", "body", "status", "code"),
    [
        ("application/json", b'{"a":1}', 415, "UnsupportedMediaType"),
        ("multipart/mixed;boundary=b", b"--b\r\n\r\n--b--\r\n", 415, "UnsupportedMediaType"),
        ("", b"--b\r\n\r\n--b--\r\n", 415, "UnsupportedMediaType"),
        ("multipart/batching", multipart([b"x"]), 400, "BadRequest"),
        ("multipart/batching;boundary=other", multipart([b"x"]), 400, "BadRequest"),
        (f"multipart/batching;boundary={BOUNDARY}", b"", 400, "BadRequest"),
        (f"multipart/batching;boundary={BOUNDARY}", b"just text", 400, "BadRequest"),
        (f"multipart/batching;boundary={BOUNDARY}", multipart([]), 400, "BadRequest"),
    ],
)
async def test_a_malformed_batch_is_refused_whole(
    helpers: Helpers, content_type: str, body: bytes, status: int, code: str
) -> None:
    bill = await helpers.session("bill")
    response = await send(helpers, bill, body, content_type=content_type)
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert response.json()["code"] == code


async def test_a_batch_larger_than_the_body_limit_is_413(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    mine = bill.link("onlineMeetings", "myOnlineMeetings")
    big = json_part("POST", mine, {"subject": "x" * (300 * 1024)})
    response = await send(helpers, bill, multipart([big]))
    assert response.status_code == 413, response.text
    assert response.json()["code"] == "EntityTooLarge"
    assert await meetings_of(helpers, bill) == []


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(b"Content-Type: application/http; msgtype=request\r\n\r\nhello", id="garbage"),
        pytest.param(
            b"Content-Type: application/http; msgtype=request\r\n\r\n", id="empty request"
        ),
        pytest.param(part("GET", "/ucwa", host=None), id="HTTP/1.1 without Host"),
        pytest.param(part("GET", "*"), id="asterisk target"),
        pytest.param(part("GET", "ftp://lyncweb.contoso.com/x"), id="not an http URL"),
        pytest.param(
            part("GET", "/x", part_headers="Content-Type: text/plain"), id="not application/http"
        ),
        pytest.param(
            b"Content-Type: application/http; msgtype=request\r\n\r\n"
            b"POST /x HTTP/1.1\r\nHost: a\r\nContent-Length: 50\r\n\r\n{}",
            id="body shorter than Content-Length",
        ),
        pytest.param(
            b"Content-Type: application/http; msgtype=request\r\n\r\n"
            b"GET /x HTTP/1.1\r\nHost: a\r\nBad Header\r\n\r\n",
            id="header without colon",
        ),
        pytest.param(
            b"Content-Type: application/http; msgtype=request\r\n\r\n"
            b"GET /x HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n"
            b"GET /y HTTP/1.1\r\nHost: a\r\n\r\n",
            id="a second request after the first",
        ),
    ],
)
async def test_a_malformed_part_answers_400_and_the_others_run(
    helpers: Helpers, bad: bytes
) -> None:
    bill = await helpers.session("bill")
    body = multipart(
        [json_part("GET", bill.link("me", "self")), bad, json_part("GET", bill.link("me", "self"))]
    )
    first, refused, last = answers(await send(helpers, bill, body))
    assert first.status == last.status == 200
    assert_error_part(refused, 400, "BadRequest")


async def test_the_reference_xml_sample_layout_with_a_quoted_boundary(helpers: Helpers) -> None:
    """batch_ref's XML request: quoted boundary, part Content-Length, two blank lines."""
    bill = await helpers.session("bill")
    sample = (
        "--EA370946\r\n"
        "Content-Type: application/http; msgtype=request\r\n"
        "Content-Length: 200\r\n"
        "\r\n"
        f"GET {bill.link('policies')} HTTP/1.1\r\n"
        "Accept: application/vnd.microsoft.com.ucwa+xml\r\n"
        "Content-Type: application/vnd.microsoft.com.ucwa+xml\r\n"
        "Host: fe1.contoso.com\r\n"
        "\r\n"
        "\r\n"
        "--EA370946\r\n"
        "Content-Type: application/http; msgtype=request\r\n"
        "Content-Length: 201\r\n"
        "\r\n"
        f"GET {bill.link('me', 'self')} HTTP/1.1\r\n"
        "Accept: application/vnd.microsoft.com.ucwa+xml\r\n"
        "Content-Type: application/vnd.microsoft.com.ucwa+xml\r\n"
        "Host: fe1.contoso.com\r\n"
        "\r\n"
        "\r\n"
        "--EA370946--"
    ).encode()
    policies, me = answers(
        await send(helpers, bill, sample, content_type='multipart/batching;boundary="EA370946"')
    )
    assert policies.status == me.status == 200
    assert ET.fromstring(policies.body).attrib["rel"] == "policies"
    assert ET.fromstring(me.body).attrib["rel"] == "me"


async def test_the_grouping_sample_without_a_closing_delimiter(helpers: Helpers) -> None:
    """GroupingRequestsInABatch ends with ``--77f2569d`` and no closing ``--``."""
    bill = await helpers.session("bill")
    sample = (
        "--77f2569d\r\n"
        "Content-Type: application/http; msgtype=request\r\n"
        "\r\n"
        f"GET {bill.link('people', 'self')} HTTP/1.1\r\n"
        f"Host: {HOST}\r\n"
        "Accept: application/json\r\n"
        "\r\n"
        "--77f2569d\r\n"
        "Content-Type: application/http; msgtype=request\r\n"
        "\r\n"
        f"GET {bill.link('me', 'self')} HTTP/1.1\r\n"
        f"Host: {HOST}\r\n"
        "Accept: application/json\r\n"
        "\r\n"
        "\r\n"
        "--77f2569d\r\n"
    ).encode()
    got = answers(
        await send(helpers, bill, sample, content_type="multipart/batching;boundary=77f2569d")
    )
    assert [(a.status, a.json()["rel"]) for a in got] == [(200, "people"), (200, "me")]


async def test_absolute_urls_bare_line_feeds_and_the_data_pseudo_header(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    mine = bill.link("onlineMeetings", "myOnlineMeetings")
    body = (
        f"--{BOUNDARY}\n"
        f"{PART_HEADER}\n"
        "\n"
        f"GET https://{HOST}:443{bill.link('me', 'self')} HTTP/1.1\n"
        f"Host: {HOST}\n"
        "Accept: application/json\n"
        'Data: {"ignored": "on a GET"}\n'
        "\n"
        f"--{BOUNDARY}\n"
        f"{PART_HEADER}\n"
        "\n"
        f"POST {BASE}{mine} HTTP/1.1\n"
        f"Host: {HOST}\n"
        "Content-Type: application/json\n"
        "\n"
        '{"subject": "no Content-Length, caf\u00e9"}\n'
        f"--{BOUNDARY}--\n"
    ).encode()
    me, created = answers(await send(helpers, bill, body))
    assert me.status == 200 and me.json()["rel"] == "me"
    assert created.status == 201, created.raw
    assert created.json()["subject"] == "no Content-Length, caf\u00e9"


async def test_a_base64_part_is_decoded(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    inner = f"GET {bill.link('me', 'self')} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode()
    encoded = (
        f"{PART_HEADER}\r\nContent-Transfer-Encoding: base64\r\n\r\n".encode()
        + base64.b64encode(inner)
    )
    (me,) = answers(await send(helpers, bill, multipart([encoded])))
    assert me.status == 200 and me.json()["rel"] == "me"


async def test_parts_are_never_gzipped(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    body = multipart(
        [json_part("GET", bill.link("me", "self"), **{"Accept-Encoding": "gzip, deflate"})]
    )
    response = await send(helpers, bill, body, headers={"Accept-Encoding": "gzip, deflate"})
    (me,) = answers(response)
    assert "Content-Encoding" not in me.headers
    assert me.json()["rel"] == "me"


async def test_links_minted_in_a_part_use_the_outer_origin(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    mine = bill.link("onlineMeetings", "myOnlineMeetings")
    body = multipart(
        [
            part(
                "POST",
                mine,
                {"Content-Type": "application/json", "X-Forwarded-Host": "evil.example"},
                b'{"subject":"s"}',
                host="evil.example",
            )
        ]
    )
    (created,) = answers(await send(helpers, bill, body))
    assert created.json()["joinUrl"].startswith(BASE + "/"), created.body


async def test_a_failing_part_answers_500_and_the_others_run(
    helpers: Helpers, built: Built, monkeypatch: pytest.MonkeyPatch
) -> None:
    bill = await helpers.session("bill")

    async def broken(uri: str) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr(built.services.users, "get", broken)
    body = multipart(
        [json_part("GET", bill.link("me", "self")), json_part("GET", bill.link("people", "self"))]
    )
    failed, people = answers(await send(helpers, bill, body))
    assert_error_part(failed, 500, "ServiceFailure")
    assert "boom" not in failed.body
    assert people.status == 200


async def test_the_answer_reads_back_with_the_stdlib_mime_parser(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    body = multipart(
        [
            json_part("GET", bill.link("me", "self")),
            part("GET", bill.link("me", "self"), {"Accept": "application/xml"}),
            json_part("GET", bill.app_href + "/nothingHere"),
        ]
    )
    response = await send(helpers, bill, body)
    assert response.status_code == 200
    head = f"Content-Type: {response.headers['content-type']}\r\n\r\n".encode()
    message = BytesParser().parsebytes(head + response.content)
    assert message.get_content_type() == "multipart/batching"
    assert not message.defects
    parts = message.get_payload()
    assert isinstance(parts, list) and len(parts) == 3
    statuses = []
    for sub in parts:
        assert isinstance(sub, Message)
        assert sub.get_content_type() == "application/http"
        assert sub.get_param("msgtype") == "response"
        raw = sub.get_payload(decode=True)
        assert isinstance(raw, bytes)
        head_text, _, payload = raw.partition(b"\r\n\r\n")
        statuses.append(head_text.split(b"\r\n")[0])
        assert b"\r\n" not in payload
    assert statuses == [b"HTTP/1.1 200 OK", b"HTTP/1.1 200 OK", b"HTTP/1.1 404 Not Found"]


async def test_the_application_links_batch(helpers: Helpers) -> None:
    bill = await helpers.session("bill")
    assert bill.link("batch") == bill.app_href + "/batch"
    response = await helpers.client.get(bill.link("batch"), headers=bill.headers)
    assert response.status_code == 405


async def test_nested_multipart_parts_are_refused_without_descending(helpers: Helpers) -> None:
    """1000 nested levels in 66 KB raised RecursionError (500); 800 levels held the loop 11 s."""
    bill = await helpers.session("bill")
    nested = f"GET {bill.link('me', 'self')} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode()
    for depth in range(1000):
        b = b"n%d" % depth
        nested = (
            b"Content-Type: multipart/mixed; boundary=" + b + b"\r\n\r\n--" + b + b"\r\n"
            + nested + b"\r\n--" + b + b"--"
        )  # fmt: skip
    body = multipart([nested, json_part("GET", bill.link("me", "self"))])
    started = time.monotonic()
    refused, me = answers(await send(helpers, bill, body))
    assert time.monotonic() - started < 2
    assert_error_part(refused, 400, "BadRequest")
    assert me.status == 200 and me.json()["rel"] == "me"


async def test_a_part_body_in_the_data_pseudo_header(helpers: Helpers) -> None:
    """Batch.js writes a part's body as a ``Data:`` header line and sends no body."""
    bill = await helpers.session("bill")
    mine = bill.link("onlineMeetings", "myOnlineMeetings")
    sample = part("POST", mine, {"Accept": "application/json", "Data": '{"subject": "via Data"}'})
    xml = part(
        "POST",
        mine,
        {
            "Content-Type": "application/xml",
            "Data": '<input><property name="subject">xml via Data</property></input>',
        },
    )
    created, created_xml = answers(await send(helpers, bill, multipart([sample, xml])))
    assert created.status == 201, created.raw
    assert created.json()["subject"] == "via Data"
    assert created_xml.status == 201, created_xml.raw
    subjects = sorted(m["subject"] for m in await meetings_of(helpers, bill))
    assert subjects == ["via Data", "xml via Data"]


async def test_parts_past_the_answer_budget_are_not_run(
    helpers: Helpers, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(batch, "MAX_ANSWER_BYTES", 3000)
    bill = await helpers.session("bill")
    mine = bill.link("onlineMeetings", "myOnlineMeetings")
    parts = [json_part("POST", mine, {"subject": f"m{i}"}) for i in range(6)]
    got = answers(await send(helpers, bill, multipart(parts)))
    ran = [a for a in got if a.status == 201]
    assert 2 <= len(ran) < 6
    for answer in got[len(ran) :]:
        assert_error_part(answer, 413, "EntityTooLarge")
        assert "on its own" in answer.json()["message"]
    assert len(await meetings_of(helpers, bill)) == len(ran)  # the rest never ran


@pytest.mark.parametrize(
    "target", ["/WebTicket/oauthtoken", "/Autodiscover/AutodiscoverService.svc/root"]
)
async def test_a_part_outside_ucwa_answers_400(helpers: Helpers, target: str) -> None:
    """Before, a part could POST password grants to the token endpoint, each with an
    X-Forwarded-For of its choosing: one batch tried 99 passwords past the per-address
    throttle, and the access log showed one request."""
    bill = await helpers.session("bill")
    grant = b"grant_type=password&username=alice&password=alice-pass"
    body = multipart(
        [
            part(
                "POST" if "Ticket" in target else "GET",
                target,
                {
                    "Content-Type": "application/x-www-form-urlencoded",
                    "X-Forwarded-For": "203.0.113.9",
                },
                grant if "Ticket" in target else b"",
            )
        ]
    )
    (refused,) = answers(await send(helpers, bill, body))
    assert_error_part(refused, 400, "BadRequest")
    assert "access_token" not in str(refused.body)


async def test_a_streamed_answer_past_the_budget_is_not_gathered(
    helpers: Helpers, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A meetings list large enough to be streamed was gathered whole into the batch's answer
    (a 225 MB list took the server from 520 MB to 1.17 GB). The part now answers 413."""
    monkeypatch.setattr(batch, "MAX_ANSWER_BYTES", 20_000)
    monkeypatch.setattr(respond, "WHOLE_UP_TO", 1000)  # so that a list of 40 is streamed
    bill = await helpers.session("bill")
    mine = bill.link("onlineMeetings", "myOnlineMeetings")
    for i in range(40):
        response = await helpers.client.post(mine, json={"subject": f"m{i}"}, headers=bill.headers)
        assert response.status_code == 201
    body = multipart([json_part("GET", mine), json_part("POST", mine, {"subject": "after"})])
    listed, created = answers(await send(helpers, bill, body))
    assert_error_part(listed, 413, "EntityTooLarge")
    assert "on its own" in listed.json()["message"]
    assert created.status == 201, created.raw  # the budget was not used up by the list

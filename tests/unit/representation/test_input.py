"""Request bodies -> InputDoc (spec §4.2 JSON input, §4.3 XML input, §2.0.6 query parameters)."""

from __future__ import annotations

import pytest

from openucwa.domain.errors import BadRequest
from openucwa.representation.dates import parse_date
from openucwa.representation.input import MAX_XML_DEPTH, InputDoc, from_json, from_xml
from openucwa.representation.resource import UCWA_NAMESPACE

NS = UCWA_NAMESPACE


def xml(children: str, root: str = "input") -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?><{root} xmlns="{NS}">{children}</{root}>'.encode()
    )


def malformed(call: object, body: bytes) -> str:
    with pytest.raises(BadRequest) as caught:
        call(body)  # type: ignore[operator]
    assert caught.value.subcode == "DeserializationFailure"
    assert caught.value.parameters == {}
    return caught.value.message


# -- JSON -----------------------------------------------------------------------------------


def test_json_names_are_case_insensitive_and_keep_their_spelling() -> None:
    doc = from_json(b'{"UserAgent": "tests", "endpointid": "e1", "Culture": "en-US"}')
    assert (doc.text("userAgent"), doc.text("EndpointId"), doc.text("culture")) == (
        "tests",
        "e1",
        "en-US",
    )
    assert doc.has("USERAGENT") and not doc.has("instanceId")
    assert list(doc.items()) == [("UserAgent", "tests"), ("endpointid", "e1"), ("Culture", "en-US")]
    assert not doc.textual and not doc.problems


def test_json_links_are_captured_and_structure_members_are_not_inputs() -> None:
    doc = from_json(
        b'{"rel": "x", "etag": "1", "_embedded": {}, "operationId": "op",'
        b' "_links": {"Message": {"href": "data:text/plain,Hi"}, "bad": {"href": 5}, "list": []}}'
    )
    assert doc.links == {"message": "data:text/plain,Hi"}
    assert list(doc.items()) == [("operationId", "op")]


def test_json_links_that_are_not_an_object_are_ignored() -> None:
    assert from_json(b'{"_links": ["x"]}').links == {}


@pytest.mark.parametrize("body", [b"[1]", b'"text"', b"1", b"null", b"true"])
def test_json_must_be_an_object(body: bytes) -> None:
    assert "must be an object" in malformed(from_json, body)


@pytest.mark.parametrize(
    "body", [b"{", b"{'a': 1}", b'{"a": "\xff"}', b"\xef\xbb\xbf\xff{}", b"[" * 5000]
)
def test_json_that_cannot_be_read(body: bytes) -> None:
    assert "invalid JSON" in malformed(from_json, body)


@pytest.mark.parametrize("body", [b"", b"  \r\n\t"])
def test_an_empty_json_body_is_an_empty_input(body: bytes) -> None:
    doc = from_json(body)
    assert doc.values == {} and doc.links == {}


# -- XML ------------------------------------------------------------------------------------


@pytest.mark.parametrize("root", ["input", "resource"])
def test_xml_input_and_resource_roots(root: str) -> None:
    doc = from_xml(
        xml(
            '<property name="Subject">Sales &amp; more</property>'
            '<property name="description" />'
            '<propertyList name="attendees"><item>sip:a@contoso.com</item><item />'
            "<other>x</other></propertyList>"
            '<link rel="Message" href="data:text/plain,Hi" />'
            '<link rel="nohref" /><property>nameless</property>',
            root,
        )
    )
    assert doc.textual
    assert doc.text("subject") == "Sales & more"
    assert doc.text("description") == ""
    assert doc.text_list("attendees") == ["sip:a@contoso.com", ""]
    assert doc.links == {"message": "data:text/plain,Hi"}
    assert list(doc.items()) == [
        ("Subject", "Sales & more"),
        ("description", ""),
        ("attendees", ["sip:a@contoso.com", ""]),
    ]


def test_xml_without_the_namespace_is_tolerated() -> None:
    assert from_xml(b'<input><property name="a">1</property></input>').text("a") == "1"


def test_any_other_parser_failure_is_a_deserialization_failure(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def explode(*args: object, **kwargs: object) -> None:
        raise ValueError("parser trouble")

    monkeypatch.setattr("openucwa.representation.input._parse", explode)
    assert malformed(from_xml, xml("")).endswith("invalid XML")


def test_elements_from_another_namespace_are_ignored() -> None:
    doc = from_xml(xml('<x:property xmlns:x="urn:other" name="a">1</x:property>'))
    assert doc.values == {}


@pytest.mark.parametrize(
    "body",
    [
        xml("", root="reason"),
        b'<input xmlns="urn:other"><property name="a">1</property></input>',
        b'<x:input xmlns:x="urn:other" />',
    ],
)
def test_a_foreign_root_is_refused(body: bytes) -> None:
    assert "root element" in malformed(from_xml, body)


@pytest.mark.parametrize(
    "body",
    [
        b"<input",
        b"not xml",
        xml('<property name="a">#</property>').replace(b"#", b"\xff"),
        b"<a></b>",
    ],
)
def test_xml_that_cannot_be_read(body: bytes) -> None:
    assert "invalid XML" in malformed(from_xml, body)


@pytest.mark.parametrize(
    "encoding", ["x-bogus", "hex", "rot13", "base64", "zlib", "bz2", "uu", "quopri", "mbcs"]
)
def test_an_unknown_or_non_text_encoding_is_a_deserialization_failure(encoding: str) -> None:
    body = f'<?xml version="1.0" encoding="{encoding}"?><input/>'.encode()
    assert "character encoding" in malformed(from_xml, body)


@pytest.mark.parametrize("encoding", ["shift_jis", "utf-7", "undefined", "idna"])
def test_an_encoding_expat_cannot_use_is_a_deserialization_failure(encoding: str) -> None:
    malformed(from_xml, f'<?xml version="1.0" encoding="{encoding}"?><input/>'.encode())


LATIN1 = '<input><property name="subject">caf\xe9</property></input>'.encode("latin-1")


@pytest.mark.parametrize("charset", ["iso-8859-1", "ISO-8859-1", "latin1", "cp1252"])
def test_the_content_type_charset_reads_a_body_without_a_declaration(charset: str) -> None:
    assert from_xml(LATIN1, charset).text("subject") == "caf\xe9"


def test_the_content_type_charset_wins_over_the_declaration() -> None:
    # RFC 7303: the charset parameter is authoritative, the declaration is not.
    declared = b'<?xml version="1.0" encoding="utf-8"?>' + LATIN1
    assert from_xml(declared, "iso-8859-1").text("subject") == "caf\xe9"
    bogus = b'<?xml version="1.0" encoding="x-bogus"?>' + LATIN1
    assert from_xml(bogus, "iso-8859-1").text("subject") == "caf\xe9"
    assert "invalid XML" in malformed(lambda body: from_xml(body, "utf-8"), declared)


def test_a_byte_order_mark_wins_over_the_content_type_charset() -> None:
    body = '<input><property name="subject">caf\xe9</property></input>'
    assert from_xml(b"\xef\xbb\xbf" + body.encode(), "iso-8859-1").text("subject") == "caf\xe9"
    assert from_xml(body.encode("utf-16"), "iso-8859-1").text("subject") == "caf\xe9"


def test_without_a_charset_a_latin1_body_needs_its_declaration() -> None:
    assert "invalid XML" in malformed(from_xml, LATIN1)
    declared = b'<?xml version="1.0" encoding="iso-8859-1"?>' + LATIN1
    assert from_xml(declared).text("subject") == "caf\xe9"


@pytest.mark.parametrize(
    "charset", ["x-bogus", "hex", "rot13", "shift_jis", "utf\x00-8", "a" * 300]
)
def test_an_unusable_content_type_charset_is_a_deserialization_failure(charset: str) -> None:
    malformed(lambda body: from_xml(body, charset), LATIN1)


def test_an_empty_xml_body_is_an_empty_input() -> None:
    doc = from_xml(b" \n")
    assert doc.values == {} and doc.textual


BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    + b"".join(
        b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
        for i in range(1, 10)
    )
    + b']><input xmlns="'
    + NS.encode()
    + b'"><property name="a">&lol9;</property></input>'
)
EXTERNAL = (
    b'<?xml version="1.0"?><!DOCTYPE input [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b'<input><property name="a">&xxe;</property></input>'
)
DOCTYPE_ONLY = b'<?xml version="1.0"?><!DOCTYPE input><input />'
PARAMETER_ENTITY = (
    b'<?xml version="1.0"?><!DOCTYPE input [<!ENTITY % p SYSTEM "http://127.0.0.1:1/x.dtd"> %p;]>'
    b"<input />"
)


@pytest.mark.timeout(5)
@pytest.mark.parametrize(
    "body",
    [BILLION_LAUGHS, EXTERNAL, DOCTYPE_ONLY, PARAMETER_ENTITY],
    ids=["billion-laughs", "external-entity", "doctype", "parameter-entity"],
)
def test_dtds_and_entities_are_refused_before_expansion(body: bytes) -> None:
    assert "DTDs and entities are not allowed" in malformed(from_xml, body)


@pytest.mark.timeout(5)
def test_deep_nesting_is_refused() -> None:
    deep = (
        b'<input xmlns="' + NS.encode() + b'">' + b"<a>" * 10_000 + b"</a>" * 10_000 + b"</input>"
    )
    assert "deeper than" in malformed(from_xml, deep)


def test_nesting_up_to_the_limit_is_fine() -> None:
    inner = MAX_XML_DEPTH - 1  # below the root element
    ok = xml("<a>" * inner + "</a>" * inner + '<property name="p">v</property>')
    assert from_xml(ok).text("p") == "v"
    too_deep = xml("<a>" * (inner + 1) + "</a>" * (inner + 1))
    assert "deeper than" in malformed(from_xml, too_deep)


# -- typed readers --------------------------------------------------------------------------


def test_text_reader() -> None:
    doc = from_json(b'{"a": "x", "n": 5, "long": "abcd"}')
    assert doc.text("a") == "x" and doc.text("missing") is None
    assert doc.text("long", max_length=4) == "abcd"
    assert doc.text("n") is None and doc.text("long", max_length=3) is None
    assert doc.problems == {"n": "Must be a string.", "long": "The maximum length is 3 characters."}


def test_text_list_reader_json() -> None:
    doc = from_json(b'{"ok": ["a", "b"], "str": "a", "mixed": ["a", 1], "many": ["a", "b", "c"]}')
    assert doc.text_list("ok") == ["a", "b"] and doc.text_list("missing") is None
    assert doc.text_list("str") is None and doc.text_list("mixed") is None
    assert doc.text_list("many", max_items=2) is None
    assert set(doc.problems) == {"str", "mixed", "many"}
    assert doc.problems["many"] == "At most 2 items."


def test_text_list_reader_xml_takes_a_single_property_as_a_list() -> None:
    doc = from_xml(xml('<property name="one">sip:a@contoso.com</property><property name="none"/>'))
    assert doc.text_list("one") == ["sip:a@contoso.com"]
    assert doc.text_list("none") == []
    assert not doc.problems


def test_date_reader() -> None:
    doc = from_json(
        b'{"aspnet": "\\/Date(1474932029051)\\/", "iso": "2013-02-07T01:17:18.000Z",'
        b' "bad": "tomorrow", "number": 1474932029051}'
    )
    assert doc.date("aspnet") == parse_date("/Date(1474932029051)/")
    assert doc.date("iso") == parse_date("2013-02-07T01:17:18Z")
    assert doc.date("bad") is None and doc.date("number") is None and doc.date("x") is None
    assert set(doc.problems) == {"bad", "number"}


def test_boolean_reader() -> None:
    doc = from_json(b'{"t": true, "f": false, "s": "true", "n": 1}')
    assert (doc.boolean("t"), doc.boolean("f"), doc.boolean("missing")) == (True, False, None)
    assert doc.boolean("s") is None and doc.boolean("n") is None
    assert set(doc.problems) == {"s", "n"}
    texts = ("True", "false", "TRUE", "yes")
    doc = from_xml(
        xml("".join(f'<property name="p{i}">{v}</property>' for i, v in enumerate(texts)))
    )
    assert [doc.boolean(p) for p in ("p0", "p1", "p2")] == [True, False, True]
    assert doc.boolean("p3") is None and doc.boolean("missing") is None
    assert set(doc.problems) == {"p3"}


def test_two_spellings_of_one_name_are_refused_not_merged() -> None:
    for doc in (
        from_json(b'{"subject": "a", "Subject": "b", "x": 1, "x": 2}'),
        from_xml(xml('<property name="subject">a</property><property name="SUBJECT">b</property>')),
    ):
        assert list(doc.problems) in (["Subject"], ["SUBJECT"])
    assert not from_json(b'{"x": 1, "x": 2}').problems  # one spelling twice: the last wins


def test_check_raises_once_with_every_problem() -> None:
    doc = from_json(b'{"subject": 1, "attendees": "x", "expirationTime": "never"}')
    doc.check()  # nothing read yet: nothing wrong
    doc.text("subject"), doc.text_list("attendees"), doc.date("expirationTime")
    with pytest.raises(BadRequest) as caught:
        doc.check()
    assert caught.value.subcode == "ParameterValidationFailure"
    assert set(caught.value.parameters) == {"subject", "attendees", "expirationTime"}


def test_merge_query_body_wins_and_values_become_textual() -> None:
    doc = from_json(b'{"Operationid": "from-body"}')
    doc.merge_query({"operationId": "from-query", "Flag": "true", "sessionContext": "s"})
    assert doc.text("operationid") == "from-body"
    assert doc.text("sessioncontext") == "s"
    assert doc.boolean("flag") is True and doc.textual
    empty = InputDoc()
    empty.merge_query({})
    assert not empty.textual


def test_put_of_another_spelling_is_a_problem_and_the_last_value_is_kept() -> None:
    doc = InputDoc()
    doc.put("Name", "first")
    doc.put("Name", "again")
    assert not doc.problems and doc.raw("name") == "again"
    doc.put("NAME", "third")
    assert list(doc.items()) == [("NAME", "third")]
    assert list(doc.problems) == ["NAME"]

"""Request bodies -> ``InputDoc``: a case-insensitive bag of input properties (spec §4.2, §4.3).

Both codecs land here. JSON values keep their JSON types; XML values are text (``<property>``)
or lists of text (``<propertyList>``), so the typed readers below coerce XML text where the
field's type says so. Every reader records a problem instead of raising, so one 400
``ParameterValidationFailure`` names every bad property at once.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from xml.etree.ElementTree import Element, ParseError, TreeBuilder

import msgspec
from defusedxml.common import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from openucwa.domain.errors import BadRequest, validation_failure
from openucwa.representation.dates import parse_date
from openucwa.representation.resource import UCWA_NAMESPACE

MAX_XML_DEPTH = 16
MAX_LIST_ITEMS = 10_000  # a property's array, unless its reader asks for fewer
IGNORED = frozenset({"rel", "etag", "_links", "_embedded"})
_NS = "{" + UCWA_NAMESPACE + "}"
_IS_TEXT = str.__instancecheck__  # isinstance(v, str) that map() calls without a Python frame


def _malformed(detail: str) -> BadRequest:
    return BadRequest("DeserializationFailure", f"The request body could not be read: {detail}")


@dataclass(slots=True)
class InputDoc:
    values: dict[str, tuple[str, Any]] = field(default_factory=dict)
    links: dict[str, str] = field(default_factory=dict)
    textual: bool = False  # True when values came from XML (or a query string)
    problems: dict[str, str] = field(default_factory=dict)

    # -- building ------------------------------------------------------------------------

    def put(self, name: str, value: Any) -> None:
        key = name.casefold()
        found = self.values.get(key)
        if found is not None:
            self.collided(name, found[0])
        self.values[key] = (name, value)

    def collided(self, name: str, earlier: str) -> None:
        """Names are matched whatever their case (spec §0.4), so two spellings of one name
        are one property sent twice: refused, rather than one of them silently dropped."""
        if name != earlier:
            self.problems[name] = f"Sent twice, also as {earlier!r}: names ignore letter case."

    def merge_query(self, query: Mapping[str, str]) -> None:
        """Query parameters are POST input too; the body wins on conflict (spec §2.0.6)."""
        for name, value in query.items():
            if name.casefold() not in self.values:
                self.values[name.casefold()] = (name, value)
        self.textual = self.textual or bool(query)

    # -- reading -------------------------------------------------------------------------

    def has(self, name: str) -> bool:
        return name.casefold() in self.values

    def raw(self, name: str) -> Any:
        entry = self.values.get(name.casefold())
        return None if entry is None else entry[1]

    def text(self, name: str, max_length: int | None = None) -> str | None:
        entry = self.values.get(name.casefold())  # raw(), inlined: a meeting reads ten
        if entry is None:
            return None
        value = entry[1]
        if value is None:
            return None
        if not isinstance(value, str):
            self.problems[name] = "Must be a string."
            return None
        if max_length is not None and len(value) > max_length:
            self.problems[name] = f"The maximum length is {max_length} characters."
            return None
        return value

    def text_list(self, name: str, max_items: int = MAX_LIST_ITEMS) -> list[str] | None:
        entry = self.values.get(name.casefold())
        if entry is None:
            return None
        value = entry[1]
        if value is None:
            return None
        if isinstance(value, str) and self.textual:
            value = [value] if value else []
        if not isinstance(value, list) or not all(map(_IS_TEXT, value)):
            self.problems[name] = "Must be an array of strings."
            return None
        if len(value) > max_items:
            self.problems[name] = f"At most {max_items} items."
            return None
        return value

    def date(self, name: str) -> datetime | None:
        value = self.raw(name)
        if value is None:
            return None
        parsed = parse_date(value) if isinstance(value, str) else None
        if parsed is None:
            self.problems[name] = "Must be a date: /Date(milliseconds)/ or ISO 8601."
        return parsed

    def boolean(self, name: str) -> bool | None:
        value = self.raw(name)
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, str) and self.textual and value.lower() in ("true", "false"):
            return value.lower() == "true"
        self.problems[name] = "Must be true or false."
        return None

    def items(self) -> Iterator[tuple[str, Any]]:
        """Every input property with its original name (rel/etag/_links/_embedded dropped)."""
        for key, (name, value) in self.values.items():
            if key not in IGNORED:
                yield name, value

    def check(self) -> None:
        """Raise the collected problems as one 400 ParameterValidationFailure."""
        if self.problems:
            raise validation_failure(self.problems)


UTF8_BOM = b"\xef\xbb\xbf"


def from_json(body: bytes) -> InputDoc:
    doc = InputDoc()
    if body.startswith(UTF8_BOM):  # some .NET and PowerShell writers put one first
        body = body[len(UTF8_BOM) :]
    if not body or body.isspace():
        return doc
    try:
        # msgspec rather than orjson: it keeps integers beyond 64 bits exact (orjson turns
        # them into floats, which changed an extension's value without a word).
        data = _decode_json(body)
    except msgspec.DecodeError as exc:
        raise _malformed(f"invalid JSON ({exc})") from None
    except RecursionError:
        raise _malformed("invalid JSON (nested too deeply)") from None
    if not isinstance(data, dict):
        raise _malformed("the JSON body must be an object")
    values = doc.values
    for name, value in data.items():
        key = name.casefold()
        if key == "_links" and isinstance(value, dict):
            for rel, link in value.items():
                if isinstance(link, dict) and isinstance(link.get("href"), str):
                    doc.links[rel.casefold()] = link["href"]
        if key in values:  # put(), inlined
            doc.collided(name, values[key][0])
        values[key] = (name, value)
    return doc


_decode_json = msgspec.json.Decoder().decode


def _local(tag: str) -> str:
    if tag.startswith(_NS):
        return tag[len(_NS) :]
    if tag.startswith("{"):
        return "\0"  # a foreign namespace: never one of ours
    return tag


def _check_depth(root: Element) -> None:
    stack: list[tuple[Element, int]] = [(root, 1)]
    while stack:
        element, depth = stack.pop()
        if depth > MAX_XML_DEPTH:
            raise _malformed(f"XML nested deeper than {MAX_XML_DEPTH} levels")
        stack.extend((child, depth + 1) for child in element)


def _parse(body: bytes, charset: str | None) -> Element:
    """defusedxml's ``fromstring``, with the Content-Type's charset handed to expat.

    Which encoding wins is RFC 7303's order (§3.2, §3.3): a byte order mark, then the
    ``charset`` parameter of the Content-Type, then the document's own encoding declaration.
    expat gives exactly that when told the charset: it overrides the declaration, and a BOM
    still overrides it."""
    parser = DefusedXMLParser(
        target=TreeBuilder(),
        encoding=charset,
        forbid_dtd=True,
        forbid_entities=True,
        forbid_external=True,
    )
    parser.feed(body)
    root: Element = parser.close()
    return root


def _text_only(element: Element, name: str) -> str:
    """A property's value is text: one holding elements (``head<b>x</b>tail``) is refused, as
    reading its text alone kept "head" and dropped the rest without a word."""
    if len(element):
        raise _malformed(f"the value of {name!r} holds elements; it must be text")
    return element.text or ""


def from_xml(body: bytes, charset: str | None = None) -> InputDoc:
    """``charset``: the Content-Type's charset parameter, if it named one."""
    doc = InputDoc(textual=True)
    if not body.strip():
        return doc
    try:
        root = _parse(body, charset)
    except DefusedXmlException:
        raise _malformed("DTDs and entities are not allowed") from None
    except ParseError as exc:
        raise _malformed(f"invalid XML ({exc})") from None
    except LookupError:  # an encoding Python does not know, or not a text codec ("hex")
        raise _malformed("unknown or unsupported character encoding") from None
    except (ValueError, RecursionError):  # ValueError: also multi-byte codecs expat cannot use
        raise _malformed("invalid XML") from None
    _check_depth(root)
    if _local(root.tag) not in ("input", "resource"):
        raise _malformed("the root element must be <input> or <resource>")
    for child in root:
        kind = _local(child.tag)
        name = child.get("name") or ""
        if kind == "property" and name:
            doc.put(name, _text_only(child, name))
        elif kind == "propertyList" and name:
            items = [_text_only(item, name) for item in child if _local(item.tag) == "item"]
            doc.put(name, items)
        elif kind == "link":
            rel, href = child.get("rel"), child.get("href")
            if rel and href:
                doc.links[rel.casefold()] = href
    return doc

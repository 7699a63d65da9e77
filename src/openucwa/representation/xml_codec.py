"""Resource <-> UCWA XML (``<resource>``, ``<link>``, ``<property>``, ``<propertyList>``).

Writing is a small string builder with proper escaping. Reading goes through defusedxml with
DTDs, entities and external references forbidden, and a depth limit, so hostile documents are
refused before anything is expanded.
"""

from __future__ import annotations

import re
from datetime import datetime
from xml.sax.saxutils import escape, quoteattr

from openucwa.representation.dates import to_iso
from openucwa.representation.resource import (
    UCWA_NAMESPACE,
    ErrorBody,
    Event,
    EventBatch,
    EventLink,
    Link,
    OptionsMetadata,
    Resource,
    Value,
)

_DECLARATION = '<?xml version="1.0" encoding="utf-8"?>\n'


def _scalar(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime):
        return to_iso(value)
    return str(value)


# Characters XML 1.0 cannot carry at all, not even as references; JSON can, so a value stored
# from JSON is shown in XML with U+FFFD in their place (docs/deviations.md).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _attr(value: str) -> str:
    return quoteattr(_NOT_XML.sub("\ufffd", value), {"\r": "&#13;"})


def _text(value: object) -> str:
    text = _NOT_XML.sub("\ufffd", _scalar(value))
    # A raw "\r" would reach the reader as "\n" (XML end-of-line normalisation).
    return escape(text, {'"': "&quot;", "\r": "&#13;"})


def _property(out: list[str], name: str, value: Value) -> None:
    if value is None:
        return
    if isinstance(value, list):
        items = "".join(f"<item>{_text(v)}</item>" for v in value)
        out.append(f"<propertyList name={_attr(name)}>{items}</propertyList>")
        return
    text = _text(value)
    if text:
        out.append(f"<property name={_attr(name)}>{text}</property>")
    else:
        out.append(f"<property name={_attr(name)} />")


def _link(out: list[str], rel: str, link: Link) -> None:
    title = f" title={_attr(link.title)}" if link.title is not None else ""
    out.append(f"<link rel={_attr(rel)} href={_attr(link.href)}{title} />")


def _resource(out: list[str], resource: Resource, root: bool, key: str | None = None) -> None:
    # An embedded resource's element is named by its key in the container, its own type stays
    # in <property name="rel"> (ref samples: <resource rel="from"> holding a participant).
    attrs = f"rel={_attr(key or resource.rel)}"
    if resource.href is not None:
        attrs += f" href={_attr(resource.href)}"
    if root:
        attrs += f' xmlns="{UCWA_NAMESPACE}"'
    out.append(f"<resource {attrs}>")
    for rel, link in resource.links.items():
        for one in link if isinstance(link, list) else [link]:
            _link(out, rel, one)
    _property(out, "rel", resource.rel)  # always, even where JSON leaves it out (rel_in_json)
    for name, value in resource.properties.items():
        _property(out, name, value)
    if resource.etag is not None:
        _property(out, "etag", resource.etag)
    for name, item in resource.embedded.items():
        for embedded in item if isinstance(item, list) else [item]:
            _resource(out, embedded, root=False, key=name)
    out.append("</resource>")


def encode(resource: Resource) -> bytes:
    out: list[str] = [_DECLARATION]
    _resource(out, resource, root=True)
    return "".join(out).encode("utf-8")


# An embedded resource as it stands in its container (``key``: its rel there), and what goes
# between two of them: a container can be written one embedded resource at a time.
EMBEDDED_SEPARATOR = b""


def encode_embedded(resource: Resource, key: str) -> bytes:
    out: list[str] = []
    _resource(out, resource, root=False, key=key)
    return "".join(out).encode("utf-8")


def encode_error(error: ErrorBody) -> bytes:
    out = [
        _DECLARATION,
        '<reason xmlns:xsd="http://www.w3.org/2001/XMLSchema"'
        ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
        f' xmlns="{UCWA_NAMESPACE}">',
        f"<code>{_text(error.code)}</code>",
    ]
    if error.subcode:
        out.append(f"<subcode>{_text(error.subcode)}</subcode>")
    out.append(f"<message>{_text(error.message)}</message>")
    out.append("<debugInfo />")
    if error.parameters:
        out.append("<parameters>")
        for name, reason in error.parameters.items():
            _property(out, name, reason)
        out.append("</parameters>")
    else:
        out.append("<parameters />")
    out.append("</reason>")
    return "".join(out).encode("utf-8")


def _link_attrs(link: EventLink) -> str:
    title = f" title={_attr(link.title)}" if link.title is not None else ""
    return f"rel={_attr(link.rel)} href={_attr(link.href)}{title}"


def _event(out: list[str], event: Event) -> None:
    status = f" status={_attr(event.status)}" if event.status is not None else ""
    out.append(f"<{event.type} {_link_attrs(event.link)}{status}>")
    if event.in_ is not None:
        out.append(f"<in {_link_attrs(event.in_)} />")
    if event.reason is not None:
        reason = event.reason
        out.append(f"<reason><code>{_text(reason.code)}</code>")
        if reason.subcode:
            out.append(f"<subcode>{_text(reason.subcode)}</subcode>")
        out.append(f"<message>{_text(reason.message)}</message></reason>")
    if event.embedded is not None:  # keyed by the link's rel, as _embedded is in JSON
        _resource(out, event.embedded, root=False, key=event.link.rel)
    out.append(f"</{event.type}>")


def encode_events(batch: EventBatch) -> bytes:
    href = f" href={_attr(batch.href)}" if batch.href is not None else ""
    out = [_DECLARATION, f'<events{href} xmlns="{UCWA_NAMESPACE}">']
    out.append(f"<link rel={_attr(batch.continuation)} href={_attr(batch.continuation_href)} />")
    if batch.continuation != "resync":
        for sender in batch.senders:
            out.append(f"<sender rel={_attr(sender.rel)} href={_attr(sender.href)}>")
            for event in sender.events:
                _event(out, event)
            out.append("</sender>")
    out.append("</events>")
    return "".join(out).encode("utf-8")


def encode_options(meta: OptionsMetadata) -> bytes:
    """``<optionsMetadata>`` as applications_ref shows it (no UCWA namespace)."""
    out = [
        _DECLARATION,
        '<optionsMetadata xmlns:xsd="http://www.w3.org/2001/XMLSchema"'
        ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><metadata>',
    ]
    for method in meta.methods:
        out.append(f"<httpMethodMetadata><httpMethod>{_text(method.http_method)}</httpMethod>")
        out.append("<parameters>")
        for name, values in method.parameters:
            out.append(f"<parameter><name>{_text(name)}</name><supportedValues>")
            out.extend(f"<value>{_text(v)}</value>" for v in values)
            out.append("</supportedValues></parameter>")
        out.append("</parameters></httpMethodMetadata>")
    out.append("</metadata></optionsMetadata>")
    return "".join(out).encode("utf-8")

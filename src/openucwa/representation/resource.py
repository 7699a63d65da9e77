"""Resources as data. Endpoints build a ``Resource``; the JSON and XML codecs render it.

A property value is a string, int, bool, datetime, or a list of strings; ``None`` means
"omit". Link rels are single (``Link``) or always-multiple (``list[Link]``); the same holds for
embedded resources. ``href`` is the self link.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeAlias

Scalar: TypeAlias = str | int | float | bool | datetime
Value: TypeAlias = Scalar | list[Scalar] | None

UCWA_NAMESPACE = "http://schemas.microsoft.com/rtc/2012/03/ucwa"


@dataclass(frozen=True, slots=True)
class Link:
    href: str
    title: str | None = None


@dataclass(slots=True)
class Resource:
    rel: str
    href: str | None = None
    properties: dict[str, Value] = field(default_factory=dict)
    links: dict[str, Link | list[Link]] = field(default_factory=dict)
    embedded: dict[str, Resource | list[Resource]] = field(default_factory=dict)
    etag: str | None = None
    # Whether JSON carries the "rel" property: discovery documents' JSON does not (the 2015
    # capture, sfb2015-signin); XML always does (the root_ref.md / user_ref.md samples).
    rel_in_json: bool = True


@dataclass(frozen=True, slots=True)
class ErrorBody:
    """The UCWA ``reason``/error body (spec §4.6)."""

    code: str
    subcode: str | None
    message: str
    parameters: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EventLink:
    rel: str
    href: str
    title: str | None = None


@dataclass(slots=True)
class Event:
    """One event of a batch (spec §2.4.3): ``type`` is added/updated/deleted/started/completed."""

    type: str
    link: EventLink
    in_: EventLink | None = None
    embedded: Resource | None = None
    status: str | None = None
    reason: ErrorBody | None = None


@dataclass(slots=True)
class Sender:
    rel: str
    href: str
    events: list[Event] = field(default_factory=list)


@dataclass(slots=True)
class EventBatch:
    """An event-channel response. ``continuation`` is next, resume or resync; a resync response
    carries only that link (``href`` None)."""

    href: str | None
    continuation: str
    continuation_href: str
    senders: list[Sender] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class MethodMetadata:
    """One method of an OPTIONS answer (applications_ref): its input parameters, each with the
    values it takes (empty: any)."""

    http_method: str
    parameters: tuple[tuple[str, tuple[str, ...]], ...]


@dataclass(frozen=True, slots=True)
class OptionsMetadata:
    methods: tuple[MethodMetadata, ...]

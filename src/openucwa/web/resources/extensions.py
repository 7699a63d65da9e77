"""onlineMeetingExtensions (GET, POST) and onlineMeetingExtension (GET, PUT, DELETE):
an id, a distribution type, and programmer-defined properties that round-trip (spec §2.6.4)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from openucwa.auth import scopes
from openucwa.domain.meetings import PUT_MARKER, Extension, OnlineMeeting
from openucwa.representation.input import InputDoc
from openucwa.representation.resource import Resource, Value
from openucwa.web.body import read_input
from openucwa.web.context import services
from openucwa.web.guard import application_of
from openucwa.web.links import Links
from openucwa.web.respond import empty, parse_if_match, render

_SCALARS = (str, int, float, bool)


def represent_extension(
    links: Links, app_id: str, meeting: OnlineMeeting, extension: Extension
) -> Resource:
    properties: dict[str, Value] = {"id": extension.extension_id, "type": extension.type}
    for name, value in extension.values:
        properties[name] = list(value) if isinstance(value, list) else value  # type: ignore[assignment]
    properties[extension.put_guid] = PUT_MARKER
    return Resource(
        "onlineMeetingExtension",
        href=links.extension(app_id, meeting.meeting_id, extension.extension_id),
        properties=properties,
        etag=extension.etag,
    )


def _custom_values(doc: InputDoc) -> list[tuple[str, Any]]:
    """Programmer-defined properties: scalars or lists of scalars; null drops the property."""
    kept: list[tuple[str, Any]] = []
    for name, value in doc.items():
        if name.casefold() in ("id", "type") or value is None:
            continue
        if isinstance(value, _SCALARS) or (
            isinstance(value, list) and all(isinstance(v, _SCALARS) for v in value)
        ):
            kept.append((name, value))
        else:
            doc.problems[name] = "Must be a string, number, boolean or an array of them."
    return kept


def _query_value(request: Request, name: str) -> str | None:
    for key, value in request.query_params.multi_items():
        if key.casefold() == name:
            return value
    return None


async def list_extensions(request: Request) -> Response:
    caller, app = await application_of(request, scopes.MEETINGS_READWRITE)
    meeting = await services(request).meetings.get(caller.uri, request.path_params["meeting_id"])
    links = Links(request)
    items = [represent_extension(links, app.app_id, meeting, e) for e in meeting.extensions]
    resource = Resource(
        "onlineMeetingExtensions",
        href=links.extensions(app.app_id, meeting.meeting_id),
        embedded={"onlineMeetingExtension": items},  # [] when there are none, as for meetings
    )
    return render(request, resource)


async def create_extension(request: Request) -> Response:
    caller, app = await application_of(request, scopes.MEETINGS_READWRITE)
    meetings = services(request).meetings
    meeting = await meetings.get(caller.uri, request.path_params["meeting_id"])
    doc = await read_input(request, with_query=False)
    ext_id, ext_type, values = doc.text("id"), doc.text("type"), _custom_values(doc)
    doc.check()
    # POST input may come in the query too (§2.0.6): its id and type do. Other parameters are
    # not taken as programmer-defined values (a cache-buster would be stored with them).
    ext_id = ext_id if ext_id is not None else _query_value(request, "id")
    ext_type = ext_type if ext_type is not None else _query_value(request, "type")
    ext = await meetings.add_extension(caller.uri, meeting.meeting_id, ext_id, ext_type, values)
    resource = represent_extension(Links(request), app.app_id, meeting, ext)
    headers = {"Location": resource.href or ""}
    return render(request, resource, 201, etag=ext.etag, headers=headers)


async def get_extension(request: Request) -> Response:
    caller, app = await application_of(request, scopes.MEETINGS_READWRITE)
    meetings = services(request).meetings
    meeting = await meetings.get(caller.uri, request.path_params["meeting_id"])
    ext = await meetings.extension(
        caller.uri, meeting.meeting_id, request.path_params["extension_id"]
    )
    resource = represent_extension(Links(request), app.app_id, meeting, ext)
    return render(request, resource, etag=ext.etag)


async def put_extension(request: Request) -> Response:
    caller, app = await application_of(request, scopes.MEETINGS_READWRITE)
    meetings = services(request).meetings
    meeting = await meetings.get(caller.uri, request.path_params["meeting_id"])
    extension_id = request.path_params["extension_id"]
    await meetings.extension(caller.uri, meeting.meeting_id, extension_id)  # 404 first
    doc = await read_input(request, with_query=False)
    ext_type, values = doc.text("type"), _custom_values(doc)
    doc.check()
    ext = await meetings.update_extension(
        caller.uri,
        meeting.meeting_id,
        extension_id,
        ext_type,
        values,
        parse_if_match(request.headers.get("if-match")),
    )
    resource = represent_extension(Links(request), app.app_id, meeting, ext)
    return render(request, resource, etag=ext.etag)


async def delete_extension(request: Request) -> Response:
    caller, _ = await application_of(request, scopes.MEETINGS_READWRITE)
    await services(request).meetings.delete_extension(
        caller.uri,
        request.path_params["meeting_id"],
        request.path_params["extension_id"],
        parse_if_match(request.headers.get("if-match")),
    )
    return empty(204)

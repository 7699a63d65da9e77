"""myOnlineMeetings (GET, POST) and one myOnlineMeeting / myAssignedOnlineMeeting
(GET, PUT with If-Match, DELETE) - spec §2.6.2, §2.6.3."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from openucwa.auth import scopes
from openucwa.domain.meetings import (
    ASSIGNED,
    PUT_MARKER,
    MeetingInput,
    OnlineMeeting,
    build_meeting_input,
)
from openucwa.representation.input import InputDoc
from openucwa.representation.resource import Link, Resource
from openucwa.web.body import read_input
from openucwa.web.context import services
from openucwa.web.guard import application_of
from openucwa.web.links import Links
from openucwa.web.resources.extensions import represent_extension
from openucwa.web.respond import empty, parse_if_match, render


def meeting_input(doc: InputDoc) -> MeetingInput:
    """Map the input bag onto the writable properties (type errors are collected in ``doc``)."""
    entry_exit = doc.text("entryExitAnnouncement")
    if entry_exit is None:  # the alias the task pages and the sample client send (E12)
        entry_exit = doc.text("attendanceAnnouncementsStatus")
    data = build_meeting_input(
        access_level=doc.text("accessLevel"),
        attendees=doc.text_list("attendees"),
        automatic_leader_assignment=doc.text("automaticLeaderAssignment"),
        description=doc.text("description"),
        entry_exit_announcement=entry_exit,
        expiration_time=doc.date("expirationTime"),
        leaders=doc.text_list("leaders"),
        lobby_bypass_for_phone_users=doc.text("lobbyBypassForPhoneUsers"),
        phone_user_admission=doc.text("phoneUserAdmission"),
        subject=doc.text("subject"),
        problems=dict(doc.problems),  # reported together with the rule violations
    )
    return data


def represent_meeting(links: Links, app_id: str, meeting: OnlineMeeting, meet_url: str) -> Resource:
    rel = "myAssignedOnlineMeeting" if meeting.online_meeting_rel == ASSIGNED else "myOnlineMeeting"
    extensions = (
        [represent_extension(links, app_id, meeting, e) for e in meeting.extensions]
        if meeting.extensions
        else None
    )
    return Resource(
        rel,
        href=links.meeting(app_id, meeting.meeting_id),
        properties={
            "accessLevel": meeting.access_level,
            "attendees": list(meeting.attendees),
            "automaticLeaderAssignment": meeting.automatic_leader_assignment,
            "conferenceId": meeting.conference_id,
            "description": meeting.description,
            "entryExitAnnouncement": meeting.entry_exit_announcement,
            "expirationTime": meeting.expiration_time,
            "joinUrl": links.join_url(meet_url, meeting.organizer_user_part, meeting.meeting_id),
            "leaders": list(meeting.leaders),
            "legacyOnlineMeetingUri": meeting.legacy_online_meeting_uri,
            "lobbyBypassForPhoneUsers": meeting.lobby_bypass_for_phone_users,
            "onlineMeetingId": meeting.meeting_id,
            "onlineMeetingRel": meeting.online_meeting_rel,
            "onlineMeetingUri": meeting.online_meeting_uri,
            "organizerUri": meeting.organizer_uri,
            "phoneUserAdmission": meeting.phone_user_admission,
            "subject": meeting.subject,
            meeting.put_guid: PUT_MARKER,
        },
        links={"onlineMeetingExtensions": Link(links.extensions(app_id, meeting.meeting_id))},
        embedded={"onlineMeetingExtension": extensions} if extensions else {},
        etag=meeting.etag,
    )


async def list_meetings(request: Request) -> Response:
    caller, app = await application_of(request, scopes.MEETINGS_READWRITE)
    svc = services(request)
    links = Links(request)
    meet_url = svc.edge.meet_url
    assigned: list[Resource | Resource] = []
    scheduled: list[Resource] = []
    for meeting in await svc.meetings.list(caller.uri):
        resource = represent_meeting(links, app.app_id, meeting, meet_url)
        (assigned if meeting.online_meeting_rel == ASSIGNED else scheduled).append(resource)
    embedded: dict[str, Resource | list[Resource]] = {}
    if assigned:
        embedded["myAssignedOnlineMeeting"] = assigned
    if scheduled:
        embedded["myOnlineMeeting"] = scheduled
    resource = Resource(
        "myOnlineMeetings",
        href=links.app_child("my_online_meetings", app.app_id),
        embedded=embedded,
    )
    return render(request, resource)


async def create_meeting(request: Request) -> Response:
    caller, app = await application_of(request, scopes.MEETINGS_READWRITE)
    data = meeting_input(await read_input(request))
    svc = services(request)
    meeting = await svc.meetings.create(caller.uri, data)
    resource = represent_meeting(Links(request), app.app_id, meeting, svc.edge.meet_url)
    headers = {"Location": resource.href or ""}
    return render(request, resource, 201, etag=meeting.etag, headers=headers)


async def get_meeting(request: Request) -> Response:
    caller, app = await application_of(request, scopes.MEETINGS_READWRITE)
    svc = services(request)
    meeting = await svc.meetings.get(caller.uri, request.path_params["meeting_id"])
    links = Links(request)
    origin = links.origin()
    key = (
        "meeting",
        app.app_id,
        meeting.meeting_id,
        meeting.etag,
        tuple([e.etag for e in meeting.extensions]) if meeting.extensions else (),
        origin,
        svc.edge.meet_url,
    )
    return render(
        request,
        lambda: represent_meeting(links, app.app_id, meeting, svc.edge.meet_url),
        etag=meeting.etag,
        cache_key=key,
    )


async def put_meeting(request: Request) -> Response:
    caller, app = await application_of(request, scopes.MEETINGS_READWRITE)
    svc = services(request)
    meeting_id = request.path_params["meeting_id"]
    if_match = parse_if_match(request.headers.get("if-match"))
    await svc.meetings.get(caller.uri, meeting_id)  # 404 before 428/400
    data = meeting_input(await read_input(request, with_query=False))
    meeting = await svc.meetings.update(caller.uri, meeting_id, data, if_match)
    resource = represent_meeting(Links(request), app.app_id, meeting, svc.edge.meet_url)
    return render(request, resource, etag=meeting.etag)


async def delete_meeting(request: Request) -> Response:
    caller, _ = await application_of(request, scopes.MEETINGS_READWRITE)
    await services(request).meetings.delete(caller.uri, request.path_params["meeting_id"])
    return empty(204)

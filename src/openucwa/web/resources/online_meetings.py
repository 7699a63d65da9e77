"""The onlineMeetings dashboard and its read-only children: defaultValues, eligibleValues,
policies, customInvitation, phoneDialInInformation (spec §2.6.1, §2.6.5-2.6.9)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from openucwa.auth import scopes
from openucwa.representation.resource import Link, Resource
from openucwa.web.context import services
from openucwa.web.guard import application_of
from openucwa.web.links import Links
from openucwa.web.respond import render


def represent_dashboard(links: Links, app_id: str, assigned_id: str) -> Resource:
    child = links.app_child
    return Resource(
        "onlineMeetings",
        href=child("online_meetings", app_id),
        links={
            "myOnlineMeetings": Link(child("my_online_meetings", app_id)),
            "onlineMeetingDefaultValues": Link(child("default_values", app_id)),
            "onlineMeetingEligibleValues": Link(child("eligible_values", app_id)),
            "onlineMeetingInvitationCustomization": Link(child("custom_invitation", app_id)),
            "onlineMeetingPolicies": Link(child("meeting_policies", app_id)),
            "phoneDialInInformation": Link(child("phone_dial_in", app_id)),
            "myAssignedOnlineMeeting": Link(links.meeting(app_id, assigned_id)),
        },
    )


async def get_dashboard(request: Request) -> Response:
    caller, app = await application_of(request, scopes.MEETINGS_READWRITE)
    assigned = await services(request).meetings.assigned(caller.uri)
    return render(request, represent_dashboard(Links(request), app.app_id, assigned.meeting_id))


async def get_default_values(request: Request) -> Response:
    _, app = await application_of(request, scopes.MEETINGS_READWRITE)
    d = services(request).meetings.rules.defaults
    resource = Resource(
        "onlineMeetingDefaultValues",
        href=Links(request).app_child("default_values", app.app_id),
        properties={
            "accessLevel": d.access_level,
            "automaticLeaderAssignment": d.automatic_leader_assignment,
            "defaultOnlineMeetingRel": d.default_online_meeting_rel,
            "entryExitAnnouncement": d.entry_exit_announcement,
            "lobbyBypassForPhoneUsers": d.lobby_bypass_for_phone_users,
            "participantsWarningThreshold": d.participants_warning_threshold,
        },
    )
    return render(request, resource)


async def get_eligible_values(request: Request) -> Response:
    caller, app = await application_of(request, scopes.MEETINGS_READWRITE)
    meetings = services(request).meetings
    e = meetings.rules.eligible
    assigned = await meetings.assigned(caller.uri)
    links = Links(request)
    resource = Resource(
        "onlineMeetingEligibleValues",
        href=links.app_child("eligible_values", app.app_id),
        properties={
            "accessLevels": list(e.access_levels),
            "automaticLeaderAssignments": list(e.automatic_leader_assignments),
            "eligibleOnlineMeetingRels": list(e.eligible_online_meeting_rels),
            "entryExitAnnouncements": list(e.entry_exit_announcements),
            "lobbyBypassForPhoneUsersSettings": list(e.lobby_bypass_for_phone_users_settings),
        },
        links={
            "myAssignedOnlineMeeting": Link(links.meeting(app.app_id, assigned.meeting_id)),
            "myOnlineMeetings": Link(links.app_child("my_online_meetings", app.app_id)),
        },
    )
    return render(request, resource)


async def get_policies(request: Request) -> Response:
    _, app = await application_of(request, scopes.MEETINGS_READWRITE)
    p = services(request).meetings.rules.policies
    resource = Resource(
        "onlineMeetingPolicies",
        href=Links(request).app_child("meeting_policies", app.app_id),
        properties={
            "entryExitAnnouncement": p.entry_exit_announcement,
            "externalUserMeetingRecording": p.external_user_meeting_recording,
            "meetingRecording": p.meeting_recording,
            "meetingSize": p.meeting_size,
            "phoneUserAdmission": p.phone_user_admission,
            "voipAudio": p.voip_audio,
        },
    )
    return render(request, resource)


async def get_custom_invitation(request: Request) -> Response:
    _, app = await application_of(request, scopes.MEETINGS_READWRITE)
    resource = Resource(
        "onlineMeetingInvitationCustomization",
        href=Links(request).app_child("custom_invitation", app.app_id),
        properties={
            "enterpriseHelpUrl": "",
            "invitationFooterText": "",
            "invitationHelpUrl": "",
            "invitationLegalUrl": "",
            "invitationLogoUrl": "",
        },
    )
    return render(request, resource)


async def get_phone_dial_in(request: Request) -> Response:
    caller, app = await application_of(request, scopes.MEETINGS_READWRITE)
    assigned = await services(request).meetings.assigned(caller.uri)
    # No PSTN bridge: the organizer's conference id, and no regions or numbers.
    resource = Resource(
        "phoneDialInInformation",
        href=Links(request).app_child("phone_dial_in", app.app_id),
        properties={
            "conferenceId": assigned.conference_id,
            "defaultRegion": "",
            "externalDirectoryUri": "",
            "internalDirectoryUri": "",
            "isAudioConferenceProviderEnabled": False,
            "participantPassCode": "",
            "tollFreeNumbers": [],
            "tollNumber": "",
        },
        # An array rel stays an array when empty (spec §4.2 rule 4; CLIENT-COMPAT).
        embedded={"dialInRegion": []},
    )
    return render(request, resource)

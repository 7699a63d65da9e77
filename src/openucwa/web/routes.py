"""The whole URL table (trace-style layout, spec §1.2)."""

from __future__ import annotations

from starlette.convertors import Convertor, register_url_convertor
from starlette.routing import Route

from openucwa.web.resources import (
    application as app,
    batch,
    conversations as conv,
    discovery,
    events,
    extensions as ext,
    join_page,
    messaging_invitations as invitations,
    my_online_meetings as mine,
    my_presence as my,
    online_meetings as om,
    token,
)


class MeetingIdConvertor(Convertor[str]):
    """An onlineMeetingId: 8 letters or digits (so /WebTicket/oauthtoken is not a join page)."""

    regex = "[A-Za-z0-9]{8}"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("meetingid", MeetingIdConvertor())


def without_head(route: Route) -> Route:
    """Starlette serves HEAD wherever GET is served. UCWA has no HEAD (HTTP.md), and on the
    event channel a HEAD would be a whole P-GET: held, replacing the client's own, acknowledging
    batches. Without it the router answers 405 with ``Allow: GET`` (the P-GET itself is
    dispatched before the router, web/asgi.py, so its path costs nothing more)."""
    assert route.methods is not None
    route.methods.discard("HEAD")
    return route


APP = "/ucwa/oauth/v1/applications/{app_id:str}"
COMM = APP + "/communication"
CONV = COMM + "/conversations/{conv_id:str}"
INVITATION = COMM + "/messagingInvitations/{inv_id:str}"
MEETINGS = APP + "/onlineMeetings"
MEETING = MEETINGS + "/myOnlineMeetings/{meeting_id:str}"

ROUTES = [
    # Hot routes first: Starlette's router tries them in order.
    Route(MEETING, mine.get_meeting, methods=["GET"], name="my_online_meeting"),
    Route(
        MEETINGS + "/myOnlineMeetings",
        mine.create_meeting,
        methods=["POST"],
        name="my_online_meetings_post",
    ),
    # scheduling
    Route(MEETINGS, om.get_dashboard, methods=["GET"], name="online_meetings"),
    Route(
        MEETINGS + "/defaultValues", om.get_default_values, methods=["GET"], name="default_values"
    ),
    Route(
        MEETINGS + "/eligibleValues",
        om.get_eligible_values,
        methods=["GET"],
        name="eligible_values",
    ),
    Route(MEETINGS + "/policies", om.get_policies, methods=["GET"], name="meeting_policies"),
    Route(
        MEETINGS + "/customInvitation",
        om.get_custom_invitation,
        methods=["GET"],
        name="custom_invitation",
    ),
    Route(
        MEETINGS + "/phoneDialInInformation",
        om.get_phone_dial_in,
        methods=["GET"],
        name="phone_dial_in",
    ),
    Route(
        MEETINGS + "/myOnlineMeetings",
        mine.list_meetings,
        methods=["GET"],
        name="my_online_meetings",
    ),
    Route(MEETING, mine.put_meeting, methods=["PUT"], name="my_online_meeting_put"),
    Route(MEETING, mine.delete_meeting, methods=["DELETE"], name="my_online_meeting_delete"),
    Route(MEETING + "/extensions", ext.list_extensions, methods=["GET"], name="extensions"),
    Route(MEETING + "/extensions", ext.create_extension, methods=["POST"], name="extensions_post"),
    Route(
        MEETING + "/extensions/{extension_id:str}",
        ext.get_extension,
        methods=["GET"],
        name="extension",
    ),
    Route(
        MEETING + "/extensions/{extension_id:str}",
        ext.put_extension,
        methods=["PUT"],
        name="extension_put",
    ),
    Route(
        MEETING + "/extensions/{extension_id:str}",
        ext.delete_extension,
        methods=["DELETE"],
        name="extension_delete",
    ),
    # applications
    Route(
        "/ucwa/oauth/v1/applications", app.create_application, methods=["POST"], name="applications"
    ),
    Route(
        "/ucwa/oauth/v1/applications",
        app.options_applications,
        methods=["OPTIONS"],
        name="applications_options",
    ),
    Route(APP, app.get_application, methods=["GET"], name="application"),
    Route(APP, app.delete_application, methods=["DELETE"], name="application_delete"),
    without_head(Route(APP + "/events", events.get_events, methods=["GET"], name="events")),
    Route(APP + "/batch", batch.post_batch, methods=["POST"], name="batch"),
    Route(APP + "/me", app.get_me, methods=["GET"], name="me"),
    Route(
        APP + "/me/makeMeAvailable",
        app.make_me_available,
        methods=["POST"],
        name="make_me_available",
    ),
    Route(APP + "/me/presence", my.get_presence, methods=["GET"], name="my_presence"),
    Route(APP + "/me/note", my.get_note, methods=["GET"], name="my_note"),
    Route(APP + "/me/location", my.get_location, methods=["GET"], name="my_location"),
    Route(APP + "/people", app.get_people, methods=["GET"], name="people"),
    Route(APP + "/photos/{address:str}", app.get_photo, methods=["GET"], name="photo"),
    Route(APP + "/policies", app.get_policies, methods=["GET"], name="app_policies"),
    Route(APP + "/communication", app.get_communication, methods=["GET"], name="communication"),
    Route(APP + "/communication", app.put_communication, methods=["PUT"], name="communication_put"),
    Route(
        APP + "/reportMyActivity",
        app.report_my_activity,
        methods=["POST"],
        name="report_my_activity",
    ),
    Route(  # the path of Lync 2013's traces (ReceiveAnIM, BatchingRequests)
        APP + "/me/reportMyActivity",
        app.report_my_activity,
        methods=["POST"],
        name="report_my_activity_in_me",
    ),
    Route(APP + "/people/{address:str}", app.get_contact, methods=["GET"], name="contact"),
    Route(COMM + "/conversations", conv.list_conversations, methods=["GET"], name="conversations"),
    Route(CONV, conv.get_conversation, methods=["GET"], name="conversation"),
    Route(CONV, conv.delete_conversation, methods=["DELETE"], name="conversation_delete"),
    Route(CONV + "/participants", conv.get_participants, methods=["GET"], name="participants"),
    Route(
        CONV + "/participants/{pkey:str}", conv.get_participant, methods=["GET"], name="participant"
    ),
    Route(
        CONV + "/participants/{pkey:str}/messaging",
        conv.get_participant_messaging,
        methods=["GET"],
        name="participant_messaging",
    ),
    Route(CONV + "/messaging", conv.get_messaging, methods=["GET"], name="messaging"),
    Route(CONV + "/messaging/messages", conv.get_messages, methods=["GET"], name="messages"),
    Route(CONV + "/messaging/messages", conv.send_message, methods=["POST"], name="messages_post"),
    Route(
        CONV + "/messaging/messages/{msg_id:str}", conv.get_message, methods=["GET"], name="message"
    ),
    Route(
        CONV + "/messaging/messages/{msg_id:str}",
        conv.send_message,
        methods=["POST"],
        name="message_reply",
    ),
    Route(
        CONV + "/messaging/terminate", conv.stop_messaging, methods=["POST"], name="messaging_stop"
    ),
    Route(CONV + "/messaging/typing", conv.set_typing, methods=["POST"], name="messaging_typing"),
    Route(
        CONV + "/messaging/typingParticipants",
        conv.get_typing_participants,
        methods=["GET"],
        name="typing_participants",
    ),
    Route(
        COMM + "/messagingInvitations",
        invitations.start_messaging,
        methods=["POST"],
        name="start_messaging",
    ),
    Route(INVITATION, invitations.get_invitation, methods=["GET"], name="messaging_invitation"),
    Route(INVITATION + "/accept", invitations.accept, methods=["POST"], name="invitation_accept"),
    Route(
        INVITATION + "/decline", invitations.decline, methods=["POST"], name="invitation_decline"
    ),
    Route(INVITATION + "/cancel", invitations.cancel, methods=["POST"], name="invitation_cancel"),
    # discovery and sign-in
    Route("/", discovery.root, methods=["GET"], name="root"),
    Route(
        "/Autodiscover/AutodiscoverService.svc/root",
        discovery.root,
        methods=["GET"],
        name="autodiscover_root",
    ),
    Route(
        "/Autodiscover/AutodiscoverService.svc/root/oauth/user",
        discovery.user,
        methods=["GET"],
        name="user",
    ),
    Route(
        "/Autodiscover/AutodiscoverService.svc/root/user",
        discovery.user,
        methods=["GET"],
        name="user_self",
    ),
    Route("/Autodiscover/XFrame/XFrame.html", discovery.xframe, methods=["GET"], name="xframe"),
    Route("/xframe", discovery.xframe, methods=["GET"], name="xframe_short"),
    Route("/WebTicket/oauthtoken", token.token, methods=["POST"], name="token"),
    # the joinUrl page: https://{host}/{organizer user part}/{onlineMeetingId}
    Route(
        "/{user_part:str}/{meeting_id:meetingid}",
        join_page.join_page,
        methods=["GET"],
        name="join_page",
    ),
]

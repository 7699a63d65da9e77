"""conversations, conversation (GET, DELETE = leave), participants, participant,
participantMessaging, messaging, messages (GET, POST = sendMessage), message (GET, POST = reply),
stopMessaging, setIsTyping, typingParticipants (spec §2.7.2, §2.9.1, §2.10, §2.11)."""

from __future__ import annotations

import codecs
from urllib.parse import unquote

from starlette.requests import Request
from starlette.responses import Response

from openucwa.domain.applications import Application
from openucwa.domain.conversations import CONNECTED, Conversation
from openucwa.domain.errors import BadRequest, NotFound, UnsupportedMediaType
from openucwa.domain.users import Caller, parse_sip_uri
from openucwa.representation.media_types import charset_of
from openucwa.representation.resource import Link, Resource
from openucwa.services.messaging import conv_snapshot
from openucwa.web.body import read_body
from openucwa.web.context import services
from openucwa.web.guard import application_of
from openucwa.web.links import Links
from openucwa.web.resources import conversation_views as views
from openucwa.web.respond import empty, render

OPERATION_ID_NAMES = ("operationid", "operationcontext", "sessioncontext")


async def _conversation(request: Request) -> tuple[Caller, Application, Conversation]:
    caller, app = await application_of(request)
    conv = await services(request).messaging.conversation(app, request.path_params["conv_id"])
    return caller, app, conv


async def _represent(request: Request, app: Application, conv: Conversation) -> Resource:
    messaging = services(request).messaging
    thread = await messaging.thread_of(conv)
    members = await messaging.members(conv)
    name = dict(members).get(conv.user_uri, conv.user_uri)
    snap = conv_snapshot(conv, thread, len(members))
    return views.conversation(Links(request), app.app_id, snap, (conv.user_uri, name))


async def list_conversations(request: Request) -> Response:
    _, app = await application_of(request)
    active = request.query_params.get("filter", "").lower() == "active"
    links = Links(request)
    convs = await services(request).messaging.conversations(app, active)
    resource = Resource(
        "conversations",
        href=links.path("conversations", app_id=app.app_id),
        links={"conversation": [Link(links.conv(app.app_id, c.conv_id)) for c in convs]},
    )
    return render(request, resource)


async def get_conversation(request: Request) -> Response:
    _, app, conv = await _conversation(request)
    return render(request, await _represent(request, app, conv))


async def delete_conversation(request: Request) -> Response:
    caller, app, conv = await _conversation(request)
    await services(request).messaging.leave(caller, app, conv.conv_id)
    return empty(204)


async def get_participants(request: Request) -> Response:
    _, app, conv = await _conversation(request)
    links = Links(request)
    members = await services(request).messaging.members(conv)
    resource = Resource(
        "participants",
        href=links.conv(app.app_id, conv.conv_id, "participants"),
        links={
            "participant": [
                Link(links.participant(app.app_id, conv.conv_id, views.address(uri)), title=name)
                for uri, name in members
            ]
        },
    )
    return render(request, resource)


async def _member(request: Request, conv: Conversation) -> tuple[str, str]:
    uri = parse_sip_uri(unquote(request.path_params["pkey"]))
    members = dict(await services(request).messaging.members(conv))
    if uri is None or uri not in members:
        raise NotFound(message="No such participant in this conversation.")
    return uri, members[uri]


async def get_participant(request: Request) -> Response:
    _, app, conv = await _conversation(request)
    uri, name = await _member(request, conv)
    resource = views.participant(
        Links(request), app.app_id, conv.conv_id, uri, name, uri == conv.user_uri,
        conv.messaging == CONNECTED, services(request).organization.contains(uri),
    )  # fmt: skip
    return render(request, resource)


async def get_participant_messaging(request: Request) -> Response:
    _, app, conv = await _conversation(request)
    uri, name = await _member(request, conv)
    if conv.messaging != CONNECTED:
        raise NotFound(message="The participant is not in instant messaging.")
    resource = views.participant_messaging(Links(request), app.app_id, conv.conv_id, uri, name)
    return render(request, resource)


async def get_messaging(request: Request) -> Response:
    _, app, conv = await _conversation(request)
    return render(
        request,
        views.messaging(
            Links(request),
            app.app_id,
            conv.conv_id,
            conv.messaging,
            app.supported_message_formats,
        ),
    )


async def get_messages(request: Request) -> Response:
    _, app, conv = await _conversation(request)
    links = Links(request)
    found = await services(request).messaging.messages(conv)
    resource = Resource(
        "messages",
        href=links.conv(app.app_id, conv.conv_id, "messages"),
        links={
            "message": [
                Link(links.conv(app.app_id, conv.conv_id, "message", msg_id=m.msg_id))
                for m in found
            ]
        },
    )
    return render(request, resource)


async def get_message(request: Request) -> Response:
    _, app, conv = await _conversation(request)
    msg = await services(request).messaging.message(conv, request.path_params["msg_id"])
    outgoing = msg.sender_app == app.app_id
    snap = {
        "msg_id": msg.msg_id,
        "from_uri": msg.sender_uri,
        "from_name": msg.sender_name,
        "operation_id": msg.operation_id if outgoing else "",  # the sender's own (spec §4.7)
        "content_type": msg.content_type,
        "text": msg.text,
        "ts": int(msg.created_at.timestamp() * 1000),
    }
    resource = views.message(Links(request), app.app_id, conv.conv_id, snap, outgoing)
    return render(request, resource)


def _message_text(body: bytes, charset: str | None) -> str:
    """The body in its Content-Type's charset (UTF-8 when it names none), as XML bodies are."""
    name = charset or "utf-8"
    try:
        if not codecs.lookup(name)._is_text_encoding:  # "hex", "zlib": not a charset
            raise LookupError(name)
    except LookupError:
        raise BadRequest("DeserializationFailure", f"Unknown charset {name[:40]!r}.") from None
    try:
        return body.decode(name)
    except (UnicodeDecodeError, ValueError):
        raise BadRequest("DeserializationFailure", f"The message is not {name[:40]}.") from None


async def send_message(request: Request) -> Response:
    """sendMessage: ``text/plain`` or ``text/html`` body; also a reply POSTed to a message."""
    caller, app, conv = await _conversation(request)
    if "msg_id" in request.path_params:  # a reply: the message replied to must exist (404)
        await services(request).messaging.message(conv, request.path_params["msg_id"])
    content_type = (request.headers.get("content-type") or "text/plain").split(";")[0].strip()
    if content_type.lower() not in ("text/plain", "text/html"):
        raise UnsupportedMediaType("UnsupportedMediaType", "Send text/plain or text/html.")
    body = await read_body(request)
    text = _message_text(body, charset_of(request.headers.get("content-type")))
    if not text:
        raise BadRequest("ParameterValidationFailure", "The message is empty.")
    operation_id = next(
        (v for k, v in request.query_params.items() if k.lower() in OPERATION_ID_NAMES), None
    )
    msg = await services(request).messaging.send(
        caller, app, conv.conv_id, content_type.lower(), text, operation_id
    )
    location = Links(request).conv(app.app_id, conv.conv_id, "message", msg_id=msg.msg_id)
    return empty(201, {"Location": location})


async def stop_messaging(request: Request) -> Response:
    caller, app, conv = await _conversation(request)
    await read_body(request)
    await services(request).messaging.stop(caller, app, conv.conv_id)
    return empty(204)


async def set_typing(request: Request) -> Response:
    caller, app, conv = await _conversation(request)
    await read_body(request)
    await services(request).messaging.typing(caller, app, conv.conv_id)
    return empty(204)


async def get_typing_participants(request: Request) -> Response:
    _, app, conv = await _conversation(request)
    links = Links(request)
    messaging = services(request).messaging
    members = dict(await messaging.members(conv))
    typists = [u for u in await messaging.typists(conv) if u != conv.user_uri]
    resource = Resource(
        "typingParticipants",
        href=links.conv(app.app_id, conv.conv_id, "typing_participants"),
        links={
            "participant": [
                Link(links.participant(app.app_id, conv.conv_id, views.address(u)), members.get(u))
                for u in typists
            ]
        },
    )
    return render(request, resource)

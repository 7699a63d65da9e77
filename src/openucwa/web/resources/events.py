"""The event channel endpoint ``GET {application}/events?ack=N`` (spec §2.4) and the renderer
that turns stored events into the viewer's sender blocks (hrefs of *this* application)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from openucwa.domain.applications import Application
from openucwa.domain.errors import validation_failure
from openucwa.representation import json_codec, xml_codec
from openucwa.representation.media_types import negotiate
from openucwa.representation.resource import ErrorBody, Event, EventBatch, EventLink, Sender
from openucwa.services.event_channel import PollResult
from openucwa.web.context import ON_CLOSE, services
from openucwa.web.guard import application_of
from openucwa.web.links import Links
from openucwa.web.resources import conversation_views as views
from openucwa.web.resources.application import represent_communication
from openucwa.web.respond import render_bytes
from openucwa.web.security import authenticate

_PARAMS = ("low", "medium", "timeout", "priority")


def _numbers(request: Request) -> dict[str, float | None]:
    problems: dict[str, str] = {}
    found: dict[str, float | None] = dict.fromkeys(_PARAMS)
    for key, value in request.query_params.items():
        name = key.lower()
        if name not in found:
            continue
        try:
            number = float(value)
            if number != number or number in (float("inf"), float("-inf")):
                raise ValueError
            found[name] = number
        except ValueError:
            problems[name] = "Must be a number."
    if problems:
        raise validation_failure(problems)
    return found


def _ack(request: Request) -> int | None:
    """The batch asked for; None without ``ack``; -1 for garbage (answered with resync)."""
    for key, value in request.query_params.items():
        if key.lower() == "ack":
            return int(value) if value.isascii() and value.isdigit() and len(value) < 16 else -1
    return None


class Renderer:
    """Stored event bodies -> Events with this application's hrefs. ``thread_convs`` maps the
    threads the application took part in to its conversation ids; ``viewer`` is its user."""

    def __init__(
        self,
        links: Links,
        app: Application,
        viewer: tuple[str, str],
        thread_convs: Mapping[str, str],
        in_organization: Callable[[str], bool] | None = None,
    ) -> None:
        self.links = links
        self.app = app
        self.viewer = viewer
        self.thread_convs = thread_convs
        self.in_organization = in_organization
        self.viewer_in_organization = in_organization is None or in_organization(app.owner_uri)

    def _conv_id(self, body: Mapping[str, Any]) -> str | None:
        if "conv_id" in body:
            return str(body["conv_id"])
        return self.thread_convs.get(str(body.get("thread", "")))

    def sender(self, body: Mapping[str, Any]) -> tuple[str, str] | None:
        kind = str(body["sender"])
        app_id = self.app.app_id
        if kind == "communication":
            return "communication", self.links.app_child("communication", app_id)
        if kind == "me":
            return "me", self.links.app_child("me", app_id)
        conv_id = self._conv_id(body)
        if conv_id is None:
            return None
        return "conversation", self.links.conv(app_id, conv_id)

    def event(self, body: Mapping[str, Any]) -> Event | None:
        target = str(body["target"])
        type_ = str(body["type"])
        links, app_id = self.links, self.app.app_id
        if target == "communication":
            snap = body.get("snapshot") or {}
            shown = replace(
                self.app,
                communication_put_guid=str(snap.get("put_guid", self.app.communication_put_guid)),
                communication_etag=str(snap.get("etag", self.app.communication_etag)),
                supported_modalities=tuple(snap.get("modalities", ())),
                supported_message_formats=tuple(snap.get("formats", ("Plain",))),
                communication_settings=tuple((str(k), v) for k, v in snap.get("settings", ())),
            )
            resource = represent_communication(links, shown)
            return Event(type_, EventLink("communication", resource.href or ""), embedded=resource)
        if target == "me":
            return Event(type_, EventLink("me", links.app_child("me", app_id)))
        if target in ("presence", "note", "location"):
            return Event(type_, EventLink(target, links.app_child(f"my_{target}", app_id)))
        reason = body.get("reason")
        error = (
            ErrorBody(str(reason["code"]), reason.get("subcode"), str(reason.get("message", "")))
            if reason
            else None
        )
        status = body.get("status")
        if target == "messagingInvitation":
            inv = views.invitation(
                links, app_id, body["inv"], body.get("accepted_by"), self.in_organization
            )
            link = EventLink("messagingInvitation", inv.href or "")
            return Event(type_, link, embedded=inv, status=status, reason=error)
        if target == "conversation":
            conv = views.conversation(links, app_id, body["conv"], self.viewer)
            return Event(type_, EventLink("conversation", conv.href or ""), embedded=conv,
                         reason=error)  # fmt: skip
        conv_id = self._conv_id(body)
        if conv_id is None:
            return None
        if target == "messaging":
            messaging = views.messaging(
                links, app_id, conv_id, str(body["state"]), self.app.supported_message_formats
            )
            return Event(type_, EventLink("messaging", messaging.href or ""), embedded=messaging)
        if target in ("participant", "localParticipant", "participantMessaging", "typing"):
            return self._member_event(target, type_, conv_id, body)
        if target == "message":
            snap = body["msg"]
            outgoing = snap.get("from_app") == app_id
            if not outgoing:  # the sender's operationId is its own (spec §4.7)
                snap = {**snap, "operation_id": ""}
            message = views.message(links, app_id, conv_id, snap, outgoing)
            link = EventLink("message", message.href or "")
            return Event(type_, link, embedded=message, status=status, reason=error)
        return None

    def _member_event(
        self, target: str, type_: str, conv_id: str, body: Mapping[str, Any]
    ) -> Event | None:
        links, app_id = self.links, self.app.app_id
        uri, name = str(body["uri"]), str(body.get("name") or "")
        local = uri == self.viewer[0]
        address = views.address(uri)
        person = EventLink(
            "localParticipant" if local else "participant",
            links.participant(app_id, conv_id, address),
            name or (self.viewer[1] if local else None),
        )
        if target == "typing":
            if local:
                return None  # the typist is not told about itself
            typing = links.conv(app_id, conv_id, "typing_participants")
            return Event(type_, replace(person, rel="participant"),
                         in_=EventLink("typingParticipants", typing))  # fmt: skip
        if target == "participantMessaging":
            href = links.participant(app_id, conv_id, address, "participant_messaging")
            embedded = (
                views.participant_messaging(links, app_id, conv_id, uri, person.title or "")
                if local and type_ != "deleted"
                else None
            )
            return Event(type_, EventLink("participantMessaging", href), in_=person,
                         embedded=embedded)  # fmt: skip
        if local and type_ != "deleted":
            shown = views.participant(
                links, app_id, conv_id, uri, person.title or "", True, False,
                self.viewer_in_organization,
            )  # fmt: skip
            return Event(type_, person, embedded=shown)
        return Event(type_, person)

    def batch(self, result: PollResult) -> EventBatch:
        app_id = self.app.app_id
        links = self.links
        if result.continuation == "resync":
            return EventBatch(None, "resync", links.events(app_id, result.ack))
        senders: list[Sender] = []
        for stored in result.events:
            sender = self.sender(stored.body)
            event = self.event(stored.body) if sender is not None else None
            if sender is None or event is None:
                continue
            rel, href = sender
            if not senders or senders[-1].href != href:
                senders.append(Sender(rel, href))
            senders[-1].events.append(event)
        return EventBatch(
            links.events(app_id, result.ack),
            result.continuation,
            links.events(app_id, result.ack + 1),
            senders,
        )


async def render_batch(request: Request, app: Application, result: PollResult) -> Response:
    svc = services(request)
    user = await svc.users.get(app.owner_uri)
    viewer = (app.owner_uri, user.name if user else app.owner_uri)
    threads: dict[str, str] = {}
    wanted = {str(e.body["thread"]) for e in result.events if e.body.get("sender") == "thread"}
    if wanted:
        threads = await svc.messaging.conversation_ids(app, wanted)
    contains = svc.organization.contains
    batch = Renderer(Links(request), app, viewer, threads, contains).batch(result)
    negotiated = negotiate(request.headers.get("accept"))
    codec = json_codec if negotiated.format == "json" else xml_codec
    return render_bytes(request, 200, codec.encode_events(batch), negotiated.content_type)


async def get_events(request: Request) -> Response:
    _, app = await application_of(request)
    ack = _ack(request)
    numbers = _numbers(request)
    svc = services(request)
    channel = svc.events
    if ack == -1:
        oldest = await channel.first_unacknowledged(app.app_id)
        return await render_batch(request, app, PollResult(oldest, continuation="resync"))
    priority = numbers["priority"]
    result = await channel.poll(
        app.app_id,
        ack,
        low=numbers["low"],
        medium=numbers["medium"],
        timeout=numbers["timeout"],
        priority=int(priority) if priority is not None else None,
        # If the connection is lost while held, the hold ends (web/http_protocol.py).
        on_park=lambda abandon: request.scope.setdefault(ON_CLOSE, []).append(abandon),
    )
    # The end of a hold is activity (spec §2.3.3), recorded at once: housekeeping must not
    # find the application neither held nor renewed in between.
    await svc.applications.held(app.app_id)
    # The token may have been revoked or have expired while held: nothing is handed over then
    # (401; the batch stays recorded, so the client's next P-GET with a new token gets it).
    await authenticate(request)
    return await render_batch(request, app, result)

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
from openucwa.representation.resource import Event, EventBatch, EventLink, Sender
from openucwa.services.event_channel import PollResult
from openucwa.web.context import services
from openucwa.web.guard import application_of
from openucwa.web.links import Links
from openucwa.web.resources.application import represent_communication
from openucwa.web.respond import render_bytes

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
            return int(value) if value.isdigit() and len(value) < 16 else -1
    return None


class Renderer:
    """Stored event bodies -> Events with this application's hrefs."""

    def __init__(self, links: Links, app: Application) -> None:
        self.links = links
        self.app = app
        self._senders: dict[str, Callable[[Mapping[str, Any]], tuple[str, str]]] = {
            "communication": lambda body: (
                "communication",
                links.app_child("communication", app.app_id),
            ),
            "me": lambda body: ("me", links.app_child("me", app.app_id)),
        }

    def sender(self, body: Mapping[str, Any]) -> tuple[str, str]:
        return self._senders[str(body["sender"])](body)

    def event(self, body: Mapping[str, Any]) -> Event:
        target = str(body["target"])
        app_id = self.app.app_id
        if target == "communication":
            snap = body.get("snapshot") or {}
            shown = replace(
                self.app,
                communication_put_guid=str(snap.get("put_guid", self.app.communication_put_guid)),
                communication_etag=str(snap.get("etag", self.app.communication_etag)),
                supported_modalities=tuple(snap.get("modalities", ())),
                supported_message_formats=tuple(snap.get("formats", ("Plain",))),
            )
            resource = represent_communication(self.links, shown)
            link = EventLink("communication", resource.href or "")
            return Event(str(body["type"]), link, embedded=resource)
        if target == "me":
            return Event(str(body["type"]), EventLink("me", self.links.app_child("me", app_id)))
        # presence, note, location of "me"
        href = f"{self.links.app_child('me', app_id)}/{target}"
        return Event(str(body["type"]), EventLink(target, href))

    def batch(self, result: PollResult) -> EventBatch:
        app_id = self.app.app_id
        links = self.links
        if result.continuation == "resync":
            return EventBatch(None, "resync", links.events(app_id, result.ack))
        senders: list[Sender] = []
        for stored in result.events:
            rel, href = self.sender(stored.body)
            if not senders or senders[-1].href != href:
                senders.append(Sender(rel, href))
            senders[-1].events.append(self.event(stored.body))
        return EventBatch(
            links.events(app_id, result.ack),
            result.continuation,
            links.events(app_id, result.ack + 1),
            senders,
        )


def render_batch(request: Request, app: Application, result: PollResult) -> Response:
    batch = Renderer(Links(request), app).batch(result)
    negotiated = negotiate(request.headers.get("accept"))
    codec = json_codec if negotiated.format == "json" else xml_codec
    return render_bytes(request, 200, codec.encode_events(batch), negotiated.content_type)


async def get_events(request: Request) -> Response:
    _, app = await application_of(request)
    ack = _ack(request)
    numbers = _numbers(request)
    channel = services(request).events
    if ack == -1:
        oldest = await channel.first_unacknowledged(app.app_id)
        return render_batch(request, app, PollResult(oldest, continuation="resync"))
    priority = numbers["priority"]
    result = await channel.poll(
        app.app_id,
        ack,
        low=numbers["low"],
        medium=numbers["medium"],
        timeout=numbers["timeout"],
        priority=int(priority) if priority is not None else None,
    )
    return render_batch(request, app, result)

"""Representations shared by the conversation endpoints and the event renderer. Each takes the
small snapshot stored in events (or built from current rows), so a retransmitted batch renders
exactly as it did the first time."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from openucwa.domain.conversations import CONNECTED, CONNECTING, INCOMING, plain_text
from openucwa.representation import data_uri
from openucwa.representation.resource import Link, Resource
from openucwa.web.links import Links


def address(uri: str) -> str:
    return uri[4:] if uri.startswith("sip:") else uri


def conversation(
    links: Links, app_id: str, snap: Mapping[str, Any], user: tuple[str, str]
) -> Resource:
    conv_id = str(snap["conv_id"])
    state = str(snap["state"])
    messaging_state = str(snap["messaging"])
    resource_links: dict[str, Link | list[Link]] = {
        "messaging": Link(links.conv(app_id, conv_id, "messaging")),
        "participants": Link(links.conv(app_id, conv_id, "participants")),
    }
    if state in (CONNECTED, INCOMING, CONNECTING):
        resource_links["localParticipant"] = Link(
            links.participant(app_id, conv_id, address(user[0])), title=user[1]
        )
    active: list[Any] = ["Messaging"] if messaging_state == CONNECTED or state == INCOMING else []
    return Resource(
        "conversation",
        href=links.conv(app_id, conv_id),
        properties={
            "state": state,
            "threadId": str(snap["thread_id"]),
            "subject": str(snap["subject"]),
            "activeModalities": active,
            "importance": str(snap["importance"]),
            "participantCount": int(snap.get("participants", 0)),
            "recording": False,
            "created": datetime.fromtimestamp(float(snap.get("created", 0)), UTC),
        },
        links=resource_links,
    )


def messaging(
    links: Links, app_id: str, conv_id: str, state: str, formats: Sequence[str] = ("Plain",)
) -> Resource:
    """``formats``: the application's supportedMessageFormats; Html is negotiated only when
    it named Html (HTML messages still reach it with their plain form)."""
    found: dict[str, Link | list[Link]] = {"conversation": Link(links.conv(app_id, conv_id))}
    if state != "Disconnected":
        found["stopMessaging"] = Link(links.conv(app_id, conv_id, "messaging_stop"))
    if state == CONNECTED:
        found["sendMessage"] = Link(links.conv(app_id, conv_id, "messages"))
        found["setIsTyping"] = Link(links.conv(app_id, conv_id, "messaging_typing"))
        found["typingParticipants"] = Link(links.conv(app_id, conv_id, "typing_participants"))
    return Resource(
        "messaging",
        href=links.conv(app_id, conv_id, "messaging"),
        properties={
            "state": state,
            "negotiatedMessageFormats": [f for f in ("Plain", "Html") if f in formats] or ["Plain"],
        },
        links=found,
    )


def participant(
    links: Links,
    app_id: str,
    conv_id: str,
    uri: str,
    name: str,
    local: bool,
    connected: bool,
    same_enterprise: bool = True,
) -> Resource:
    """``same_enterprise``: the participant's domain is the organisation's (else Federated,
    as the people resource says of the same person)."""
    found: dict[str, Link | list[Link]] = {"conversation": Link(links.conv(app_id, conv_id))}
    if local:
        found["me"] = Link(links.app_child("me", app_id))
    else:
        found["contact"] = Link(links.contact(app_id, address(uri)))
    if connected:
        found["participantMessaging"] = Link(
            links.participant(app_id, conv_id, address(uri), "participant_messaging")
        )
    return Resource(
        "participant",
        href=links.participant(app_id, conv_id, address(uri)),
        properties={
            "sourceNetwork": "SameEnterprise" if same_enterprise else "Federated",
            "anonymous": False,
            "name": name,
            "uri": uri,
        },
        links=found,
    )


def participant_messaging(links: Links, app_id: str, conv_id: str, uri: str, name: str) -> Resource:
    return Resource(
        "participantMessaging",
        href=links.participant(app_id, conv_id, address(uri), "participant_messaging"),
        links={"participant": Link(links.participant(app_id, conv_id, address(uri)), title=name)},
    )


def invitation(
    links: Links,
    app_id: str,
    snap: Mapping[str, Any],
    accepted_by: Mapping[str, Any] | None = None,
    same_enterprise: Callable[[str], bool] | None = None,
) -> Resource:
    """``accepted_by`` (``uri``, ``name``): who accepted, embedded as ``acceptedByParticipant``
    (an array, spec §4.3 rule 4) in the inviter's completed invitation."""
    inv_id = str(snap["inv_id"])
    conv_id = str(snap["conv_id"])
    incoming = snap["direction"] == "Incoming"
    pending = snap["state"] == "Connecting"
    found: dict[str, Link | list[Link]] = {
        "to": Link(links.contact(app_id, address(str(snap["to_uri"])))),
        "conversation": Link(links.conv(app_id, conv_id)),
        "messaging": Link(links.conv(app_id, conv_id, "messaging")),
    }
    if pending and incoming:
        found["accept"] = Link(links.invitation(app_id, inv_id, "invitation_accept"))
        found["decline"] = Link(links.invitation(app_id, inv_id, "invitation_decline"))
    if pending and not incoming:
        found["cancel"] = Link(links.invitation(app_id, inv_id, "invitation_cancel"))
    if snap.get("message"):
        found["message"] = Link(data_uri.encode(str(snap["message_type"]), str(snap["message"])))
    embedded: dict[str, Resource | list[Resource]] = {}
    from_uri, from_name = str(snap["from_uri"]), str(snap["from_name"])
    if incoming:
        embedded["from"] = participant(links, app_id, conv_id, from_uri, from_name, False, False)
    else:
        found["from"] = Link(links.participant(app_id, conv_id, address(from_uri)), title=from_name)
    if accepted_by is not None:
        uri = str(accepted_by["uri"])
        inside = same_enterprise(uri) if same_enterprise is not None else True
        embedded["acceptedByParticipant"] = [
            participant(links, app_id, conv_id, uri, str(accepted_by["name"]), False, True, inside)
        ]
    return Resource(
        "messagingInvitation",
        href=links.invitation(app_id, inv_id),
        properties={
            "direction": str(snap["direction"]),
            "importance": str(snap["importance"]),
            "threadId": str(snap["thread_id"]),
            "state": str(snap["state"]),
            "subject": str(snap["subject"]),
            # the inviter's own correlation id (spec §4.7): never shown to the invitee
            "operationId": None if incoming else str(snap["operation_id"]) or None,
            "to": str(snap["to_uri"]),
        },
        links=found,
        embedded=embedded,
    )


def message(
    links: Links, app_id: str, conv_id: str, snap: Mapping[str, Any], outgoing: bool
) -> Resource:
    msg_id = str(snap["msg_id"])
    found: dict[str, Link | list[Link]] = {
        "messaging": Link(links.conv(app_id, conv_id, "messaging")),
    }
    properties: dict[str, Any] = {
        "direction": "Outgoing" if outgoing else "Incoming",
        "operationId": str(snap.get("operation_id") or "") or None,
        "status": "Succeeded",
        "timeStamp": datetime.fromtimestamp(int(snap["ts"]) / 1000, UTC),
    }
    if not outgoing:
        from_uri = str(snap["from_uri"])
        found["contact"] = Link(links.contact(app_id, address(from_uri)))
        found["participant"] = Link(
            links.participant(app_id, conv_id, address(from_uri)), title=str(snap["from_name"])
        )
    text = str(snap["text"])
    if snap.get("content_type") == "text/html":
        found["htmlMessage"] = Link(data_uri.encode("text/html", text))
        # Receivers get both when a plain form can be derived (spec §3.7 step 4): clients that
        # read only plainMessage still read the message.
        found["plainMessage"] = Link(data_uri.encode("text/plain", plain_text(text)))
    else:
        found["plainMessage"] = Link(data_uri.encode("text/plain", text))
    return Resource(
        "message",
        href=links.conv(app_id, conv_id, "message", msg_id=msg_id),
        properties=properties,
        links=found,
    )

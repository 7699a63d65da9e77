"""Conversations and instant messaging between users (spec §2.7, §2.9, §2.11).

A *thread* is the shared conversation (two users talking); each application taking part has its
own *conversation* resource for it (its own URL space and state), and each invited application
its own *invitation*. Messages belong to the thread. Everything here is pure: functions take the
current rows and return what to write plus the events to append (a ``ChangeSet``); storage
applies a change set in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from html.parser import HTMLParser

from openucwa.domain.errors import BadRequest, Conflict, EntityTooLarge, validation_failure
from openucwa.domain.events import NewEvent
from openucwa.domain.meetings import canonical_enum
from openucwa.domain.users import parse_sip_uri

# conversation.state
CONNECTING = "Connecting"
INCOMING = "Incoming"
CONNECTED = "Connected"
DISCONNECTED = "Disconnected"
# invitation.state (InvitationState)
INV_CONNECTING = "Connecting"
INV_CONNECTED = "Connected"
INV_DECLINED = "Declined"
INV_CANCELLED = "Cancelled"
INV_FAILED = "Failed"

IMPORTANCE = ("Emergency", "Normal", "Urgent")
# decline's ``reason`` (CallDeclineReason_ref.md); only Local keeps the user's other devices
# ringing, every other value declines on all of them (the media ones concern calls).
CALL_DECLINE_REASONS = (
    "CodecMismatch", "EncryptionMismatch", "Global", "InsufficientBandwidth",
    "InsufficientBandwidthRerouteOverPstn", "InvalidMediaOffer", "IPv6NotSupported", "Local",
    "MediaAllocationFailure", "MediaConnectivityFailure", "Unknown", "UnsupportedMedia",
)  # fmt: skip
MAX_SUBJECT = 250
MAX_OPERATION_ID = 50
MAX_MESSAGE_BYTES = 32 * 1024  # of UTF-8: characters let 32,768 emoji through as 128 KiB
TYPING_SECONDS = 6.0
INVITATION_TIMEOUT_SECONDS = 30.0  # messagingInvitation_ref: "approximately thirty seconds"


@dataclass(frozen=True, slots=True)
class Thread:
    thread_id: str
    subject: str
    importance: str
    state: str  # Connecting (invited) | Connected | Disconnected
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Conversation:
    """One application's view of a thread."""

    app_id: str
    conv_id: str
    thread_id: str
    user_uri: str
    state: str
    messaging: str  # Disconnected | Connecting | Connected
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Invitation:
    app_id: str
    inv_id: str
    thread_id: str
    conv_id: str
    direction: str  # Outgoing | Incoming
    state: str
    operation_id: str
    from_uri: str
    from_name: str
    to_uri: str
    subject: str
    importance: str
    message: str  # the first message as text ("" if none)
    message_type: str  # text/plain | text/html
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Message:
    thread_id: str
    msg_id: str
    sender_uri: str
    sender_name: str
    sender_app: str
    operation_id: str
    content_type: str
    text: str
    created_at: datetime


@dataclass(slots=True)
class ChangeSet:
    """Rows to upsert, streams to (un)follow, events to append — one transaction. The
    ``expect_*`` maps are compare-and-swap guards checked first (Conflict when stale)."""

    threads: list[Thread] = field(default_factory=list)
    conversations: list[Conversation] = field(default_factory=list)
    invitations: list[Invitation] = field(default_factory=list)
    messages: list[Message] = field(default_factory=list)
    follows: list[tuple[str, str]] = field(default_factory=list)
    unfollows: list[tuple[str, str]] = field(default_factory=list)
    events: list[NewEvent] = field(default_factory=list)
    expect_thread_state: dict[str, str] = field(default_factory=dict)
    expect_invitation_state: dict[tuple[str, str], str] = field(default_factory=dict)
    expect_apps: list[str] = field(default_factory=list)  # applications that must still exist


@dataclass(frozen=True, slots=True)
class StartInput:
    to: str | None
    operation_id: str | None
    subject: str | None
    importance: str | None
    message: tuple[str, str] | None  # (content type, text)


@dataclass(frozen=True, slots=True)
class CheckedStart:
    to_uri: str
    operation_id: str
    subject: str
    importance: str
    message: tuple[str, str] | None


def check_start(data: StartInput, caller_uri: str) -> CheckedStart:
    problems: dict[str, str] = {}
    to_uri = parse_sip_uri(data.to) if data.to else None
    if not data.to:
        problems["to"] = "This parameter is required."
    elif to_uri is None:
        problems["to"] = "Not a SIP address."
    elif to_uri == caller_uri:  # docs/deviations.md 15
        problems["to"] = "You cannot invite yourself."
    if data.operation_id is not None and len(data.operation_id) > MAX_OPERATION_ID:
        problems["operationId"] = f"The maximum length is {MAX_OPERATION_ID} characters."
    if data.subject is not None and len(data.subject) > MAX_SUBJECT:
        problems["subject"] = f"The maximum length is {MAX_SUBJECT} characters."
    importance = "Normal"
    if data.importance is not None:
        found = canonical_enum(data.importance, IMPORTANCE)
        if found is None:
            problems["importance"] = f"Must be one of: {', '.join(IMPORTANCE)}."
        else:
            importance = found
    if problems:
        raise validation_failure(problems)
    if data.message is not None:
        check_message_text(data.message[1])
    return CheckedStart(
        to_uri=to_uri or "",
        operation_id=data.operation_id or "",
        subject=data.subject or "",
        importance=importance,
        message=data.message,
    )


def declines_locally(reason: str | None) -> bool:
    """decline's ``reason`` (any letter case): True for ``Local`` (this application only),
    False when absent or any other CallDeclineReason; 400 ParameterValidationFailure else."""
    if reason is None:
        return False
    found = canonical_enum(reason, CALL_DECLINE_REASONS)
    if found is None:
        raise validation_failure({"reason": f"Must be one of: {', '.join(CALL_DECLINE_REASONS)}."})
    return found == "Local"


def check_message_text(text: str) -> None:
    if len(text) > MAX_MESSAGE_BYTES // 4 and len(text.encode("utf-8", "surrogatepass")) > (
        MAX_MESSAGE_BYTES
    ):
        raise EntityTooLarge(
            message=f"A message may hold at most {MAX_MESSAGE_BYTES} bytes of UTF-8 text."
        )


def check_operation_id(value: str | None) -> str:
    if value is not None and len(value) > MAX_OPERATION_ID:
        raise BadRequest(
            "ParameterValidationFailure", f"operationId: at most {MAX_OPERATION_ID} characters."
        )
    return value or ""


def require_messaging_connected(conversation: Conversation) -> None:
    if conversation.messaging != CONNECTED:
        raise Conflict(message="Messaging is not connected in this conversation.")


_BREAKS = frozenset({"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6"})
_UNSEEN = frozenset({"script", "style", "head", "title"})


class _TextOf(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.pieces: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _UNSEEN:
            self._hidden += 1
        elif tag == "br":
            self.pieces.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _UNSEEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag in _BREAKS and tag != "br":
            self.pieces.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.pieces.append(data)


def plain_text(html: str) -> str:
    """The plain form of an HTML message: its text, tags dropped (script and style with their
    content), entities decoded, line breaks where ``<br>`` and block elements end."""
    parser = _TextOf()
    parser.feed(html)
    parser.close()
    lines = "".join(parser.pieces).splitlines()
    return "\n".join(line.strip() for line in lines).strip("\n")

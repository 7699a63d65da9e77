"""Instant messaging between users (spec §2.11, §3.7; CLIENT-COMPAT "Messaging").

Event bodies written here (read by ``web/resources/events.py``):

* on an application's own stream — ``sender`` "communication": ``target`` messagingInvitation
  (``inv`` snapshot, ``status``/``reason`` on completed) or conversation (``conv`` snapshot);
  ``sender`` "conversation" with ``conv_id``: messaging (``state``), participant and
  participantMessaging (``uri``, ``name``, ``local``).
* on the thread's shared stream — ``sender`` "thread" with ``thread``: message (``msg``
  snapshot; rendered Outgoing for the sending application, Incoming for the others) and typing
  (``uri``, ``name``; not shown to the typist). Stored once, read by every participant.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import asdict, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from openucwa.auth.throttle import TokenBuckets
from openucwa.domain.applications import Application, Lifetime
from openucwa.domain.clock import Clock
from openucwa.domain.conversations import (
    CONNECTED,
    CONNECTING,
    DISCONNECTED,
    INCOMING,
    INV_CANCELLED,
    INV_CONNECTED,
    INV_CONNECTING,
    INV_DECLINED,
    INV_FAILED,
    INVITATION_TIMEOUT_SECONDS,
    TYPING_SECONDS,
    ChangeSet,
    CheckedStart,
    Conversation,
    Invitation,
    Message,
    StartInput,
    Thread,
    check_message_text,
    check_operation_id,
    check_start,
    require_messaging_connected,
)
from openucwa.domain.errors import Conflict, NotFound, TooManyRequests
from openucwa.domain.events import HIGH, NewEvent, app_stream, conversation_stream
from openucwa.domain.ids import IdGenerator
from openucwa.domain.users import Caller
from openucwa.services.event_channel import EventChannel
from openucwa.services.ports import ApplicationRepository, ConversationRepository, UserRepository

log = logging.getLogger("openucwa.messaging")

# Nobody answered in time (spec §3.9): the inviter's side, then the invitee's devices.
TIMED_OUT = ("RemoteFailure", "Timeout", "The person did not answer.")
MISSED = ("Informational", "Missed", "The invitation was not answered.")
MAX_PENDING_INVITATIONS = 16  # unanswered invitations one user may have at once
INVITATIONS_PER_MINUTE = 30  # invitations one user may start a minute (at once: as many)


def _reason(code: str, subcode: str | None, message: str) -> dict[str, Any]:
    return {"code": code, "subcode": subcode, "message": message}


def inv_snapshot(inv: Invitation) -> dict[str, Any]:
    snap = asdict(inv)
    snap.pop("created_at")
    return snap


def conv_snapshot(conv: Conversation, thread: Thread, participants: int) -> dict[str, Any]:
    return {
        "conv_id": conv.conv_id,
        "thread_id": conv.thread_id,
        "state": conv.state,
        "messaging": conv.messaging,
        "subject": thread.subject,
        "importance": thread.importance,
        "participants": participants,
        "created": conv.created_at.timestamp(),
    }


class Events:
    """Builds the event bodies of one change set."""

    def __init__(self, changes: ChangeSet) -> None:
        self.changes = changes

    def _app(self, app_id: str, body: dict[str, Any]) -> None:
        self.changes.events.append(NewEvent(app_stream(app_id), HIGH, body))

    def invitation(self, inv: Invitation, type_: str, **extra: Any) -> None:
        body = {"sender": "communication", "type": type_, "target": "messagingInvitation"}
        self._app(inv.app_id, {**body, "inv": inv_snapshot(inv), **extra})

    def conversation(
        self, conv: Conversation, thread: Thread, type_: str, n: int, **extra: Any
    ) -> None:
        body = {"sender": "communication", "type": type_, "target": "conversation"}
        self._app(conv.app_id, {**body, "conv": conv_snapshot(conv, thread, n), **extra})

    def messaging(self, conv: Conversation) -> None:
        self._app(
            conv.app_id,
            {
                "sender": "conversation",
                "conv_id": conv.conv_id,
                "type": "updated",
                "target": "messaging",
                "state": conv.messaging,
            },
        )

    def member(self, conv: Conversation, target: str, type_: str, uri: str, name: str) -> None:
        self._app(
            conv.app_id,
            {
                "sender": "conversation",
                "conv_id": conv.conv_id,
                "type": type_,
                "target": target,
                "uri": uri,
                "name": name,
                "local": uri == conv.user_uri,
            },
        )

    def thread(self, thread_id: str, body: dict[str, Any]) -> None:
        self.changes.events.append(
            NewEvent(
                conversation_stream(thread_id),
                HIGH,
                {"sender": "thread", "thread": thread_id, **body},
            )
        )


class MessagingService:
    def __init__(
        self,
        repo: ConversationRepository,
        apps: ApplicationRepository,
        users: UserRepository,
        channel: EventChannel,
        ids: IdGenerator,
        clock: Clock,
        lifetime: Lifetime,
        invitation_timeout: float = INVITATION_TIMEOUT_SECONDS,
        max_pending_invitations: int = MAX_PENDING_INVITATIONS,
        invitations_per_minute: int = INVITATIONS_PER_MINUTE,
    ) -> None:
        self._repo = repo
        self._apps = apps
        self._users = users
        self._channel = channel
        self._ids = ids
        self._clock = clock
        self._lifetime = lifetime
        self._typing: dict[tuple[str, str], asyncio.TimerHandle] = {}
        self._invitation_timeout = invitation_timeout
        self._unanswered: dict[str, asyncio.TimerHandle] = {}  # thread id -> its timeout
        # Unanswered invitations per inviter (thread id -> inviter; inviter -> how many): one
        # user cannot ring (and store messages on) everyone's devices without bound.
        self._max_pending = max_pending_invitations
        self._inviter_of: dict[str, str] = {}
        self._pending_of: Counter[str] = Counter()
        # ... nor start and cancel invitations in a loop: a token bucket per inviter.
        self._invite_rate = TokenBuckets(
            clock, per_minute=invitations_per_minute, burst=invitations_per_minute
        )
        self._tasks: set[asyncio.Task[Any]] = set()  # timer callbacks running

    async def _name(self, uri: str) -> str:
        user = await self._users.get(uri)
        return user.name if user else uri[4:]

    async def _commit(self, changes: ChangeSet) -> None:
        await self._repo.apply(changes, self._clock.now())
        self._channel.notify(changes.events)

    def _spawn(self, work: Coroutine[Any, Any, Any]) -> None:
        """Run ``work`` from a timer; kept referenced until done, failures logged."""
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("messaging timer failed", exc_info=task.exception())

    # -- reads ---------------------------------------------------------------------------

    async def conversation(self, app: Application, conv_id: str) -> Conversation:
        conv = await self._repo.conversation(app.app_id, conv_id)
        if conv is None:
            raise NotFound("ConversationNotFound", "The conversation does not exist.")
        return conv

    async def thread_of(self, conv: Conversation) -> Thread:
        thread = await self._repo.thread(conv.thread_id)
        if thread is None:
            raise NotFound("ConversationNotFound", "The conversation does not exist.")
        return thread

    async def members(self, conv: Conversation) -> list[tuple[str, str]]:
        """(uri, name) of the people in ``conv``'s thread as its application sees them: the
        inviter, the invitees who accepted, and its own user (shown as localParticipant from
        the invitation on). Not an invitee who has not answered, or a user who does not exist:
        they are never announced by a ``participant added`` event either."""
        seen: dict[str, str] = {}
        invitations = await self._repo.invitations_of_thread(conv.thread_id)
        for inv in invitations:
            if inv.direction == "Outgoing":
                seen.setdefault(inv.from_uri, inv.from_name)
        for inv in invitations:
            if inv.direction == "Incoming" and inv.state == INV_CONNECTED:
                seen.setdefault(inv.to_uri, "")
        seen.setdefault(conv.user_uri, "")
        for uri in seen:
            if not seen[uri]:
                seen[uri] = await self._name(uri)
        return list(seen.items())

    async def invitation(self, app: Application, inv_id: str) -> Invitation:
        inv = await self._repo.invitation(app.app_id, inv_id)
        if inv is None:
            raise NotFound(message="The invitation does not exist.")
        return inv

    async def conversation_ids(self, app: Application, thread_ids: set[str]) -> dict[str, str]:
        """This application's conversation id in each of ``thread_ids`` (where it has one).
        Looked up thread by thread: an application's ended conversations pile up, and reading
        them all for every event batch made delivery slower with each one (3 -> 39 ms at
        6,000)."""
        found: dict[str, str] = {}
        for thread_id in thread_ids:
            for conv in await self._repo.conversations_of_thread(thread_id):
                if conv.app_id == app.app_id:
                    found[thread_id] = conv.conv_id
        return found

    async def conversations(self, app: Application, active_only: bool) -> list[Conversation]:
        convs = await self._repo.conversations_of_app(app.app_id)
        return [c for c in convs if not active_only or c.state != DISCONNECTED]

    async def message(self, conv: Conversation, msg_id: str) -> Message:
        msg = await self._repo.message(conv.thread_id, msg_id)
        if msg is None:
            raise NotFound(message="The message does not exist.")
        return msg

    async def messages(self, conv: Conversation) -> list[Message]:
        return await self._repo.messages(conv.thread_id)

    # -- startMessaging ------------------------------------------------------------------

    async def start(self, caller: Caller, app: Application, data: StartInput) -> Invitation:
        checked = check_start(data, caller.uri)
        if self._pending_of[caller.uri] >= self._max_pending:
            raise Conflict(
                "TooManyConversations",
                f"At most {self._max_pending} invitations may wait for an answer at once.",
            )
        if not self._invite_rate.admit(caller.uri):
            raise TooManyRequests(message="Too many invitations in the last minute.")
        # The place is taken now, not after the commit: invitations started together would
        # all pass the check while the first ones wait for their commit.
        self._pending_of[caller.uri] += 1
        ringing = False
        try:
            # Tried again when an application it invites was deleted between choosing it and
            # writing (its rows would ring nobody until the timeout).
            inv = await _retried(lambda: self._start(caller, app, checked))
            ringing = inv.state == INV_CONNECTING
            return inv
        finally:
            if not ringing:  # failed at once, or not written: the place is free again
                self._release_pending(caller.uri)

    async def _start(self, caller: Caller, app: Application, checked: CheckedStart) -> Invitation:
        now = self._clock.now()
        me = await self._name(caller.uri)
        thread = Thread(self._ids.short_id(), checked.subject, checked.importance, CONNECTING, now)
        conv = Conversation(
            app.app_id,
            self._ids.short_id(),
            thread.thread_id,
            caller.uri,
            CONNECTING,
            CONNECTING,
            now,
        )
        ctype, text = checked.message or ("text/plain", "")
        inv = Invitation(
            app_id=app.app_id,
            inv_id=self._ids.short_id(),
            thread_id=thread.thread_id,
            conv_id=conv.conv_id,
            direction="Outgoing",
            state=INV_CONNECTING,
            operation_id=checked.operation_id,
            from_uri=caller.uri,
            from_name=me,
            to_uri=checked.to_uri,
            subject=checked.subject,
            importance=checked.importance,
            message=text,
            message_type=ctype,
            created_at=now,
        )
        changes = ChangeSet()
        ev = Events(changes)
        ev.invitation(inv, "started")
        ev.conversation(conv, thread, "added", 1)
        ev.member(conv, "localParticipant", "added", caller.uri, me)  # SendAnIM, as the invitee's
        ev.messaging(conv)
        targets = [
            a
            for a in await self._apps.list_for_owner(checked.to_uri)
            if a.available
            and a.app_id != app.app_id
            and _takes_messaging(a)
            # alive while a P-GET is held, however long (spec §2.3.3), as everywhere else
            and (not self._lifetime.is_expired(a, now) or self._channel.is_parked(a.app_id))
        ]
        if not targets:
            exists = await self._users.get(checked.to_uri) is not None
            reason = (
                _reason("RemoteFailure", "TemporarilyUnavailable", "The person is not available.")
                if exists
                else _reason("NotFound", "DestinationNotFound", "The person does not exist.")
            )
            inv = replace(inv, state=INV_FAILED)
            conv = replace(conv, state=DISCONNECTED, messaging=DISCONNECTED)
            thread = replace(thread, state=DISCONNECTED)
            ev.invitation(inv, "completed", status="Failure", reason=reason)
            ev.conversation(conv, thread, "deleted", 0)
        else:
            changes.follows.append((app.app_id, conversation_stream(thread.thread_id)))
            them = await self._name(checked.to_uri)
            for target in targets:
                theirs = Conversation(
                    target.app_id, self._ids.short_id(), thread.thread_id, checked.to_uri,
                    INCOMING, DISCONNECTED, now,
                )  # fmt: skip
                incoming = replace(
                    inv,
                    app_id=target.app_id,
                    inv_id=self._ids.short_id(),
                    conv_id=theirs.conv_id,
                    direction="Incoming",
                    operation_id="",  # the inviter's own correlation id (spec §4.7)
                )
                changes.conversations.append(theirs)
                changes.invitations.append(incoming)
                changes.follows.append((target.app_id, conversation_stream(thread.thread_id)))
                ev.invitation(incoming, "started")
                ev.conversation(theirs, thread, "added", 2)
                ev.member(theirs, "localParticipant", "added", checked.to_uri, them)
                ev.member(theirs, "participant", "added", caller.uri, me)
        changes.threads.append(thread)
        changes.conversations.append(conv)
        changes.invitations.append(inv)
        changes.expect_apps.extend([app.app_id, *(t.app_id for t in targets)])
        await self._commit(changes)
        if thread.state == CONNECTING:
            self._unanswered[thread.thread_id] = asyncio.get_running_loop().call_later(
                self._invitation_timeout, self._spawn_time_out, thread.thread_id
            )
            self._inviter_of[thread.thread_id] = caller.uri  # its place, taken by start()
        return inv

    # -- no answer -----------------------------------------------------------------------

    def _spawn_time_out(self, thread_id: str) -> None:
        self._spawn(self._time_out(thread_id))

    def _forget_timeout(self, thread_id: str) -> None:
        """The invitation of ``thread_id`` was answered, cancelled or timed out: its timer
        goes, and it no longer counts among its inviter's unanswered ones."""
        timer = self._unanswered.pop(thread_id, None)
        if timer is not None:
            timer.cancel()  # harmless for the timer that is firing now
        inviter = self._inviter_of.pop(thread_id, None)
        if inviter is not None:
            self._release_pending(inviter)

    def _release_pending(self, inviter: str) -> None:
        self._pending_of[inviter] -= 1
        if self._pending_of[inviter] <= 0:
            del self._pending_of[inviter]

    async def _time_out(self, thread_id: str) -> bool:
        """End an invitation nobody answered (spec §3.9); False if it was answered meanwhile."""
        self._forget_timeout(thread_id)
        try:
            await self._end(
                thread_id, INV_FAILED, _reason(*TIMED_OUT), incoming=(INV_FAILED, _reason(*MISSED))
            )
        except Conflict:
            return False
        return True

    async def expire_invitations(self) -> int:
        """Housekeeping: end the invitations older than the timeout whose timer is gone (the
        process restarted since they started). Returns how many were ended."""
        cutoff = self._clock.now() - timedelta(seconds=self._invitation_timeout)
        ended = 0
        for thread_id in await self._repo.unanswered_threads(cutoff):
            ended += await self._time_out(thread_id)
        return ended

    # -- accept / decline / cancel -------------------------------------------------------

    async def accept(self, caller: Caller, app: Application, inv_id: str) -> None:
        await _retried(lambda: self._accept(caller, app, inv_id))

    async def _accept(self, caller: Caller, app: Application, inv_id: str) -> None:
        inv = await self.invitation(app, inv_id)
        if inv.direction != "Incoming" or inv.state != INV_CONNECTING:
            raise Conflict(message="The invitation was already handled.")
        thread = await self._repo.thread(inv.thread_id)
        if thread is None or thread.state != CONNECTING:
            raise Conflict(message="The invitation was already handled.")
        now = self._clock.now()
        changes = ChangeSet(expect_thread_state={thread.thread_id: CONNECTING})
        changes.expect_invitation_state[(app.app_id, inv_id)] = INV_CONNECTING
        ev = Events(changes)
        connected = replace(thread, state=CONNECTED)
        changes.threads.append(connected)
        convs = {c.app_id: c for c in await self._repo.conversations_of_thread(thread.thread_id)}
        joined: list[Conversation] = []
        invitations = await self._repo.invitations_of_thread(thread.thread_id)
        for other in invitations:
            conv = convs.get(other.app_id)
            if conv is None:
                continue
            if other.direction == "Outgoing" or other.app_id == app.app_id:
                conv = replace(conv, state=CONNECTED, messaging=CONNECTED)
                done = replace(other, state=INV_CONNECTED)
                changes.conversations.append(conv)
                changes.invitations.append(done)
                joined.append(conv)
                # The communication sender first: some clients read only sender[0].
                ev.conversation(conv, connected, "updated", 2)
                if other.direction == "Outgoing":  # the inviter learns who accepted
                    acceptor = {"uri": caller.uri, "name": await self._name(caller.uri)}
                    ev.invitation(done, "completed", status="Success", accepted_by=acceptor)
                else:
                    ev.invitation(done, "completed", status="Success")
                ev.messaging(conv)
            elif other.state == INV_CONNECTING:  # the invitee's other endpoints
                # Still ringing when written: one that declined on its own meanwhile
                # (_withdraw) must not complete twice (then this accept is tried again).
                changes.expect_invitation_state[(other.app_id, other.inv_id)] = INV_CONNECTING
                gone = replace(conv, state=DISCONNECTED, messaging=DISCONNECTED)
                lost = replace(other, state=INV_CANCELLED)
                changes.conversations.append(gone)
                changes.invitations.append(lost)
                reason = _reason("Informational", None, "Accepted on another device.")
                ev.invitation(lost, "completed", status="Failure", reason=reason)
                ev.conversation(gone, connected, "deleted", 0)
                changes.unfollows.append((other.app_id, conversation_stream(thread.thread_id)))
        names = {inv.from_uri: inv.from_name, inv.to_uri: await self._name(inv.to_uri)}
        for conv in joined:
            for uri, name in names.items():
                if uri != conv.user_uri and conv.app_id != app.app_id:
                    ev.member(conv, "participant", "added", uri, name)
            for uri, name in names.items():
                ev.member(conv, "participantMessaging", "added", uri, name)
        if inv.message:  # the invitation's first message arrives once accepted
            msg = Message(
                thread.thread_id, self._ids.short_id(), inv.from_uri, inv.from_name,
                next((c.app_id for c in joined if c.user_uri == inv.from_uri), ""),
                next((i.operation_id for i in invitations if i.direction == "Outgoing"), ""),
                inv.message_type, inv.message, now,
            )  # fmt: skip
            changes.messages.append(msg)
            ev.thread(thread.thread_id, _message_body(msg))
        await self._commit(changes)
        self._forget_timeout(thread.thread_id)

    async def decline(
        self, caller: Caller, app: Application, inv_id: str, local: bool = False
    ) -> None:
        """Decline for every device of the user, or (``local``, reason Local) for this one
        only while another still has the invitation: the inviter learns nothing then."""
        inv = await self.invitation(app, inv_id)
        if inv.direction != "Incoming" or inv.state != INV_CONNECTING:
            raise Conflict(message="The invitation was already handled.")
        mine = _reason("LocalFailure", "Declined", "Declined on this device.")
        if local and await self._withdraw(inv, INV_DECLINED, mine):
            return
        await self._end(
            inv.thread_id,
            INV_DECLINED,
            _reason("Forbidden", "Declined", "The invitation was declined."),
        )

    async def _withdraw(self, inv: Invitation, inv_state: str, reason: dict[str, Any]) -> bool:
        """End the pending incoming ``inv`` on its own application only, while another of the
        invitee's devices still has the invitation; nobody else sees anything. False (nothing
        done) when no other device has it: then the caller ends it for everyone."""
        thread_id = inv.thread_id
        for _ in range(3):  # another device withdrawing meanwhile: look again
            thread = await self._repo.thread(thread_id)
            invs = await self._repo.invitations_of_thread(thread_id)
            mine = next((i for i in invs if (i.app_id, i.inv_id) == (inv.app_id, inv.inv_id)), None)
            if (
                thread is None
                or thread.state != CONNECTING
                or mine is None
                or mine.state != INV_CONNECTING
            ):
                raise Conflict(message="The invitation was already handled.")
            others = [
                i
                for i in invs
                if i.direction == "Incoming" and i.state == INV_CONNECTING and i is not mine
            ]
            if not others:
                return False
            changes = ChangeSet(expect_thread_state={thread_id: CONNECTING})
            for pending in (mine, *others):  # the last device never withdraws silently
                changes.expect_invitation_state[(pending.app_id, pending.inv_id)] = INV_CONNECTING
            ev = Events(changes)
            done = replace(mine, state=inv_state)
            changes.invitations.append(done)
            ev.invitation(done, "completed", status="Failure", reason=reason)
            conv = await self._repo.conversation(mine.app_id, mine.conv_id)
            if conv is not None:
                gone = replace(conv, state=DISCONNECTED, messaging=DISCONNECTED)
                changes.conversations.append(gone)
                ev.conversation(gone, thread, "deleted", 0)
                changes.unfollows.append((mine.app_id, conversation_stream(thread_id)))
            try:
                await self._commit(changes)
            except Conflict:
                continue
            return True
        raise Conflict(message="The conversation changed meanwhile; try again.")

    async def _leave(self, conv: Conversation, by_uri: str) -> None:
        """One application leaves: while the invitation still rings on the invitee's other
        devices only this one drops out (signing out one device does not answer for all).
        Leaving is done once the conversation has ended, whoever ended it: the other person
        hanging up, accepting or declining at the same moment is no conflict (a concurrent
        DELETE of both applications answered 409 and left one of them standing)."""
        for _ in range(_TRIES):
            try:
                await self._leave_once(conv, by_uri)
                return
            except Conflict:
                fresh = await self._repo.conversation(conv.app_id, conv.conv_id)
                thread = await self._repo.thread(conv.thread_id)
                if fresh is None or fresh.state == DISCONNECTED:
                    return
                if thread is None or thread.state == DISCONNECTED:
                    return
                conv = fresh
        raise Conflict(message="The conversation changed meanwhile; try again.")

    async def _leave_once(self, conv: Conversation, by_uri: str) -> None:
        if conv.state == INCOMING:
            for inv in await self._repo.invitations_of_thread(conv.thread_id):
                if (
                    inv.app_id == conv.app_id
                    and inv.direction == "Incoming"
                    and inv.state == INV_CONNECTING
                ):
                    left = _reason("LocalFailure", "Canceled", "Ended on this device.")
                    if await self._withdraw(inv, INV_CANCELLED, left):
                        return
        await self._hang_up(conv, by_uri)

    async def cancel(self, caller: Caller, app: Application, inv_id: str) -> None:
        inv = await self.invitation(app, inv_id)
        if inv.direction != "Outgoing" or inv.state != INV_CONNECTING:
            raise Conflict(message="The invitation is no longer pending.")
        await self._end(
            inv.thread_id,
            INV_CANCELLED,
            _reason("Informational", "Canceled", "The invitation was cancelled."),
        )

    async def _end(
        self,
        thread_id: str,
        inv_state: str,
        reason: dict[str, Any],
        incoming: tuple[str, dict[str, Any]] | None = None,
    ) -> None:
        """End an unanswered invitation for everyone (declined, cancelled or timed out);
        ``incoming`` is the state and reason for the invitee's devices when they differ."""
        await _retried(lambda: self._end_once(thread_id, inv_state, reason, incoming))

    async def _end_once(
        self,
        thread_id: str,
        inv_state: str,
        reason: dict[str, Any],
        incoming: tuple[str, dict[str, Any]] | None,
    ) -> None:
        thread = await self._repo.thread(thread_id)
        if thread is None or thread.state != CONNECTING:
            raise Conflict(message="The invitation was already handled.")
        changes = ChangeSet(expect_thread_state={thread_id: CONNECTING})
        ev = Events(changes)
        ended = replace(thread, state=DISCONNECTED)
        changes.threads.append(ended)
        convs = {c.app_id: c for c in await self._repo.conversations_of_thread(thread_id)}
        for inv in await self._repo.invitations_of_thread(thread_id):
            if inv.state != INV_CONNECTING:
                continue
            state, why = (
                incoming if incoming and inv.direction == "Incoming" else (inv_state, reason)
            )
            changes.expect_invitation_state[(inv.app_id, inv.inv_id)] = INV_CONNECTING
            done = replace(inv, state=state)
            changes.invitations.append(done)
            ev.invitation(done, "completed", status="Failure", reason=why)
            conv = convs.get(inv.app_id)
            if conv is not None:
                gone = replace(conv, state=DISCONNECTED, messaging=DISCONNECTED)
                changes.conversations.append(gone)
                ev.conversation(gone, ended, "deleted", 0)
                changes.unfollows.append((inv.app_id, conversation_stream(thread_id)))
        await self._commit(changes)
        self._forget_timeout(thread_id)

    # -- in a connected conversation -----------------------------------------------------

    async def send(
        self, caller: Caller, app: Application, conv_id: str, content_type: str, text: str,
        operation_id: str | None,
    ) -> Message:  # fmt: skip
        conv = await self.conversation(app, conv_id)
        require_messaging_connected(conv)
        check_message_text(text)
        msg = Message(
            conv.thread_id, self._ids.short_id(), caller.uri, await self._name(caller.uri),
            app.app_id, check_operation_id(operation_id), content_type, text, self._clock.now(),
        )  # fmt: skip
        changes = ChangeSet(messages=[msg], expect_thread_state={conv.thread_id: CONNECTED})
        ev = Events(changes)
        typing = self._typing.pop((conv.thread_id, caller.uri), None)
        if typing is not None:
            typing.cancel()
            body = _typing_body("deleted", caller.uri, msg.sender_name, app.app_id)
            ev.thread(conv.thread_id, body)
        ev.thread(conv.thread_id, _message_body(msg))
        await self._commit(changes)
        return msg

    async def typing(self, caller: Caller, app: Application, conv_id: str) -> None:
        conv = await self.conversation(app, conv_id)
        require_messaging_connected(conv)
        key = (conv.thread_id, caller.uri)
        name = await self._name(caller.uri)
        # The timer is (re)set before the commit is awaited: a call arriving meanwhile finds it
        # and only extends it, so the typist is shown once ("added" once).
        timer = self._typing.pop(key, None)
        if timer is not None:
            timer.cancel()
        mine = self._typing[key] = asyncio.get_running_loop().call_later(
            TYPING_SECONDS, self._spawn_typing_over, key, name, app.app_id
        )
        if timer is None:
            # Refused (409) if the conversation ended meanwhile: typing ends with it.
            changes = ChangeSet(expect_thread_state={conv.thread_id: CONNECTED})
            body = _typing_body("added", caller.uri, name, app.app_id)
            Events(changes).thread(conv.thread_id, body)
            try:
                await self._commit(changes)
            except BaseException:  # not shown: no "deleted" either
                if self._typing.get(key) is mine:
                    self._typing.pop(key).cancel()
                raise

    def _spawn_typing_over(self, key: tuple[str, str], name: str, app_id: str) -> None:
        self._spawn(self._typing_over(key, name, app_id))

    async def _typing_over(self, key: tuple[str, str], name: str, app_id: str) -> None:
        if self._typing.pop(key, None) is None:
            return
        changes = ChangeSet()
        Events(changes).thread(key[0], _typing_body("deleted", key[1], name, app_id))
        await self._commit(changes)

    async def typists(self, conv: Conversation) -> list[str]:
        return [uri for (thread_id, uri) in self._typing if thread_id == conv.thread_id]

    async def stop(self, caller: Caller, app: Application, conv_id: str) -> None:
        """stopMessaging: in a conversation between two people this ends it for both."""
        conv = await self.conversation(app, conv_id)
        await self._leave(conv, caller.uri)

    async def leave(self, caller: Caller, app: Application, conv_id: str) -> None:
        """DELETE conversation."""
        conv = await self.conversation(app, conv_id)
        await self._leave(conv, caller.uri)

    async def leave_all(self, app: Application) -> None:
        """The application is being deleted: leave every live conversation."""
        for conv in await self._repo.conversations_of_app(app.app_id):
            if conv.state != DISCONNECTED:
                await self._leave(conv, conv.user_uri)

    async def _hang_up(self, conv: Conversation, by_uri: str) -> None:
        thread = await self.thread_of(conv)
        if thread.state == CONNECTING:
            inv_state = INV_CANCELLED
            reason = _reason("Informational", "Canceled", "The conversation was ended.")
            await self._end(thread.thread_id, inv_state, reason)
            return
        if thread.state == DISCONNECTED:
            return
        changes = ChangeSet(expect_thread_state={thread.thread_id: CONNECTED})
        ev = Events(changes)
        ended = replace(thread, state=DISCONNECTED)
        changes.threads.append(ended)
        by_name = await self._name(by_uri)
        for other in await self._repo.conversations_of_thread(thread.thread_id):
            if other.state == DISCONNECTED:
                continue
            gone = replace(other, state=DISCONNECTED, messaging=DISCONNECTED)
            changes.conversations.append(gone)
            extra = {}
            if other.user_uri != by_uri:
                extra["reason"] = _reason("Informational", "Ended", "The other person left.")
            # The communication sender first: some clients read only sender[0] (deviation 15).
            ev.conversation(gone, ended, "deleted", 0, **extra)
            if other.user_uri != by_uri:  # spec §2.11.5, §3.8: others see who left
                ev.member(gone, "participantMessaging", "deleted", by_uri, by_name)
                ev.member(gone, "participant", "deleted", by_uri, by_name)
            ev.member(gone, "participantMessaging", "deleted", other.user_uri, "")
            ev.messaging(gone)
            ev.member(gone, "localParticipant", "deleted", other.user_uri, "")  # spec §3.8
            changes.unfollows.append((other.app_id, conversation_stream(thread.thread_id)))
        self._stop_typing(thread.thread_id)
        await self._commit(changes)
        # Again: a setIsTyping committed while this waited (before it in the batch) set one.
        self._stop_typing(thread.thread_id)

    def _stop_typing(self, thread_id: str) -> None:
        for key in [k for k in self._typing if k[0] == thread_id]:
            self._typing.pop(key).cancel()


T = TypeVar("T")
_TRIES = 4  # an operation that lost a race re-reads and tries again this many times in all


async def _retried(attempt: Callable[[], Awaitable[T]]) -> T:
    """``attempt`` again from a fresh read while a concurrent change made its write stale
    (Conflict from the change set's guards); the checks it makes on reading refuse it for good
    when the race decided against it (say, "already handled")."""
    for tried in range(1, _TRIES + 1):
        try:
            return await attempt()
        except Conflict:
            if tried == _TRIES:
                raise
    raise AssertionError("unreachable")


def _message_body(msg: Message) -> dict[str, Any]:
    return {
        "type": "completed",
        "target": "message",
        "status": "Success",
        "msg": {
            "msg_id": msg.msg_id,
            "from_uri": msg.sender_uri,
            "from_name": msg.sender_name,
            "from_app": msg.sender_app,
            "operation_id": msg.operation_id,
            "content_type": msg.content_type,
            "text": msg.text,
            "ts": _ms(msg.created_at),
        },
    }


def _typing_body(type_: str, uri: str, name: str, app_id: str) -> dict[str, Any]:
    """Shown to everyone in the thread but the typist's own application (``except_app``)."""
    return {"type": type_, "target": "typing", "uri": uri, "name": name, "except_app": app_id}


def _ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def _takes_messaging(app: Application) -> bool:
    """An available application is invited to IM unless it named its modalities without
    Messaging (makeMeAvailable ``supportedModalities: ["PhoneAudio"]``): "incoming invitations
    for the modalities of their choice". One that named none (a PUT of communication without
    them) is still invited."""
    return not app.supported_modalities or "Messaging" in app.supported_modalities

"""Ports: what the use cases need from storage. Adapters live in ``openucwa.storage``.

Every adapter passes the one contract suite in ``tests/storage/``. A write returns only after
it is durably committed. Conditional writes (create-under-a-limit, compare-and-swap on an
ETag) are single atomic operations of the port, so no use case ever needs a lock.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Collection, Iterable, Sequence
from datetime import datetime
from typing import Protocol

from openucwa.domain.applications import Application
from openucwa.domain.conversations import ChangeSet, Conversation, Invitation, Message, Thread
from openucwa.domain.errors import Conflict
from openucwa.domain.events import Batch, NewEvent, StoredEvent
from openucwa.domain.meetings import Extension, OnlineMeeting
from openucwa.domain.tokens import TokenRecord
from openucwa.domain.users import User


class DuplicateId(Conflict):
    """A freshly minted id collided with a stored one; the caller re-mints and retries."""

    def __init__(self) -> None:
        super().__init__("AlreadyExists", "An id collided; retry.")


class StaleApplication(Exception):
    """The application to save is gone, or changed since it was read (its communication ETag
    is not the one the caller read): nothing was written."""


class UserRepository(Protocol):
    async def get(self, uri: str) -> User | None: ...
    async def add(self, user: User) -> None:
        """Raises Conflict(AlreadyExists) if the SIP URI is taken."""

    async def list(self) -> Sequence[User]: ...
    async def remove(self, uri: str) -> bool: ...
    async def set_password(self, uri: str, password_hash: str) -> bool: ...


class TokenStore(Protocol):
    async def add(self, record: TokenRecord) -> None: ...
    async def get(self, token_hash: str) -> TokenRecord | None: ...
    async def revoke(self, token_hash: str) -> bool: ...
    async def revoke_for_subject(self, subject_uri: str) -> int: ...
    async def purge_expired(self, now: datetime) -> int: ...


class ApplicationRepository(Protocol):
    async def get(self, app_id: str) -> Application | None: ...
    async def get_or_create(
        self,
        app: Application,
        max_per_user: int,
        streams: Sequence[str] = (),
        uncounted: Collection[str] = (),
    ) -> tuple[Application, bool]:
        """Return the owner's application with the same endpointId and instanceId, or store
        ``app`` (following the event ``streams`` in the same transaction). The bool says
        whether it was created. Raises Gone(TooManyApplications) when the owner already has
        ``max_per_user``, not counting the application ids in ``uncounted``; DuplicateId on an
        id collision."""

    async def save(
        self,
        app: Application,
        read_etag: str,
        events: Sequence[NewEvent] = (),
        now: datetime | None = None,
    ) -> None:
        """Store ``app`` over the stored one whose communication ETag is ``read_etag`` (the one
        it was made from), and append ``events`` (stamped ``now``), in one transaction; raise
        StaleApplication, writing nothing, when there is no such application any more."""

    async def touch(self, app_id: str, when: datetime) -> bool:
        """Record activity at ``when`` (``last_seen`` never goes back); False when the
        application is gone."""

    async def delete(self, app_id: str, only_if_left: bool = False) -> bool:
        """Delete the application and everything of it. ``only_if_left``: raise
        StaleApplication, deleting nothing, while one of its conversations is not ended (a
        new one can arrive between leaving them all and the delete)."""

    async def list_all(self) -> Sequence[Application]: ...
    async def list_for_owner(self, owner_uri: str) -> Sequence[Application]: ...


class ConversationRepository(Protocol):
    async def thread(self, thread_id: str) -> Thread | None: ...
    async def conversation(self, app_id: str, conv_id: str) -> Conversation | None: ...
    async def conversations_of_app(self, app_id: str) -> list[Conversation]: ...
    async def conversations_of_thread(self, thread_id: str) -> list[Conversation]: ...
    async def invitation(self, app_id: str, inv_id: str) -> Invitation | None: ...
    async def invitations_of_thread(self, thread_id: str) -> list[Invitation]: ...
    async def message(self, thread_id: str, msg_id: str) -> Message | None: ...
    async def messages(self, thread_id: str, limit: int = 1000) -> list[Message]: ...
    async def unanswered_threads(self, started_before: datetime) -> list[str]:
        """Ids of the threads still ``Connecting`` (invited, not answered) that were started
        before ``started_before``, oldest first."""

    async def apply(self, changes: ChangeSet, now: datetime) -> None:
        """Check the guards (Conflict when stale), then write rows, follows, unfollows and
        events in one transaction: the streams followed get the change set's events, the
        streams left do not."""


# An expected ETag that matches any stored one (a client's ``If-Match: *``).
ANY_ETAG = "*"


class MeetingRepository(Protocol):
    async def get(self, organizer_uri: str, meeting_id: str) -> OnlineMeeting | None: ...
    async def list_for(self, organizer_uri: str) -> Sequence[OnlineMeeting]: ...
    def pages_for(self, organizer_uri: str) -> AsyncIterator[Sequence[OnlineMeeting]]:
        """The organizer's meetings, in creation order, a page at a time (never an empty page):
        a list is encoded and sent page by page, never held whole."""
        ...

    async def get_assigned(self, organizer_uri: str) -> OnlineMeeting | None: ...
    async def reserve_conference_ids(self, count: int) -> list[str]:
        """Take ``count`` numbers off the durable conference sequence and return their
        conferenceIds (``domain.ids.ConferenceIds``, keyed per database), minus any minted
        before the sequence existed. Committed before it returns: no process, now or after a
        restart, gets the same ids (numbers a process never used are simply skipped)."""

    async def create(self, meeting: OnlineMeeting, max_per_user: int) -> None:
        """Store a new meeting. Raises Conflict(TooManyOnlineMeetings) when the organizer has
        ``max_per_user`` scheduled meetings (the assigned one does not count), DuplicateId when
        the meetingId is taken for this organizer."""

    async def ensure_assigned(self, meeting: OnlineMeeting) -> OnlineMeeting:
        """Store ``meeting`` as the organizer's assigned meeting unless one exists; return the
        stored one."""

    async def replace(self, meeting: OnlineMeeting, expected_etag: str) -> OnlineMeeting:
        """Compare-and-swap the writable properties: PreconditionFailed when the stored ETag
        differs (``ANY_ETAG``: any), NotFound when the meeting is gone. Returns the meeting as
        stored by the swap: ``meeting`` with the extensions stored at that moment (a
        concurrent extension write may have landed between the caller's read and the swap,
        and the answer under the new ETag must show what a GET under it shows)."""

    async def delete(
        self, organizer_uri: str, meeting_id: str, expected_etag: str | None = None
    ) -> bool:
        """False when the meeting is gone; with ``expected_etag`` (not ``ANY_ETAG``),
        PreconditionFailed when the stored ETag differs, checked in the deleting transaction
        (a PUT acknowledged in between is never deleted by a request that did not see it)."""

    async def put_extension(
        self,
        organizer_uri: str,
        meeting_id: str,
        extension: Extension,
        expected_etag: str | None,
        max_extensions: int | None = None,
        max_bytes: int | None = None,
    ) -> None:
        """``expected_etag`` None: create (Conflict AlreadyExists if the id is taken, Conflict
        LimitExceeded if the meeting already holds ``max_extensions``); otherwise
        compare-and-swap an existing extension (``ANY_ETAG``: whatever its ETag). Either way
        Conflict LimitExceeded if the meeting's extensions would then hold more than
        ``max_bytes`` of stored values. NotFound if the meeting is gone."""

    async def delete_extension(
        self,
        organizer_uri: str,
        meeting_id: str,
        extension_id: str,
        expected_etag: str | None = None,
    ) -> bool:
        """As ``delete``, for one extension."""


class EventLog(Protocol):
    """The append-only log behind the event channel (see ``domain/events.py``)."""

    async def append(self, events: Sequence[NewEvent], now: datetime) -> int: ...
    async def follow(self, app_id: str, stream: str) -> None: ...
    async def unfollow(self, app_id: str, stream: str) -> None: ...
    async def followed(self, app_id: str) -> list[str]: ...
    async def read(
        self, app_id: str, after: int, upto: int | None = None, limit: int = 1000
    ) -> list[StoredEvent]:
        """Events of the streams ``app_id`` follows with ``after < position <= upto``, in
        position order, each once."""

    async def head(self) -> int: ...
    async def batch(self, app_id: str, ack: int) -> Batch | None: ...
    async def batches(self, app_id: str) -> tuple[Batch | None, Batch | None]: ...
    async def add_batch(self, app_id: str, batch: Batch) -> None: ...
    async def forget(self, app_id: str) -> None: ...
    async def trim(self, before: datetime) -> int:
        """Retention: drop the events appended before ``before``; return how many."""

    async def lost(self, app_id: str, after: int) -> bool:
        """Whether ``trim`` dropped events of the streams ``app_id`` follows that were for it
        and lie after position ``after`` (it never received them). Possibly true when the
        streams had no such event; never false when they had."""


class Notifier(Protocol):
    """A doorbell: wakes waiters of streams that grew. Never carries an event."""

    def subscribe(self, streams: Iterable[str], wake: asyncio.Event) -> None: ...
    def unsubscribe(self, streams: Iterable[str], wake: asyncio.Event) -> None: ...
    def notify(self, streams: Iterable[str]) -> None: ...


class Storage(Protocol):
    users: UserRepository
    tokens: TokenStore
    applications: ApplicationRepository
    meetings: MeetingRepository

    async def start(self) -> None: ...
    async def close(self) -> None: ...

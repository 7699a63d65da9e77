"""Use cases of the application resource: create, look up (with ownership and expiry), delete,
makeMeAvailable, and the idle-expiry housekeeping job. Leaving conversations is the messaging
service's (``leave_conversations``, wired by the composition root)."""

from __future__ import annotations

import contextlib
import logging
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime, timedelta

from openucwa.domain.applications import (
    Application,
    ApplicationInput,
    AvailabilityInput,
    Lifetime,
    make_available,
    new_application,
    update_communication,
)
from openucwa.domain.clock import Clock
from openucwa.domain.errors import (
    Conflict,
    Forbidden,
    Gone,
    NotFound,
    PreconditionFailed,
    PreconditionRequired,
)
from openucwa.domain.events import MEDIUM, NewEvent, app_stream
from openucwa.domain.ids import IdGenerator
from openucwa.domain.users import Caller
from openucwa.services.event_channel import EventChannel
from openucwa.services.ports import ApplicationRepository, DuplicateId, StaleApplication

log = logging.getLogger(__name__)

# last_seen is written at most this often per application (it is not client data).
TOUCH_EVERY = timedelta(seconds=30)

# Makes an application leave every conversation it is in (MessagingService.leave_all).
Leave = Callable[[Application], Awaitable[None]]


class ApplicationService:
    def __init__(
        self,
        repo: ApplicationRepository,
        ids: IdGenerator,
        clock: Clock,
        lifetime: Lifetime,
        channel: EventChannel,
        max_per_user: int = 50,
        leave_conversations: Leave | None = None,
    ) -> None:
        self._repo = repo
        self._channel = channel
        self._ids = ids
        self._clock = clock
        self.lifetime = lifetime
        self._max_per_user = max_per_user
        self._leave = leave_conversations
        # Expired applications that left their conversations (this process): housekeeping makes
        # each leave once. After a restart each leaves again, which finds nothing to do.
        self._left: set[str] = set()
        # Requests whose activity is being written (their touch awaits its commit): their
        # applications are alive, whatever the stored last_seen still says.
        self._touching: Counter[str] = Counter()
        # A request records activity at most this often: well inside the idle timeout, also
        # when an operator sets it below a minute.
        self._touch_every = min(TOUCH_EVERY, lifetime.idle / 4, lifetime.idle_when_available / 4)

    async def create(self, caller: Caller, data: ApplicationInput) -> tuple[Application, bool]:
        now = self._clock.now()
        uncounted: frozenset[str] | None = None
        for _ in range(5):
            app = new_application(data, caller.uri, self._ids, now)
            try:
                stored, created = await self._repo.get_or_create(
                    app, self._max_per_user, [app_stream(app.app_id)], uncounted or ()
                )
            except DuplicateId:
                continue
            except Gone as exc:
                # Expired applications (410 until purged) do not use up the cap: nobody can use
                # them any more. They are looked up only once the cap is reached.
                if exc.subcode != "TooManyApplications" or uncounted is not None:
                    raise
                uncounted = frozenset(
                    a.app_id
                    for a in await self._repo.list_for_owner(caller.uri)
                    if self._expired(a, now)
                )
                if not uncounted:
                    raise
                continue
            if not created and self._expired(stored, now):
                # The same endpoint signing in again revives its expired application: the old
                # one goes as if it were deleted, then a new one is made.
                await self._retire(stored)
                continue
            if not created:
                await self._repo.touch(stored.app_id, now)
            return stored, created
        raise DuplicateId()

    async def get(self, caller: Caller, app_id: str) -> Application:
        """The caller's application, or 404 (other users' applications do not exist for them),
        or 410 InactiveApplicationExpired once it idled out."""
        app = await self._repo.get(app_id)
        if app is None or app.owner_uri != caller.uri:
            raise NotFound("ApplicationNotFound", "The application does not exist.")
        now = self._clock.now()
        if self._expired(app, now):
            raise Gone("InactiveApplicationExpired", "The application expired for inactivity.")
        if now - app.last_seen >= self._touch_every and not await self._touch(app.app_id, now):
            # deleted while its activity was being written: gone, as for any later request
            raise NotFound("ApplicationNotFound", "The application does not exist.")
        return app

    async def _touch(self, app_id: str, now: datetime) -> bool:
        with self._renewing(app_id):
            return await self._repo.touch(app_id, now)

    @contextlib.contextmanager
    def _renewing(self, app_id: str) -> Iterator[None]:
        """While activity of ``app_id`` is being recorded, housekeeping does not expire it."""
        self._touching[app_id] += 1
        try:
            yield
        finally:
            self._touching[app_id] -= 1
            if not self._touching[app_id]:
                del self._touching[app_id]

    def _expired(self, app: Application, now: datetime) -> bool:
        """Idle too long, and no P-GET held (spec §2.3.3: expiry comes "without any request and
        without a parked P-GET"; the end of a hold counts as a request, ``held``)."""
        return self.lifetime.is_expired(app, now) and not self._channel.is_parked(app.app_id)

    async def held(self, app_id: str) -> None:
        """A P-GET of the application answered: activity, as a request is (at most one write
        per ``_touch_every``, as for requests). NotFound if the application is gone
        meanwhile."""
        with self._renewing(app_id):  # from the moment the P-GET stopped being held
            app = await self._repo.get(app_id)
            now = self._clock.now()
            renew = app is not None and now - app.last_seen >= self._touch_every
            if renew and not await self._repo.touch(app_id, now):
                app = None
        if app is None:
            # Deleted while the P-GET was read or held: no batch for it (what it recorded
            # meanwhile goes too), 404 as for any request after the DELETE.
            await self._channel.close(app_id)
            raise NotFound("ApplicationNotFound", "The application does not exist.")

    async def delete(self, caller: Caller, app_id: str) -> None:
        """DELETE application (expired ones too): it leaves every conversation, then goes."""
        app = await self._repo.get(app_id)
        if app is None or app.owner_uri != caller.uri:
            raise NotFound("ApplicationNotFound", "The application does not exist.")
        await self._retire(app)

    async def _retire(self, app: Application) -> bool:
        """What deleting an application does, whoever deletes it (the client, a revival by its
        endpoint, the purge): a held P-GET answers 404 (not the events of leaving), the
        application leaves every conversation (the others get the events of a participant
        leaving), its row goes, and its channel closes (batches and settings forgotten)."""
        self._channel.release(app.app_id)
        deleted = False
        for tries_left in reversed(range(3)):
            if self._leave is not None:
                try:
                    await self._leave(app)
                except Conflict:  # still racing after retries: its rows go with it below
                    log.warning("application %s left a conversation unended", app.app_id)
            try:  # an invitation that arrived after leaving is left too, then the delete
                deleted = await self._repo.delete(app.app_id, only_if_left=tries_left > 0)
                break
            except StaleApplication:
                continue
        await self._channel.close(app.app_id)  # also answers a P-GET parked in the meantime
        self._left.discard(app.app_id)
        return deleted

    async def make_me_available(
        self, caller: Caller, app_id: str, data: AvailabilityInput
    ) -> Application:
        if caller.kind != "user":
            raise Forbidden(
                "AnonymousNotAllowed", "Anonymous users cannot make themselves available."
            )
        for _ in range(3):  # a PUT of communication meanwhile: apply to what it left
            app = await self.get(caller, app_id)  # 404 once deleted meanwhile
            updated = make_available(app, data, self._ids, self._clock.now())
            events = availability_events(updated)
            try:
                await self._repo.save(updated, app.communication_etag, events, self._clock.now())
            except StaleApplication:
                continue
            self._channel.notify(events)
            return updated
        raise Conflict("AnotherOperationPending", "The application changed meanwhile; try again.")

    async def update_communication(
        self,
        caller: Caller,
        app_id: str,
        modalities: tuple[str, ...] | None,
        formats: tuple[str, ...] | None,
        settings: dict[str, object],
        if_match: frozenset[str],
    ) -> Application:
        app = await self.get(caller, app_id)
        if not if_match:
            raise PreconditionRequired()
        if app.communication_etag not in if_match and "*" not in if_match:
            raise PreconditionFailed()
        updated = update_communication(app, modalities, formats, settings, self._ids)
        events = availability_events(updated)[:1]
        try:
            await self._repo.save(updated, app.communication_etag, events, self._clock.now())
        except StaleApplication:  # deleted (404) or changed (412) since the If-Match check
            await self.get(caller, app_id)
            raise PreconditionFailed() from None
        self._channel.notify(events)
        return updated

    async def report_activity(self, caller: Caller, app_id: str) -> None:
        app = await self.get(caller, app_id)
        if not await self._touch(app.app_id, self._clock.now()):
            raise NotFound("ApplicationNotFound", "The application does not exist.")

    async def expire_idle(self) -> int:
        """Housekeeping: an expired application (410 from now on) leaves its conversations at
        once, so the others see them end instead of messages completing into it; past the
        purge delay it is forgotten. Returns how many applications left or were forgotten."""
        now = self._clock.now()
        done = 0
        for listed in await self._repo.list_all():
            app_id = listed.app_id
            # Alive while a P-GET is held, or while a request's activity is being written
            # (that request passed its expiry check and will be answered as a success).
            if self._channel.is_parked(app_id) or app_id in self._touching:
                continue
            # Read again: the list is from before the previous applications' awaits, and a
            # request may have renewed this one meanwhile.
            app = await self._repo.get(app_id)
            if app is None or self._channel.is_parked(app_id) or app_id in self._touching:
                continue
            if self.lifetime.is_purgeable(app, now):
                if await self._retire(app):
                    done += 1
            elif app.app_id not in self._left and self.lifetime.is_expired(app, now):
                self._left.add(app.app_id)
                if self._leave is not None:
                    await self._leave(app)
                done += 1
        return done


def communication_snapshot(app: Application) -> dict[str, object]:
    """What a renderer needs to embed the communication resource as it was at event time."""
    return {
        "put_guid": app.communication_put_guid,
        "etag": app.communication_etag,
        "modalities": list(app.supported_modalities),
        "formats": list(app.supported_message_formats),
        "settings": [list(pair) for pair in app.communication_settings],
    }


def availability_events(app: Application) -> list[NewEvent]:
    """makeMeAvailable (spec §3.1 step 7): communication updated, then me updated and the
    presence, note and location of ``me`` added — all Medium, on the application's stream."""
    stream = app_stream(app.app_id)
    return [
        NewEvent(
            stream,
            MEDIUM,
            {
                "sender": "communication",
                "type": "updated",
                "target": "communication",
                "snapshot": communication_snapshot(app),
            },
        ),
        NewEvent(stream, MEDIUM, {"sender": "me", "type": "updated", "target": "me"}),
        NewEvent(stream, MEDIUM, {"sender": "me", "type": "added", "target": "presence"}),
        NewEvent(stream, MEDIUM, {"sender": "me", "type": "added", "target": "note"}),
        NewEvent(stream, MEDIUM, {"sender": "me", "type": "added", "target": "location"}),
    ]

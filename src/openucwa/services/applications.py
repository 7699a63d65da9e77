"""Use cases of the application resource: create, look up (with ownership and expiry), delete,
makeMeAvailable, and the idle-expiry housekeeping job."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta

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
from openucwa.services.ports import ApplicationRepository, DuplicateId

# last_seen is written at most this often per application (it is not client data).
TOUCH_EVERY = timedelta(seconds=30)


class ApplicationService:
    def __init__(
        self,
        repo: ApplicationRepository,
        ids: IdGenerator,
        clock: Clock,
        lifetime: Lifetime,
        channel: EventChannel,
        max_per_user: int = 50,
    ) -> None:
        self._repo = repo
        self._channel = channel
        self._ids = ids
        self._clock = clock
        self.lifetime = lifetime
        self._max_per_user = max_per_user

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
                    if self.lifetime.is_expired(a, now)
                )
                if not uncounted:
                    raise
                continue
            if not created and self.lifetime.is_expired(stored, now):
                # The same endpoint signing in again revives its expired application.
                await self._repo.delete(stored.app_id)
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
        if self.lifetime.is_expired(app, now):
            raise Gone("InactiveApplicationExpired", "The application expired for inactivity.")
        if now - app.last_seen >= TOUCH_EVERY:
            await self._repo.touch(app.app_id, now)
        return app

    async def owned(self, caller: Caller, app_id: str) -> Application:
        """The caller's application even if it expired (for DELETE), else 404."""
        app = await self._repo.get(app_id)
        if app is None or app.owner_uri != caller.uri:
            raise NotFound("ApplicationNotFound", "The application does not exist.")
        return app

    async def delete(self, caller: Caller, app_id: str) -> None:
        app = await self._repo.get(app_id)
        if app is None or app.owner_uri != caller.uri:
            raise NotFound("ApplicationNotFound", "The application does not exist.")
        await self._channel.close(app_id)
        await self._repo.delete(app_id)

    async def make_me_available(
        self, caller: Caller, app_id: str, data: AvailabilityInput
    ) -> Application:
        if caller.kind != "user":
            raise Forbidden(
                "AnonymousNotAllowed", "Anonymous users cannot make themselves available."
            )
        app = await self.get(caller, app_id)
        updated = make_available(app, data, self._ids, self._clock.now())
        events = availability_events(updated)
        await self._repo.save(updated, events, self._clock.now())
        self._channel.notify(events)
        return updated

    async def update_communication(
        self,
        caller: Caller,
        app_id: str,
        modalities: tuple[str, ...] | None,
        formats: tuple[str, ...] | None,
        if_match: frozenset[str],
    ) -> Application:
        app = await self.get(caller, app_id)
        if not if_match:
            raise PreconditionRequired()
        if app.communication_etag not in if_match and "*" not in if_match:
            raise PreconditionFailed()
        updated = update_communication(app, modalities, formats, self._ids)
        events = availability_events(updated)[:1]
        await self._repo.save(updated, events, self._clock.now())
        self._channel.notify(events)
        return updated

    async def report_activity(self, caller: Caller, app_id: str) -> None:
        app = await self.get(caller, app_id)
        await self._repo.touch(app.app_id, self._clock.now())

    async def expire_idle(
        self, before_delete: Callable[[Application], Awaitable[None]] | None = None
    ) -> int:
        """Housekeeping: forget applications idle beyond expiry plus the purge delay
        (``before_delete`` lets them leave their conversations first)."""
        now = self._clock.now()
        purged = 0
        for app in await self._repo.list_all():
            if self.lifetime.is_purgeable(app, now):
                if before_delete is not None:
                    await before_delete(app)
                await self._channel.close(app.app_id)
                if await self._repo.delete(app.app_id):
                    purged += 1
        return purged


def communication_snapshot(app: Application) -> dict[str, object]:
    """What a renderer needs to embed the communication resource as it was at event time."""
    return {
        "put_guid": app.communication_put_guid,
        "etag": app.communication_etag,
        "modalities": list(app.supported_modalities),
        "formats": list(app.supported_message_formats),
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

"""Read-through, write-through caches in front of the SQL repositories.

Valid because one server process owns a SQLite database (``openucwa serve`` holds its lock
file, ``engine.lock_for_server``): every change to applications and meetings goes through these
objects, so they can keep their copies exact. (Tokens are revoked from another process too, by
``openucwa users passwd``/``remove``; ``auth/tokens.py`` re-reads a token after one second.)
Caches are bounded; the oldest entries go first.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Collection, Sequence
from datetime import datetime
from typing import Generic, TypeVar

from openucwa.domain.applications import Application
from openucwa.domain.events import NewEvent
from openucwa.domain.meetings import Extension, OnlineMeeting
from openucwa.services.ports import ApplicationRepository, MeetingRepository

K = TypeVar("K")
V = TypeVar("V")


class Bounded(Generic[K, V]):
    def __init__(self, limit: int) -> None:
        self._items: dict[K, V] = {}
        self._limit = limit

    def get(self, key: K) -> V | None:
        return self._items.get(key)

    def put(self, key: K, value: V) -> None:
        items = self._items
        items[key] = value
        if len(items) > self._limit:
            del items[next(iter(items))]

    def drop(self, key: K) -> None:
        self._items.pop(key, None)


class CachedApplications:
    def __init__(self, inner: ApplicationRepository, limit: int = 100_000) -> None:
        self._inner = inner
        self._cache: Bounded[str, Application | None] = Bounded(limit)

    async def get(self, app_id: str) -> Application | None:
        hit = self._cache.get(app_id)
        if hit is not None:
            return hit
        app = await self._inner.get(app_id)
        if app is not None:
            self._cache.put(app_id, app)
        return app

    async def get_or_create(
        self,
        app: Application,
        max_per_user: int,
        streams: Sequence[str] = (),
        uncounted: Collection[str] = (),
    ) -> tuple[Application, bool]:
        stored, created = await self._inner.get_or_create(app, max_per_user, streams, uncounted)
        self._cache.put(stored.app_id, stored)
        return stored, created

    async def save(
        self,
        app: Application,
        read_etag: str,
        events: Sequence[NewEvent] = (),
        now: datetime | None = None,
    ) -> None:
        self._cache.drop(app.app_id)
        try:
            await self._inner.save(app, read_etag, events, now)
        finally:
            self._cache.drop(app.app_id)  # read again: touch keeps last_seen the later one

    async def touch(self, app_id: str, when: datetime) -> bool:
        self._cache.drop(app_id)
        try:
            return await self._inner.touch(app_id, when)
        finally:
            self._cache.drop(app_id)

    async def delete(self, app_id: str, only_if_left: bool = False) -> bool:
        self._cache.drop(app_id)
        deleted = await self._inner.delete(app_id, only_if_left)
        self._cache.drop(app_id)
        return deleted

    async def list_all(self) -> Sequence[Application]:
        return await self._inner.list_all()

    async def list_for_owner(self, owner_uri: str) -> Sequence[Application]:
        return await self._inner.list_for_owner(owner_uri)


class CachedMeetings:
    def __init__(self, inner: MeetingRepository, limit: int = 100_000) -> None:
        self._inner = inner
        self._meetings: Bounded[tuple[str, str], OnlineMeeting] = Bounded(limit)
        self._assigned: Bounded[str, OnlineMeeting] = Bounded(limit)

    def _forget(self, organizer_uri: str, meeting_id: str) -> None:
        self._meetings.drop((organizer_uri, meeting_id))
        self._assigned.drop(organizer_uri)

    async def get(self, organizer_uri: str, meeting_id: str) -> OnlineMeeting | None:
        key = (organizer_uri, meeting_id)
        hit = self._meetings.get(key)
        if hit is not None:
            return hit
        meeting = await self._inner.get(organizer_uri, meeting_id)
        if meeting is not None:
            self._meetings.put(key, meeting)
        return meeting

    async def list_for(self, organizer_uri: str) -> Sequence[OnlineMeeting]:
        return await self._inner.list_for(organizer_uri)

    def pages_for(self, organizer_uri: str) -> AsyncIterator[Sequence[OnlineMeeting]]:
        return self._inner.pages_for(organizer_uri)

    async def get_assigned(self, organizer_uri: str) -> OnlineMeeting | None:
        hit = self._assigned.get(organizer_uri)
        if hit is not None:
            return hit
        meeting = await self._inner.get_assigned(organizer_uri)
        if meeting is not None:
            self._assigned.put(organizer_uri, meeting)
        return meeting

    async def reserve_conference_ids(self, count: int) -> list[str]:
        return await self._inner.reserve_conference_ids(count)

    async def create(self, meeting: OnlineMeeting, max_per_user: int) -> None:
        await self._inner.create(meeting, max_per_user)

    async def ensure_assigned(self, meeting: OnlineMeeting) -> OnlineMeeting:
        return await self._inner.ensure_assigned(meeting)

    async def replace(self, meeting: OnlineMeeting, expected_etag: str) -> OnlineMeeting:
        self._forget(meeting.organizer_uri, meeting.meeting_id)
        try:
            return await self._inner.replace(meeting, expected_etag)
        finally:
            self._forget(meeting.organizer_uri, meeting.meeting_id)

    async def delete(
        self, organizer_uri: str, meeting_id: str, expected_etag: str | None = None
    ) -> bool:
        self._forget(organizer_uri, meeting_id)
        try:
            return await self._inner.delete(organizer_uri, meeting_id, expected_etag)
        finally:
            self._forget(organizer_uri, meeting_id)

    async def put_extension(
        self,
        organizer_uri: str,
        meeting_id: str,
        extension: Extension,
        expected_etag: str | None,
        max_extensions: int | None = None,
        max_bytes: int | None = None,
    ) -> None:
        self._forget(organizer_uri, meeting_id)
        try:
            await self._inner.put_extension(
                organizer_uri, meeting_id, extension, expected_etag, max_extensions, max_bytes
            )
        finally:
            self._forget(organizer_uri, meeting_id)

    async def delete_extension(
        self,
        organizer_uri: str,
        meeting_id: str,
        extension_id: str,
        expected_etag: str | None = None,
    ) -> bool:
        self._forget(organizer_uri, meeting_id)
        try:
            return await self._inner.delete_extension(
                organizer_uri, meeting_id, extension_id, expected_etag
            )
        finally:
            self._forget(organizer_uri, meeting_id)

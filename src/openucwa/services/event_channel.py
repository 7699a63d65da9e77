"""The P-GET (spec §2.4.2): numbered batches, retransmission, resync, PGetReplaced, and the
priority rules. Batches and events are read back from the log; the notifier only says when to
look again."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field

from openucwa.domain.clock import Clock
from openucwa.domain.errors import Conflict, NotFound
from openucwa.domain.events import (
    Batch,
    NewEvent,
    PollSettings,
    StoredEvent,
    app_stream,
    poll_settings,
    release_deadline,
)
from openucwa.services.ports import EventLog, Notifier

# A batch stops before the event that would take its stored bodies past this; the rest
# follows in the next batch at once. Bounded in events only, a thousand 128 KiB messages made
# one batch of 394 MB and held the event loop 13 s.
MAX_BATCH_BYTES = 1024 * 1024


@dataclass(frozen=True, slots=True)
class PollResult:
    """What to answer: a batch and its events, or (``resync``) only a link to ``ack``."""

    ack: int
    events: tuple[StoredEvent, ...] = ()
    continuation: str = "next"  # "next" | "resume" | "resync"


@dataclass(slots=True)
class _Parked:
    priority: int
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    replaced: bool = False
    gone: bool = False
    releasing: bool = False  # decided to answer; its batch is being recorded
    abandoned: bool = False  # its client hung up: nobody to answer
    recorded: asyncio.Event | None = None  # made only when a retransmission has to wait


class EventChannel:
    def __init__(
        self,
        log: EventLog,
        notifier: Notifier,
        clock: Clock,
        max_wait: float,
        one_sender_per_batch: bool = False,
    ) -> None:
        self.one_sender_per_batch = one_sender_per_batch
        self._log = log
        self._notifier = notifier
        self._clock = clock
        self.max_wait = max_wait
        self._parked: dict[str, _Parked] = {}
        self._settings: dict[str, PollSettings] = {}
        self._stopping = False

    # -- writing -------------------------------------------------------------------------

    async def publish(self, events: list[NewEvent]) -> None:
        """Append events in their own transaction, then ring the doorbell."""
        if events:
            await self._log.append(events, self._clock.now())
            self.notify(events)

    def notify(self, events: list[NewEvent]) -> None:
        """Call after a write that appended ``events`` committed."""
        self._notifier.notify({e.stream for e in events})

    async def open(self, app_id: str) -> None:
        """A new application follows its own stream."""
        await self._log.follow(app_id, app_stream(app_id))

    def release(self, app_id: str) -> None:
        """The application is going: its parked P-GET answers 404 ApplicationNotFound."""
        parked = self._parked.pop(app_id, None)
        if parked is not None:
            parked.gone = True
            parked.wake.set()

    def stop_holding(self) -> None:
        """The server is stopping: every held P-GET answers now with the batch it would give
        at the end of its hold (with its ``next`` link, which the client polls again once the
        server is back), and P-GETs that come later are not held either."""
        self._stopping = True
        for parked in self._parked.values():
            parked.wake.set()

    async def close(self, app_id: str) -> None:
        """The application is gone: release its parked P-GET and forget its batches."""
        self.release(app_id)
        self._settings.pop(app_id, None)
        await self._log.forget(app_id)

    # -- the P-GET -----------------------------------------------------------------------

    async def first_unacknowledged(self, app_id: str) -> int:
        """The ack a resync points at: the oldest retained batch, else the next one."""
        first, last = await self._log.batches(app_id)
        if first is not None:
            return first.ack
        return last.ack + 1 if last else 1

    async def poll(
        self,
        app_id: str,
        ack: int | None,
        low: float | None = None,
        medium: float | None = None,
        timeout: float | None = None,
        priority: int | None = None,
        on_park: Callable[[Callable[[], None]], None] | None = None,
    ) -> PollResult:
        """``on_park``: given, once this P-GET is held, the function that abandons it (its
        client hung up): the hold ends at once and no longer holds the channel. Without it a
        dead P-GET at a higher priority refused the client's next one for the whole hold."""
        first, last = await self._log.batches(app_id)
        next_ack = last.ack + 1 if last else 1
        oldest = first.ack if first else next_ack
        if ack is None:  # E44: a P-GET without ack asks for the first unacknowledged batch
            ack = oldest
        asked = ack
        lost: bool | None = None  # events for it trimmed before it received them
        if ack < next_ack:
            batch = await self._log.batch(app_id, ack) if ack >= oldest else None
            if batch is None:
                return PollResult(oldest, continuation="resync")
            if batch.continuation == "resync":
                return PollResult(batch.ack + 1, continuation="resync")
            if not await self._log.lost(app_id, batch.after):
                return await self._replay(app_id, batch)
            ack, lost = next_ack, True  # the batch has a hole: a new one answers resync
        elif ack > next_ack:
            return PollResult(oldest, continuation="resync")
        current = self._parked.get(app_id)
        if current is not None and current.releasing:
            # The P-GET for this ack is answering right now: once its batch is recorded this
            # request is a retransmission of it.
            if current.recorded is None:
                current.recorded = asyncio.Event()
            await current.recorded.wait()
            return await self.poll(app_id, asked, low, medium, timeout, priority, on_park)
        settings = poll_settings(
            low, medium, timeout, priority, self._settings.get(app_id, PollSettings())
        )
        parked = self._park(app_id, settings.priority)  # 409 for a lower priority: first
        self._settings[app_id] = settings  # remembered only once this P-GET is the one held
        if on_park is not None:
            on_park(lambda: self._abandon(app_id, parked))
        after = last.upto if last else 0
        try:
            if lost is None:
                lost = await self._log.lost(app_id, after)
            if lost:
                parked.releasing = True
                return await self._resync(app_id, ack)
            read = await self._wait(app_id, parked, after, settings)
            parked.releasing = True
            events, upto = self._shape(app_id, read, after)
            batch = Batch(ack, after, upto)
            await self._log.add_batch(app_id, batch)
        finally:
            if parked.recorded is not None:
                parked.recorded.set()
            if self._parked.get(app_id) is parked:
                del self._parked[app_id]
        return PollResult(ack, tuple(events))

    async def _resync(self, app_id: str, ack: int) -> PollResult:
        """Retention trimmed events the application had not received: batch ``ack`` is
        recorded as a resync (answered again if asked again) to batch ``ack + 1``, which starts
        from the present: the client re-reads what it needs, it is not sent the past."""
        head = await self._log.head()
        await self._log.add_batch(app_id, Batch(ack, head, head, "resync"))
        return PollResult(ack + 1, continuation="resync")

    async def _replay(self, app_id: str, batch: Batch) -> PollResult:
        read = await self._log.read(app_id, batch.after, batch.upto, limit=1_000_000)
        events = [e for e in read if _visible(e, app_id)]
        return PollResult(batch.ack, tuple(events), batch.continuation)

    def _shape(
        self, app_id: str, read: list[StoredEvent], after: int
    ) -> tuple[list[StoredEvent], int]:
        """The events of the batch and its upper position. Events hidden from this
        application are skipped; with ``one_sender_per_batch`` the batch stops where the
        sender changes (clients that read only ``sender[0]`` miss nothing), and the rest
        follows in the next batch at once."""
        upto = read[-1].position if read else after
        events: list[StoredEvent] = []
        size = 0
        for event in read:
            if not _visible(event, app_id):
                continue
            if events and (
                size + event.size > MAX_BATCH_BYTES
                or (self.one_sender_per_batch and _sender(event) != _sender(events[0]))
            ):
                upto = events[-1].position
                break
            events.append(event)
            size += event.size
        return events, upto

    def _abandon(self, app_id: str, parked: _Parked) -> None:
        if parked.releasing:  # already answering: its batch is recorded for a retransmission
            return
        parked.abandoned = True
        if self._parked.get(app_id) is parked:
            del self._parked[app_id]
        parked.wake.set()

    def _park(self, app_id: str, priority: int) -> _Parked:
        current = self._parked.get(app_id)
        if current is not None:
            if priority < current.priority:
                raise Conflict("PGetReplaced", "A pending GET with a higher priority exists.")
            current.replaced = True
            current.wake.set()
        parked = _Parked(priority)
        self._parked[app_id] = parked
        return parked

    async def _wait(
        self, app_id: str, parked: _Parked, after: int, settings: PollSettings
    ) -> list[StoredEvent]:
        loop = asyncio.get_running_loop()
        hold_until = loop.time() + min(settings.timeout, self.max_wait)
        streams = await self._log.followed(app_id)
        self._notifier.subscribe(streams, parked.wake)
        try:
            while True:
                parked.wake.clear()
                read = await self._log.read(app_id, after)
                events = [e for e in read if _visible(e, app_id)]
                if parked.gone:
                    raise NotFound("ApplicationNotFound", "The application was deleted.")
                if parked.replaced:
                    raise Conflict("PGetReplaced", "This pending GET was replaced by a newer one.")
                if parked.abandoned:  # the answer goes nowhere; no batch is recorded for it
                    raise Conflict("PGetReplaced", "The client of this pending GET went away.")
                now = self._clock.now()
                deadline = release_deadline(events, settings, now, self.max_wait)
                remaining = hold_until - loop.time()
                if remaining <= 0 or self._stopping or (deadline is not None and deadline <= now):
                    return read
                if deadline is not None:
                    remaining = min(remaining, (deadline - now).total_seconds())
                followed = await self._log.followed(app_id)
                if followed != streams:  # joined or left a conversation while waiting
                    self._notifier.unsubscribe(streams, parked.wake)
                    streams = followed
                    self._notifier.subscribe(streams, parked.wake)
                    continue
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(remaining):  # lighter than wait_for per held poll
                        await parked.wake.wait()
        finally:
            self._notifier.unsubscribe(streams, parked.wake)

    def parked_count(self) -> int:
        return len(self._parked)

    def is_parked(self, app_id: str) -> bool:
        """Whether a P-GET of the application is held (it keeps the application alive)."""
        return app_id in self._parked


def _visible(event: StoredEvent, app_id: str) -> bool:
    """Events may name one application they are not for (``except_app``: the typist)."""
    return event.body.get("except_app") != app_id


def _sender(event: StoredEvent) -> tuple[object, object]:
    body = event.body
    return body.get("sender"), body.get("conv_id") or body.get("thread")

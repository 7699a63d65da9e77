"""Event-channel rules that need no I/O: priorities, streams, P-GET settings, when to release.

The log is the truth: every event is appended once to one *stream* — an application's private
stream (``app:<id>``) or a shared stream that several applications follow (``conv:<id>``, a
conversation everyone in it listens to). An application's channel merges the streams it follows
by global log position; batch N is "everything after batch N-1, up to position P". Events carry
identities and the small snapshot a renderer needs, never URLs or rendered JSON, so one log
serves every viewer in JSON and in XML.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

HIGH = "High"
MEDIUM = "Medium"
LOW = "Low"
PRIORITIES = (HIGH, MEDIUM, LOW)


def app_stream(app_id: str) -> str:
    return f"app:{app_id}"


def conversation_stream(thread_id: str) -> str:
    return f"conv:{thread_id}"


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event about to be appended: where, how urgent, and what (a JSON-able description)."""

    stream: str
    priority: str
    body: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class StoredEvent:
    position: int
    stream: str
    priority: str
    created_at: datetime
    body: Mapping[str, Any]
    size: int = 0  # characters of the stored JSON body: what bounds a batch


@dataclass(frozen=True, slots=True)
class Batch:
    """Batch ``ack`` of one application: the events with position in (after, upto]; a
    ``resync`` batch answers only a resync link to ``ack + 1`` (events were lost to retention)."""

    ack: int
    after: int
    upto: int
    continuation: str = "next"  # or "resync" ("resume" is never sent, deviation 14)


@dataclass(frozen=True, slots=True)
class PollSettings:
    """``low``, ``medium``, ``timeout`` (seconds) and ``priority`` of a P-GET (spec §2.4.1)."""

    low: float = 15
    medium: float = 5
    timeout: float = 180
    priority: int = 0

    @staticmethod
    def clamp(value: float, lowest: float, highest: float) -> float:
        return max(lowest, min(highest, value))


def poll_settings(
    low: float | None,
    medium: float | None,
    timeout: float | None,
    priority: int | None,
    remembered: PollSettings,
) -> PollSettings:
    """Query values clamped to their documented ranges, else the remembered ones."""
    clamp = PollSettings.clamp
    return PollSettings(
        low=clamp(low, 5, 1800) if low is not None else remembered.low,
        medium=clamp(medium, 5, 1800) if medium is not None else remembered.medium,
        timeout=clamp(timeout, 180, 1800) if timeout is not None else remembered.timeout,
        priority=priority if priority is not None else 0,
    )


def release_deadline(
    pending: Iterable[StoredEvent], settings: PollSettings, now: datetime, max_wait: float
) -> datetime | None:
    """When a P-GET holding ``pending`` events must answer: ``now`` if any is High, else when
    the oldest Medium/Low one has waited ``medium``/``low`` seconds. None if nothing is pending.
    Every wait is capped by ``max_wait`` seconds from now."""
    deadline: datetime | None = None
    cap = now + timedelta(seconds=max_wait)
    for event in pending:
        if event.priority == HIGH:
            return now
        delay = settings.medium if event.priority == MEDIUM else settings.low
        due = event.created_at + timedelta(seconds=delay)
        if deadline is None or due < deadline:
            deadline = due
    if deadline is None:
        return None
    return min(deadline, cap)

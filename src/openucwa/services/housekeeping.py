"""Named, idempotent periodic jobs, started by the web lifespan (docs/operations.md)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from datetime import timedelta

from openucwa.domain.clock import Clock
from openucwa.domain.errors import ServiceUnavailable
from openucwa.services.applications import ApplicationService
from openucwa.services.messaging import MessagingService
from openucwa.services.ports import EventLog, TokenStore

log = logging.getLogger("openucwa.housekeeping")

Job = Callable[[], Awaitable[int]]


def standard_jobs(
    applications: ApplicationService,
    messaging: MessagingService,
    tokens: TokenStore,
    events: EventLog,
    clock: Clock,
    event_retention: int,
) -> dict[str, Job]:
    async def expire_idle_applications() -> int:
        return await applications.expire_idle()

    async def expire_unanswered_invitations() -> int:
        return await messaging.expire_invitations()

    async def purge_expired_tokens() -> int:
        return await tokens.purge_expired(clock.now())

    async def trim_event_log() -> int:
        return await events.trim(clock.now() - timedelta(seconds=event_retention))

    return {
        "expire_idle_applications": expire_idle_applications,
        "expire_unanswered_invitations": expire_unanswered_invitations,
        "purge_expired_tokens": purge_expired_tokens,
        "trim_event_log": trim_event_log,
    }


async def run_once(jobs: Mapping[str, Job]) -> dict[str, int]:
    done: dict[str, int] = {}
    for name, job in jobs.items():
        try:
            done[name] = await job()
        except ServiceUnavailable as exc:  # the database stayed locked: tried again next run
            log.warning("housekeeping job %s skipped: %s", name, exc.message)
        except Exception:  # one failing job never stops the others
            log.exception("housekeeping job %s failed", name)
    return done


async def run_forever(jobs: Mapping[str, Job], interval: float) -> None:
    while True:
        await asyncio.sleep(interval)
        result = await run_once(jobs)
        if any(result.values()):
            log.info("housekeeping: %s", result)

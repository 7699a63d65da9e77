"""Composition root: Settings -> storage, services, ASGI app. Nothing imports this but the CLI."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from openucwa.auth.grants import SignIn
from openucwa.auth.passwords import PasswordChecks, Passwords
from openucwa.auth.throttle import SignInThrottle, TokenBuckets
from openucwa.auth.tokens import Tokens
from openucwa.channel.local import LocalNotifier
from openucwa.domain.applications import Lifetime
from openucwa.domain.clock import Clock, SystemClock
from openucwa.domain.ids import IdGenerator, RandomIds
from openucwa.domain.meetings import SchedulingRules
from openucwa.domain.users import Organization
from openucwa.services.applications import ApplicationService
from openucwa.services.event_channel import EventChannel
from openucwa.services.housekeeping import Job, standard_jobs
from openucwa.services.meetings import MeetingService
from openucwa.services.messaging import MessagingService
from openucwa.settings import Settings
from openucwa.storage.sql import SqliteStorage
from openucwa.web.asgi import PathNormalizer, create_app
from openucwa.web.context import EdgeConfig, Services
from openucwa.web.proxies import TrustedProxies


@dataclass
class Built:
    storage: SqliteStorage
    services: Services
    app: PathNormalizer
    jobs: dict[str, Job] = field(default_factory=dict)  # housekeeping (tests run them by hand)


def open_storage(settings: Settings) -> SqliteStorage:
    if settings.database.startswith("sqlite:"):
        return SqliteStorage(settings.database, busy_timeout=settings.database_busy_timeout)
    raise SystemExit(f"unsupported database URL {settings.database!r} (use sqlite:///path)")


def build(
    settings: Settings,
    clock: Clock | None = None,
    ids: IdGenerator | None = None,
    passwords: Passwords | None = None,
) -> Built:
    clock = clock or SystemClock()
    ids = ids or RandomIds()
    passwords = passwords or Passwords()
    storage = open_storage(settings)
    organization = Organization(settings.domain_set)
    rules = SchedulingRules(
        organization=organization,
        max_meetings_per_user=settings.max_meetings_per_user,
        max_extensions_per_meeting=settings.max_extensions_per_meeting,
        max_extension_bytes_per_meeting=settings.max_extension_bytes_per_meeting,
    )
    lifetime = Lifetime(
        idle=timedelta(seconds=settings.app_idle_timeout),
        idle_when_available=timedelta(seconds=settings.app_available_idle_timeout),
        purge_after=timedelta(seconds=settings.app_purge_after),
    )
    tokens = Tokens(storage.tokens, ids, clock, timedelta(seconds=settings.token_lifetime))
    channel = EventChannel(
        storage.events,
        LocalNotifier(),
        clock,
        settings.max_event_wait,
        settings.one_sender_per_batch,
    )
    messaging = MessagingService(
        storage.conversations,
        storage.applications,
        storage.users,
        channel,
        ids,
        clock,
        lifetime,
        settings.invitation_timeout,
        settings.max_pending_invitations_per_user,
        settings.invitations_per_minute,
    )
    applications = ApplicationService(
        storage.applications,
        ids,
        clock,
        lifetime,
        channel,
        settings.max_applications_per_user,
        leave_conversations=messaging.leave_all,
    )
    services = Services(
        applications=applications,
        meetings=MeetingService(storage.meetings, rules, ids, clock),
        events=channel,
        messaging=messaging,
        tokens=tokens,
        sign_in=SignIn(
            storage.users,
            tokens,
            PasswordChecks(passwords, settings.signin_workers, settings.signin_queue),
            SignInThrottle(clock),
            TokenBuckets(
                clock,
                per_minute=settings.signin_failures_per_minute,
                burst=settings.signin_failures_per_minute,
            ),
            organization,
        ),
        users=storage.users,
        organization=organization,
        clock=clock,
        edge=EdgeConfig(
            max_body_bytes=settings.max_body_bytes,
            meet_url=settings.meet_url,
            trusted_proxies=TrustedProxies(settings.trusted_proxy_set),
            xframe_origins=settings.xframe_origin_list,
        ),
    )
    jobs = standard_jobs(
        applications,
        messaging,
        storage.tokens,
        storage.events,
        clock,
        settings.event_retention,
    )
    app = create_app(services, storage, jobs, settings.housekeeping_interval)
    return Built(storage=storage, services=services, app=app, jobs=jobs)

"""Typed settings. Every field can be set from the environment (``OPENUCWA_*``) and most from
``openucwa serve`` flags; docs/operations.md lists them all."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, fields, replace
from ipaddress import ip_network
from typing import Any
from urllib.parse import SplitResult, urlsplit

DEFAULT_DATABASE = "sqlite:///var/openucwa.db"


@dataclass(frozen=True, slots=True)
class Settings:
    database: str = DEFAULT_DATABASE
    database_busy_timeout: float = 10.0  # seconds a write waits for another process's lock
    host: str = "127.0.0.1"
    port: int = 8080
    domains: str = "contoso.com"  # comma-separated SIP domains of the organisation
    demo: bool = False
    meet_url: str = ""  # base of joinUrl, e.g. https://meet.contoso.com; default: this server
    token_lifetime: int = 8 * 3600  # seconds
    max_meetings_per_user: int = 1000
    max_extensions_per_meeting: int = 32
    max_extension_bytes_per_meeting: int = 16 * 1024  # all of a meeting's extension values
    max_applications_per_user: int = 50
    app_idle_timeout: int = 600  # seconds without requests before an application expires
    app_available_idle_timeout: int = 3600  # the same after makeMeAvailable
    app_purge_after: int = 3600  # an expired application is forgotten this much later
    max_body_bytes: int = 256 * 1024
    max_head_bytes: int = 64 * 1024  # request line + headers (431 beyond)
    head_timeout: float = 30.0  # seconds for a request's head to arrive whole (408 beyond)
    body_timeout: float = 60.0  # seconds for the rest of a body to arrive (408 beyond)
    max_connections: int = 16384  # open HTTP connections (held P-GETs too); 503 beyond
    housekeeping_interval: float = 60.0  # seconds between housekeeping runs
    invitation_timeout: float = 30.0  # seconds an IM invitation waits for an answer
    max_pending_invitations_per_user: int = 16  # unanswered IM invitations one user may have
    invitations_per_minute: int = 30  # IM invitations one user may start a minute
    max_event_wait: float = 180.0  # longest hold of an event-channel P-GET, seconds
    event_retention: int = 3 * 3600  # seconds events are kept in the log
    one_sender_per_batch: bool = False  # cut batches where the sender changes (sender[0] clients)
    signin_failures_per_minute: int = 60  # failed sign-ins one client address may make
    signin_workers: int = max(os.cpu_count() or 1, 1)  # password checks run at once
    signin_queue: int = 64  # password checks waiting for a worker; more answer 503
    trusted_proxies: str = ""  # comma-separated peer addresses whose X-Forwarded-For counts
    xframe_origins: str = ""  # comma-separated web origins the XFrame relay serves ("" = any)
    log_level: str = "info"

    @property
    def trusted_proxy_set(self) -> frozenset[str]:
        return frozenset(a.strip() for a in self.trusted_proxies.split(",") if a.strip())

    @property
    def xframe_origin_list(self) -> tuple[str, ...]:
        """The origins as browsers name them: ``https://app.contoso.com`` (lower case, no
        path, no default port)."""
        found: list[str] = []
        for entry in (e.strip() for e in self.xframe_origins.split(",")):
            if entry:
                parts = urlsplit(entry)
                scheme, host = parts.scheme.lower(), parts.netloc.lower()
                default = {"http": ":80", "https": ":443"}.get(scheme, "")
                if default and host.endswith(default):
                    host = host[: -len(default)]
                found.append(f"{scheme}://{host}")
        return tuple(found)

    @property
    def domain_set(self) -> frozenset[str]:
        return frozenset(d.strip().lower() for d in self.domains.split(",") if d.strip())


class SettingsError(ValueError):
    """A setting that cannot be used; the message names its environment variable."""


# Numbers that must be at least this (everything numeric not listed must be positive).
_MINIMUM: dict[str, float] = {"port": 0, "signin_queue": 0}
# ... and at most this. Past LARGEST, seconds no longer fit the clocks and timers they feed
# (timedelta, asyncio), and no count is meant to be that high.
LARGEST = 1_000_000_000
_MAXIMUM: dict[str, float] = {"port": 65535}
_DOMAIN = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*")
LOG_LEVELS = ("critical", "error", "warning", "info", "debug", "trace")


def _web_url(text: str) -> SplitResult | None:
    """``text`` split, if it is an http or https URL with a host and no query or fragment."""
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        return None
    return parts


def env_name(field_name: str) -> str:
    return "OPENUCWA_" + field_name.upper()


def _parse(name: str, raw: str, default: object) -> object:
    text = raw.strip()
    if isinstance(default, bool):
        return text.lower() in ("1", "true", "yes", "on")
    try:
        if isinstance(default, int):
            return int(text)
        if isinstance(default, float):
            value = float(text)
            if value != value or value in (float("inf"), float("-inf")):
                raise ValueError(text)
            return value
    except ValueError:
        kind = "a whole number" if isinstance(default, int) else "a number"
        raise SettingsError(f"{env_name(name)}={raw!r} is not {kind}") from None
    return raw


def check(settings: Settings) -> Settings:
    """Refuse numbers no server can run with: a negative cap, a zero timeout, a port of 70000."""
    for f in fields(Settings):
        value = getattr(settings, f.name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        low, high = _MINIMUM.get(f.name), _MAXIMUM.get(f.name, LARGEST)
        if low is None and value <= 0:
            raise SettingsError(f"{env_name(f.name)} must be greater than 0 (got {value})")
        if low is not None and value < low:
            raise SettingsError(f"{env_name(f.name)} must be at least {low:g} (got {value})")
        if high is not None and value > high:
            raise SettingsError(f"{env_name(f.name)} must be at most {high:.10g} (got {value})")
    if settings.log_level.lower() not in LOG_LEVELS:
        raise SettingsError(
            f"{env_name('log_level')} must be one of {', '.join(LOG_LEVELS)}"
            f" (got {settings.log_level!r})"
        )
    if not settings.domain_set or not all(_DOMAIN.fullmatch(d) for d in settings.domain_set):
        raise SettingsError(
            f"{env_name('domains')} must name the organisation's SIP domains, comma-separated"
            f" (got {settings.domains!r})"
        )
    if settings.meet_url and _web_url(settings.meet_url) is None:
        raise SettingsError(
            f"{env_name('meet_url')} must be an http or https URL such as"
            f" https://meet.contoso.com (got {settings.meet_url!r})"
        )
    for entry in (e.strip() for e in settings.xframe_origins.split(",")):
        parts = _web_url(entry) if entry else None
        if entry and (parts is None or parts.path not in ("", "/")):  # an origin: no path
            raise SettingsError(
                f"{env_name('xframe_origins')}: {entry!r} is not a web origin such as"
                " https://app.contoso.com"
            )
    for entry in settings.trusted_proxy_set:
        try:
            ip_network(entry, strict=False)
        except ValueError:
            raise SettingsError(
                f"{env_name('trusted_proxies')}: {entry!r} is neither an IP address nor a"
                " network such as 10.0.0.0/8"
            ) from None
    return replace(settings, log_level=settings.log_level.lower())


def from_env(environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
    """Defaults, then the environment, then explicit overrides (CLI flags that were given).
    Raises SettingsError, naming the variable, for a value that is not a number or is out of
    range."""
    environ = dict(os.environ) if environ is None else environ
    values: dict[str, Any] = {}
    defaults = Settings()
    for f in fields(Settings):
        raw = environ.get(env_name(f.name))
        if raw is not None:
            values[f.name] = _parse(f.name, raw, getattr(defaults, f.name))
    settings = Settings(**values)
    given = {k: v for k, v in overrides.items() if v is not None}
    return check(replace(settings, **given))

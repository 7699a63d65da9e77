"""Typed settings. Every field can be set from the environment (``OPENUCWA_*``) and most from
``openucwa serve`` flags; docs/operations.md lists them all."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from typing import Any

DEFAULT_DATABASE = "sqlite:///var/openucwa.db"


@dataclass(frozen=True, slots=True)
class Settings:
    database: str = DEFAULT_DATABASE
    host: str = "127.0.0.1"
    port: int = 8080
    domains: str = "contoso.com"  # comma-separated SIP domains of the organisation
    demo: bool = False
    meet_url: str = ""  # base of joinUrl, e.g. https://meet.contoso.com; default: this server
    token_lifetime: int = 8 * 3600  # seconds
    max_meetings_per_user: int = 1000
    max_applications_per_user: int = 50
    app_idle_timeout: int = 600  # seconds without requests before an application expires
    app_available_idle_timeout: int = 3600  # the same after makeMeAvailable
    app_purge_after: int = 3600  # an expired application is forgotten this much later
    max_body_bytes: int = 256 * 1024
    max_head_bytes: int = 64 * 1024  # request line + headers (431 beyond)
    head_timeout: float = 30.0  # seconds for a request's head to arrive whole (408 beyond)
    body_timeout: float = 60.0  # seconds for the rest of a body to arrive (408 beyond)
    housekeeping_interval: float = 60.0  # seconds between housekeeping runs
    max_event_wait: float = 180.0  # longest hold of an event-channel P-GET, seconds
    event_retention: int = 3 * 3600  # seconds events are kept in the log
    one_sender_per_batch: bool = False  # cut batches where the sender changes (sender[0] clients)
    log_level: str = "info"

    @property
    def domain_set(self) -> frozenset[str]:
        return frozenset(d.strip().lower() for d in self.domains.split(",") if d.strip())


def env_name(field_name: str) -> str:
    return "OPENUCWA_" + field_name.upper()


def from_env(environ: dict[str, str] | None = None, **overrides: Any) -> Settings:
    """Defaults, then the environment, then explicit overrides (CLI flags that were given)."""
    environ = dict(os.environ) if environ is None else environ
    values: dict[str, Any] = {}
    for f in fields(Settings):
        raw = environ.get(env_name(f.name))
        if raw is None:
            continue
        default = getattr(Settings(), f.name)
        if isinstance(default, bool):
            values[f.name] = raw.strip().lower() in ("1", "true", "yes", "on")
        elif isinstance(default, int):
            values[f.name] = int(raw)
        elif isinstance(default, float):
            values[f.name] = float(raw)
        else:
            values[f.name] = raw
    settings = Settings(**values)
    given = {k: v for k, v in overrides.items() if v is not None}
    return replace(settings, **given)

"""Scope names. A user token carries all of them; later grants (anonymous join) carry fewer."""

from __future__ import annotations

APPLICATIONS = "applications"
MEETINGS_READWRITE = "Meetings.ReadWrite"
USER_SCOPES = frozenset({APPLICATIONS, MEETINGS_READWRITE})


def allows(granted: frozenset[str], needed: str) -> bool:
    return needed in granted

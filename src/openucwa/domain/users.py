"""Users and the organisation they belong to."""

from __future__ import annotations

import re
from dataclasses import dataclass

from openucwa.domain.errors import BadRequest

_SIP_RE = re.compile(r"^(?:[Ss][Ii][Pp]:)?([A-Za-z0-9._%+'\-]+)@([A-Za-z0-9.\-]+\.[A-Za-z]{2,})$")


@dataclass(frozen=True, slots=True)
class User:
    """A directory entry. ``uri`` is the canonical ``sip:user@domain`` form, lower case."""

    uri: str
    name: str
    password_hash: str
    email: str = ""
    title: str = ""
    company: str = ""

    @property
    def user_part(self) -> str:
        return self.uri[4:].split("@", 1)[0]

    @property
    def domain(self) -> str:
        return self.uri.split("@", 1)[1]

    @property
    def address(self) -> str:
        """``user@domain`` without the scheme (used in participant and photo URLs)."""
        return self.uri[4:]


def parse_sip_uri(value: str) -> str | None:
    """``alice@contoso.com`` or ``sip:Alice@Contoso.com`` -> ``sip:alice@contoso.com``."""
    known = _PARSED.get(value)
    if known is not None:
        return known
    match = _SIP_RE.match(value.strip())
    if match is None:
        return None
    uri = f"sip:{match.group(1).lower()}@{match.group(2).lower()}"
    if len(value) <= _PARSED_MAX_LENGTH:
        if len(_PARSED) >= _PARSED_LIMIT:
            _PARSED.clear()
        _PARSED[value] = uri
    return uri


# Addresses already parsed (valid ones): the same few attendees come back in request after
# request, and the regex costs ~0.5 us an address against ~0.05 us for the lookup.
_PARSED: dict[str, str] = {}
_PARSED_LIMIT = 4096
_PARSED_MAX_LENGTH = 256


def require_sip_uri(value: str) -> str:
    uri = parse_sip_uri(value)
    if uri is None:
        raise BadRequest("ParameterValidationFailure", f"Not a SIP address: {value!r}")
    return uri


@dataclass(frozen=True, slots=True)
class Organization:
    """The SIP domains the server owns (SameEnterprise, "must be in the organization")."""

    domains: frozenset[str]

    def contains(self, uri: str) -> bool:
        # The part after the first "@" (the whole text without one), as split("@", 1)[-1].
        return uri[uri.find("@") + 1 :].lower() in self.domains

    @property
    def primary_domain(self) -> str:
        return sorted(self.domains)[0]


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is asking: the identity a verified bearer token stands for, and what it may do."""

    uri: str
    kind: str = "user"
    scopes: frozenset[str] = frozenset()
    token_hash: str = ""

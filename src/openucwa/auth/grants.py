"""The token endpoint's grants (spec §2.1.6): ``password`` today; Windows and passive
grants answer as a server without them would. Errors use the OAuth shape ``{"error": …}``."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

from openucwa.auth.passwords import Passwords
from openucwa.auth.throttle import SignInThrottle
from openucwa.auth.tokens import Tokens
from openucwa.domain.users import Organization, User, parse_sip_uri
from openucwa.services.ports import UserRepository

PASSWORD = "password"
WINDOWS = "urn:microsoft.rtc:windows"
ANON_MEETING = "urn:microsoft.rtc:anonmeeting"
PASSIVE = "urn:microsoft.rtc:passive"
OFFERED_GRANTS = (WINDOWS, ANON_MEETING, PASSWORD)
MAX_FIELD = 1024


class OAuthError(Exception):
    def __init__(self, error: str, description: str = "") -> None:
        super().__init__(error)
        self.error = error
        self.description = description


@dataclass(slots=True)
class _Turns:
    lock: asyncio.Lock
    holders: int = 0


class SignIn:
    def __init__(
        self,
        users: UserRepository,
        tokens: Tokens,
        passwords: Passwords,
        throttle: SignInThrottle,
        organization: Organization,
    ) -> None:
        self._users = users
        self._tokens = tokens
        self._passwords = passwords
        self._throttle = throttle
        self._organization = organization
        self._checks: dict[str, _Turns] = {}  # account -> its lock and how many hold or wait

    async def token(self, form: Mapping[str, str]) -> dict[str, object]:
        fields = {k.lower(): v for k, v in form.items()}
        grant = fields.get("grant_type", "")
        if not grant:
            raise OAuthError("invalid_request", "grant_type is required.")
        if fields.get("scope", "").strip().lower() not in ("", "all"):
            raise OAuthError("invalid_scope", "The only supported scope value is all.")
        if grant == PASSWORD:
            return await self._password(fields.get("username", ""), fields.get("password", ""))
        if grant == WINDOWS:
            raise OAuthError("invalid_grant", "Integrated Windows authentication is unavailable.")
        raise OAuthError("unsupported_grant_type", "Authentication type not allowed.")

    async def _password(self, username: str, password: str) -> dict[str, object]:
        if not username or not password:
            raise OAuthError("invalid_request", "username and password are required.")
        if len(username) > MAX_FIELD or len(password) > MAX_FIELD:
            raise OAuthError("invalid_request", "username or password too long.")
        account = username.strip().lower()
        user = await self._find(account)
        if user is not None:  # every spelling of a user's name shares one throttle record
            account = user.uri
        async with self._one_check_at_a_time(account):
            if self._throttle.is_blocked(account):
                raise OAuthError("invalid_grant", "Too many failed attempts; try again later.")
            if user is None:
                await asyncio.to_thread(self._passwords.dummy_verify, password)
                ok = False
            else:
                ok = await asyncio.to_thread(self._passwords.verify, user.password_hash, password)
            if not ok or user is None:
                self._throttle.failure(account)
                raise OAuthError("invalid_grant", "The user name or password is incorrect.")
            self._throttle.success(account)
        token, expires_in = await self._tokens.issue(user.uri)
        # `users passwd` / `users remove` may have committed while the password was checked:
        # they revoke the tokens stored before them, so a token stored after them must not
        # stand. Looked at once the token is stored, the user either still is as checked (and
        # a later change revokes this token too) or is not (and this token goes now).
        current = await self._users.get(user.uri)
        if current is None or current.password_hash != user.password_hash:
            await self._tokens.revoke(token)
            raise OAuthError("invalid_grant", "The user name or password is incorrect.")
        return {
            "access_token": token,
            "expires_in": expires_in,
            "ms_rtc_identityscope": "local",
            "token_type": "Bearer",
        }

    @contextlib.asynccontextmanager
    async def _one_check_at_a_time(self, account: str) -> AsyncIterator[None]:
        """Password checks of one account run one after another, each looking at the throttle
        when its turn comes. Run side by side, every request of a burst passed the throttle
        before the first failure was counted: 200 concurrent guesses were all checked."""
        entry = self._checks.get(account)
        if entry is None:
            entry = self._checks[account] = _Turns(asyncio.Lock())
        entry.holders += 1
        try:
            async with entry.lock:
                yield
        finally:
            entry.holders -= 1
            if not entry.holders:
                del self._checks[account]

    async def _find(self, account: str) -> User | None:
        if "@" in account:
            uri = parse_sip_uri(account)
            return await self._users.get(uri) if uri else None
        for domain in sorted(self._organization.domains):
            user = await self._users.get(f"sip:{account}@{domain}")
            if user is not None:
                return user
        return None

"""The token endpoint's grants (spec §2.1.6): ``password`` today; Windows and passive
grants answer as a server without them would. Errors use the OAuth shape ``{"error": …}``."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

from openucwa.auth.passwords import ChecksBusy, PasswordChecks
from openucwa.auth.throttle import SignInThrottle, TokenBuckets
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


class SignInBusy(Exception):
    """Too many password checks are running or waiting: try again shortly (503)."""

    retry_after = 1


@dataclass(slots=True)
class _Turns:
    lock: asyncio.Lock
    holders: int = 0


class SignIn:
    def __init__(
        self,
        users: UserRepository,
        tokens: Tokens,
        checks: PasswordChecks,
        throttle: SignInThrottle,
        addresses: TokenBuckets,
        organization: Organization,
    ) -> None:
        self._users = users
        self._tokens = tokens
        self._checks_run = checks
        self._throttle = throttle
        self._addresses = addresses
        self._organization = organization
        self._checks: dict[str, _Turns] = {}  # account -> its lock and how many hold or wait

    def close(self) -> None:
        self._checks_run.close()

    async def token(self, form: Mapping[str, str], address: str = "") -> dict[str, object]:
        """``address``: the client's, for the per-address throttle."""
        fields = {k.lower(): v for k, v in form.items()}
        grant = fields.get("grant_type", "")
        if not grant:
            raise OAuthError("invalid_request", "grant_type is required.")
        if fields.get("scope", "").strip().lower() not in ("", "all"):
            raise OAuthError("invalid_scope", "The only supported scope value is all.")
        if grant == PASSWORD:
            username, password = fields.get("username", ""), fields.get("password", "")
            return await self._password(username, password, address)
        if grant == WINDOWS:
            raise OAuthError("invalid_grant", "Integrated Windows authentication is unavailable.")
        raise OAuthError("unsupported_grant_type", "Authentication type not allowed.")

    async def _password(self, username: str, password: str, address: str) -> dict[str, object]:
        if not username or not password:
            raise OAuthError("invalid_request", "username and password are required.")
        if len(username) > MAX_FIELD or len(password) > MAX_FIELD:
            raise OAuthError("invalid_request", "username or password too long.")
        # Taken before anything is looked up, given back on success or when nothing was checked.
        if not self._addresses.admit(address):
            raise OAuthError("invalid_grant", "Too many failed attempts; try again later.")
        try:
            user = await self._check(username, password)
        except ChecksBusy:
            self._addresses.refund(address)
            raise SignInBusy() from None
        self._addresses.refund(address)
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

    async def _check(self, username: str, password: str) -> User:
        """The user these credentials name, or OAuthError; ChecksBusy when no check can be
        queued (then nothing counts against the account)."""
        account = username.strip().lower()
        user = await self._find(account)
        if user is not None:  # every spelling of a user's name shares one throttle record
            account = user.uri
        async with self._one_check_at_a_time(account):
            if self._throttle.is_blocked(account):
                raise OAuthError("invalid_grant", "Too many failed attempts; try again later.")
            hashed = user.password_hash if user is not None else None
            ok = await self._checks_run.verify(hashed, password)
            if not ok or user is None:
                self._throttle.failure(account)
                raise OAuthError("invalid_grant", "The user name or password is incorrect.")
            self._throttle.success(account)
        return user

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

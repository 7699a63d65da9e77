"""``AsyncClient``: sign in and manage online meetings by following the server's links.

The only path the client knows is the Autodiscover root ``/`` of ``base_url``. Everything else
comes from the answers: ``user`` from discovery, the token endpoint from the 401 challenge,
``applications`` from the user resource, and the meeting links from the application.
Relative hrefs resolve against the URL of the resource that carried them.
"""

from __future__ import annotations

import time
import uuid
from types import TracebackType
from typing import Any
from urllib.parse import urljoin

import httpx

from openucwa_client._challenge import msrtc_oauth
from openucwa_client._errors import UcwaClientError

JSON = "application/json"


def _object(response: httpx.Response) -> dict[str, Any]:
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise UcwaClientError(
            0, "InvalidResponse", None, f"expected a JSON object: {response.text[:200]}"
        )
    return body


def _href(resource: dict[str, Any], rel: str) -> str:
    link = resource.get("_links", {}).get(rel)
    if not isinstance(link, dict) or not isinstance(link.get("href"), str):
        raise UcwaClientError(0, "MissingLink", None, f"the resource has no {rel!r} link")
    return str(link["href"])


class AsyncClient:
    """One signed-in user with one UCWA application. Use ``async with`` or call ``close``."""

    def __init__(
        self,
        base_url: str,
        transport: httpx.AsyncBaseTransport | None = None,
        *,
        user_agent: str = "openucwa-client",
        endpoint_id: str | None = None,
        culture: str = "en-US",
        timeout: float = 30.0,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url, transport=transport, timeout=timeout, headers={"Accept": JSON}
        )
        self._application_input = {
            "userAgent": user_agent,
            "endpointId": endpoint_id or str(uuid.uuid4()),
            "culture": culture,
        }
        self._token: str | None = None
        self._token_expires_at: float | None = None
        self._app: dict[str, Any] | None = None
        self._app_url = ""

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @property
    def token_expires_at(self) -> float | None:
        """When the token ``sign_in`` got expires (``time.time()`` seconds, from the token
        answer's ``expires_in``); None before a sign-in or when the server gave no lifetime.
        After it, requests raise 401: call ``sign_in`` again (the same endpoint id gets the
        same application back while it has not expired)."""
        return self._token_expires_at

    @property
    def application(self) -> dict[str, Any]:
        """The application resource as created by ``sign_in``."""
        if self._app is None:
            raise UcwaClientError(0, "NotSignedIn", None, "call sign_in first")
        return self._app

    # -- plumbing ------------------------------------------------------------------------

    async def _send(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if self._token is not None:
            headers["Authorization"] = f"Bearer {self._token}"
        response = await self._http.request(method, url, headers=headers, **kwargs)
        if not 200 <= response.status_code < 300:
            raise UcwaClientError.from_response(response)
        return response

    def _resolve(self, href: str) -> str:
        return urljoin(self._app_url, href) if self._app_url else href

    def _my_meetings(self) -> str:
        dashboard = self.application.get("_embedded", {}).get("onlineMeetings")
        if not isinstance(dashboard, dict):
            raise UcwaClientError(0, "MissingLink", None, "the application has no onlineMeetings")
        return self._resolve(_href(dashboard, "myOnlineMeetings"))

    # -- sign-in -------------------------------------------------------------------------

    async def sign_in(self, username: str, password: str) -> dict[str, Any]:
        """Discovery -> 401 challenge -> password grant -> user -> a new application."""
        root_url = str(self._http.base_url.join("/"))
        user_url = urljoin(root_url, _href(_object(await self._send("GET", root_url)), "user"))
        challenge = await self._http.get(user_url)
        if challenge.status_code != 401:
            raise UcwaClientError(
                challenge.status_code, "NoChallenge", None, "the user resource did not answer 401"
            )
        offer = msrtc_oauth(challenge.headers.get_list("www-authenticate"))
        if "href" not in offer:
            raise UcwaClientError(401, "NoChallenge", None, "no MsRtcOAuth token endpoint offered")
        if "password" not in offer.get("grant_type", "password").split(","):
            raise UcwaClientError(401, "unsupported_grant_type", None, "no password grant offered")
        form = {"grant_type": "password", "username": username, "password": password}
        granted = _object(await self._send("POST", urljoin(user_url, offer["href"]), data=form))
        token = granted.get("access_token")
        if not isinstance(token, str) or not token:
            raise UcwaClientError(
                0, "InvalidResponse", None, "the token answer has no access_token"
            )
        self._token = token
        lifetime = granted.get("expires_in")
        self._token_expires_at = (
            time.time() + lifetime if isinstance(lifetime, int | float) else None
        )
        user = _object(await self._send("GET", user_url))
        applications_url = urljoin(user_url, _href(user, "applications"))
        created = await self._send("POST", applications_url, json=self._application_input)
        app = _object(created)
        self._app_url = urljoin(applications_url, _href(app, "self"))
        self._app = app
        return app

    # -- meetings ------------------------------------------------------------------------

    async def create_meeting(self, **properties: Any) -> dict[str, Any]:
        """POST myOnlineMeetings, e.g. ``create_meeting(subject="…", attendees=[…])``."""
        return _object(await self._send("POST", self._my_meetings(), json=properties))

    async def list_meetings(self) -> list[dict[str, Any]]:
        """Every meeting of the user: scheduled ones, then the assigned one."""
        listing = _object(await self._send("GET", self._my_meetings()))
        embedded = listing.get("_embedded", {})
        found: list[dict[str, Any]] = []
        for rel in ("myOnlineMeeting", "myAssignedOnlineMeeting"):
            found += [m for m in embedded.get(rel, []) if isinstance(m, dict)]
        return found

    async def get_meeting(self, href: str) -> dict[str, Any]:
        return _object(await self._send("GET", self._resolve(href)))

    async def update_meeting(self, meeting: dict[str, Any], **changes: Any) -> dict[str, Any]:
        """PUT the meeting with ``changes`` applied, guarded by the body's etag: a meeting
        changed by someone else in between raises ``UcwaClientError`` (PreconditionFailed)."""
        etag = meeting.get("etag")
        if not isinstance(etag, str):
            raise UcwaClientError(0, "MissingEtag", None, "the meeting body carries no etag")
        body = {k: v for k, v in meeting.items() if not k.startswith("_")}
        body.update(changes)
        url = self._resolve(_href(meeting, "self"))
        response = await self._send("PUT", url, json=body, headers={"If-Match": f'"{etag}"'})
        return _object(response)

    async def delete_meeting(self, href: str) -> None:
        await self._send("DELETE", self._resolve(href))

    # -- teardown ------------------------------------------------------------------------

    async def close(self) -> None:
        """Delete the application (best effort) and release the connections."""
        try:
            if self._app is not None:
                await self._send("DELETE", self._app_url)
        except (UcwaClientError, httpx.HTTPError):
            pass  # expired or unreachable: nothing left to release on the server
        finally:
            self._app = None
            self._token = None
            await self._http.aclose()

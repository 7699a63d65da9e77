"""Every href the server mints is made here, from the route table (``url_path_for``).

Inside resources hrefs are host-relative (``/ucwa/…``); discovery documents carry absolute
ones on the origin the client used (honouring ``X-Forwarded-Proto``/``X-Forwarded-Host``).
Paths whose resources arrive in later releases (events, batch, conversations, invitations)
are derived from their parent's route here too, so the layout stays in one file.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote, urlencode

from starlette.requests import Request
from starlette.routing import Route

PathOf = Callable[[Mapping[str, str]], str]  # a route's path from its parameters

_TEMPLATES: dict[int, dict[str, PathOf]] = {}
# (scheme, host) as the request named them -> origin: the same few Host headers come back.
_ORIGINS: dict[tuple[str, str], str] = {}
_FIELD = re.compile(r"{(\w+)}")


def _compile(template: str) -> PathOf:
    """``/ucwa/…/{app_id}/…/{meeting_id}`` as a function of its parameters, the template split
    once: ``str.format_map`` parses it again on every call (~6k instructions for a meeting's
    path, against ~1k for this f-string; a POST makes three). Routes have at most three
    parameters."""
    parts = _FIELD.split(template)  # literal, name, literal, name, ..., literal
    if len(parts) == 1:
        return lambda params: template
    if len(parts) == 3:
        a, n1, b = parts
        return lambda params: f"{a}{params[n1]}{b}"
    if len(parts) == 5:
        a, n1, b, n2, c = parts
        return lambda params: f"{a}{params[n1]}{b}{params[n2]}{c}"
    if len(parts) == 7:
        a, n1, b, n2, c, n3, d = parts
        return lambda params: f"{a}{params[n1]}{b}{params[n2]}{c}{params[n3]}{d}"
    return template.format_map


def _templates(request: Request) -> dict[str, PathOf]:
    """Route name -> its path function, built once per router. Starlette's own
    ``url_path_for`` walks the whole table raising an exception per non-matching route."""
    router = request.scope["app"].router  # request.app, without the property call
    found = _TEMPLATES.get(id(router))
    if found is None:
        found = {r.name: _compile(r.path_format) for r in router.routes if isinstance(r, Route)}
        _TEMPLATES[id(router)] = found
    return found


_HOST = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?"
)


def _checked_origin(scheme: str, host: str, scope: Mapping[str, Any]) -> str:
    """``scheme://host`` from the request (first of a proxy's comma-separated values). The
    origin goes into every absolute href and into the quoted parameters of the 401 challenge:
    a scheme other than http/https, or a host that is not a host name, IP address or bracketed
    IPv6 address with an optional port (a ``"``, a space), is replaced by the server's own."""
    scheme = scheme.split(",")[0].strip().lower()
    host = host.split(",")[0].strip()
    if scheme not in ("http", "https"):
        scheme = str(scope.get("scheme", "http"))
    if not _HOST.fullmatch(host):
        server = scope.get("server") or ("localhost", 80)
        host = f"{server[0]}:{server[1]}"
    return f"{scheme}://{host}"


class Links:
    __slots__ = ("_request", "_paths", "_app_paths", "_origin")

    def __init__(self, request: Request) -> None:
        self._request = request
        self._paths: dict[str, PathOf] | None = None
        self._app_paths: dict[str, str] = {}
        self._origin: str | None = None

    def path(self, name: str, **params: str) -> str:
        """The path of route ``name``. Values are our own ids (never containing ``/``) or are
        percent-encoded by the caller."""
        paths = self._paths
        if paths is None:
            paths = self._paths = _templates(self._request)
        return paths[name](params)

    # -- discovery (absolute) ------------------------------------------------------------

    def origin(self) -> str:
        if self._origin is None:
            headers = self._request.headers
            scope = self._request.scope
            proto = headers.get("x-forwarded-proto")
            host = headers.get("x-forwarded-host") or headers.get("host")
            if not host:
                server = scope.get("server") or ("localhost", 80)
                host = f"{server[0]}:{server[1]}"
            scheme = proto or scope.get("scheme", "http")
            key = (scheme, host)
            found = _ORIGINS.get(key)
            if found is None:
                found = _checked_origin(scheme, host, scope)
                if len(_ORIGINS) >= 1024:
                    _ORIGINS.clear()
                _ORIGINS[key] = found
            self._origin = found
        return self._origin

    def absolute(self, name: str, query: dict[str, str] | None = None, **params: str) -> str:
        url = self.origin() + self.path(name, **params)
        return f"{url}?{urlencode(query)}" if query else url

    def root(self, domain: str) -> str:
        return self.absolute("autodiscover_root", {"originalDomain": domain})

    def user(self, domain: str | None) -> str:
        return self.absolute("user", {"originalDomain": domain} if domain else None)

    def user_self(self) -> str:
        return self.absolute("user_self")

    def xframe(self) -> str:
        return self.absolute("xframe")

    def token(self) -> str:
        return self.absolute("token")

    def applications_absolute(self) -> str:
        return self.absolute("applications")

    # -- under an application (relative) -------------------------------------------------

    def application(self, app_id: str) -> str:
        found = self._app_paths.get(app_id)
        if found is None:
            found = self.path("application", app_id=app_id)
            self._app_paths[app_id] = found
        return found

    def app_child(self, name: str, app_id: str, **params: str) -> str:
        return self.path(name, app_id=app_id, **params)

    def events(self, app_id: str, ack: int) -> str:
        return f"{self.path('events', app_id=app_id)}?ack={ack}"

    def batch(self, app_id: str) -> str:
        return self.path("batch", app_id=app_id)

    def photo(self, app_id: str, address: str) -> str:
        return self.path("photo", app_id=app_id, address=address)

    def communication_child(self, app_id: str, leaf: str) -> str:
        return f"{self.path('communication', app_id=app_id)}/{leaf}"

    def conversations(self, app_id: str) -> str:
        return f"{self.path('conversations', app_id=app_id)}?filter=active"

    # -- conversations and messaging -----------------------------------------------------

    def conv(self, app_id: str, conv_id: str, name: str = "conversation", **params: str) -> str:
        return self.path(name, app_id=app_id, conv_id=conv_id, **params)

    def participant(
        self, app_id: str, conv_id: str, address: str, name: str = "participant"
    ) -> str:
        return self.path(name, app_id=app_id, conv_id=conv_id, pkey=quote(address, "@"))

    def invitation(self, app_id: str, inv_id: str, name: str = "messaging_invitation") -> str:
        return self.path(name, app_id=app_id, inv_id=inv_id)

    def contact(self, app_id: str, address: str) -> str:
        return self.path("contact", app_id=app_id, address=quote(address, "@"))

    def meeting(self, app_id: str, meeting_id: str) -> str:
        return self.path("my_online_meeting", app_id=app_id, meeting_id=meeting_id)

    def extensions(self, app_id: str, meeting_id: str) -> str:
        return self.path("extensions", app_id=app_id, meeting_id=meeting_id)

    def extension(self, app_id: str, meeting_id: str, extension_id: str) -> str:
        return self.path(
            "extension", app_id=app_id, meeting_id=meeting_id, extension_id=quote(extension_id, "")
        )

    def join_url(self, base: str, user_part: str, meeting_id: str) -> str:
        """A user part may hold characters a path must escape (``%`` among them): quoted,
        so that the page's route decodes it back to the same user part."""
        root = base.rstrip("/") if base else self.origin()
        if not (user_part.isascii() and user_part.isalnum()):  # the common case: no quote()
            user_part = quote(user_part, "")
        path = self.path("join_page", user_part=user_part, meeting_id=meeting_id)
        return root + path

"""Reading the ``WWW-Authenticate: MsRtcOAuth href="…",grant_type="…"`` challenge."""

from __future__ import annotations

import re
from collections.abc import Iterable

_SCHEME = re.compile(r"(?:^|[\s,])MsRtcOAuth(?=\s)", re.IGNORECASE)
_PARAM = re.compile(r'\s*,?\s*([A-Za-z_][\w-]*)\s*=\s*(?:"([^"]*)"|([^\s,"]*))')


def msrtc_oauth(headers: Iterable[str]) -> dict[str, str]:
    """The parameters of the MsRtcOAuth scheme (names lower-cased); empty if it is absent.
    Schemes may share one header line; values may be quoted or bare."""
    for header in headers:
        found = _SCHEME.search(header)
        if found is None:
            continue
        params: dict[str, str] = {}
        position = found.end()
        while (match := _PARAM.match(header, position)) is not None:
            name, quoted, bare = match.groups()
            params.setdefault(name.lower(), quoted if quoted is not None else bare)
            position = match.end()
        return params
    return {}

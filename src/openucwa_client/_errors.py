"""The one exception the SDK raises for anything the server refused or answered unusably."""

from __future__ import annotations

from typing import Any

import httpx


class UcwaClientError(Exception):
    """A UCWA error: the HTTP ``status`` (0 when the answer was unusable rather than an error),
    the UCWA ``code`` and ``subcode`` (for OAuth failures: the ``error`` field), a ``message``."""

    def __init__(
        self, status: int, code: str, subcode: str | None = None, message: str = ""
    ) -> None:
        super().__init__(f"{status} {code}{f'/{subcode}' if subcode else ''}: {message}")
        self.status = status
        self.code = code
        self.subcode = subcode
        self.message = message

    @classmethod
    def from_response(cls, response: httpx.Response) -> UcwaClientError:
        """Read the error body: UCWA ``{"code","subcode","message"}``, OAuth ``{"error"}``,
        or anything else (then the code is the reason phrase, e.g. ``Unauthorized``)."""
        status = response.status_code
        fallback = response.reason_phrase.replace(" ", "") or str(status)
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("code"), str):
            subcode = body.get("subcode")
            return cls(
                status,
                body["code"],
                subcode if isinstance(subcode, str) else None,
                str(body.get("message", "")),
            )
        if isinstance(body, dict) and isinstance(body.get("error"), str):
            return cls(status, body["error"], None, str(body.get("error_description", "")))
        return cls(status, fallback, None, response.text[:200])

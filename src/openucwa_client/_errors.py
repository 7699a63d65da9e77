"""The one exception the SDK raises for anything the server refused or answered unusably."""

from __future__ import annotations

from typing import Any

import httpx


class UcwaClientError(Exception):
    """A UCWA error: the HTTP ``status`` (0 when the answer was unusable rather than an error),
    the UCWA ``code`` and ``subcode`` (for OAuth failures: the ``error`` field), a ``message``,
    and ``parameters``: what a 400 says of each property it refused, by name."""

    def __init__(
        self,
        status: int,
        code: str,
        subcode: str | None = None,
        message: str = "",
        parameters: dict[str, str] | None = None,
    ) -> None:
        text = f"{status} {code}{f'/{subcode}' if subcode else ''}: {message}"
        if parameters:
            text += " (" + "; ".join(f"{k}: {v}" for k, v in parameters.items()) + ")"
        super().__init__(text)
        self.status = status
        self.code = code
        self.subcode = subcode
        self.message = message
        self.parameters = dict(parameters or {})

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
            parameters = body.get("parameters")
            return cls(
                status,
                body["code"],
                subcode if isinstance(subcode, str) else None,
                str(body.get("message", "")),
                {str(k): str(v) for k, v in parameters.items()}
                if isinstance(parameters, dict)
                else None,
            )
        if isinstance(body, dict) and isinstance(body.get("error"), str):
            return cls(status, body["error"], None, str(body.get("error_description", "")))
        if status == 401:  # the challenge's body is an HTML page, not a message
            return cls(
                status,
                fallback,
                None,
                "the token is missing, expired or revoked: call sign_in again",
            )
        return cls(status, fallback, None, response.text[:200])

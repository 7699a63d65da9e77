"""uvicorn's httptools protocol, answering requests it cannot parse with the UCWA error body.

A request whose HTTP framing is broken (a Content-Length that is not a number, a malformed
request line or header, a header block too large) never reaches the application: the HTTP
parser refuses it and uvicorn answers ``400 text/plain "Invalid HTTP request received."``. Here
that answer is the documented UCWA error body instead (JSON: nothing readable said which format
the client wanted), still followed by closing the connection, since the rest of the stream
cannot be framed. Everything else is uvicorn's own protocol, unchanged.
"""

from __future__ import annotations

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from openucwa.representation import json_codec
from openucwa.representation.media_types import JSON
from openucwa.representation.resource import ErrorBody
from openucwa.web.respond import COMMON_HEADERS

UNPARSABLE = ErrorBody("BadRequest", None, "The HTTP request could not be parsed.")
_BODY = json_codec.encode_error(UNPARSABLE)
_HEAD = b"".join(
    [
        b"HTTP/1.1 400 Bad Request\r\n",
        *(
            f"{name.lower()}: {value}\r\n".encode("latin-1")
            for name, value in COMMON_HEADERS.items()
        ),
        f"content-type: {JSON}; charset=utf-8\r\n".encode("latin-1"),
        b"content-length: %d\r\n" % len(_BODY),
        b"connection: close\r\n",
    ]
)


class UcwaHttpToolsProtocol(HttpToolsProtocol):
    """Pass as ``uvicorn.run(..., http=UcwaHttpToolsProtocol)``."""

    def send_400_response(self, msg: str) -> None:
        default = b"".join(
            b"%s: %s\r\n" % (name, value) for name, value in self.server_state.default_headers
        )
        self.transport.write(_HEAD + default + b"\r\n" + _BODY)
        self.transport.close()

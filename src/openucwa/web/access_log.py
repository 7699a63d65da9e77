"""The access log (OPENUCWA_ACCESS_LOG) never writes credentials a client put in a query
string by mistake (``?access_token=cwt=…``, ``…/oauthtoken?password=…``): their values are
replaced before the line is formatted."""

from __future__ import annotations

import logging
import re

SECRET_PARAMETERS = ("access_token", "password", "cwt", "ms_rtc_renew", "client_secret")
_SECRET = re.compile(
    r"(?i)([?&](?:" + "|".join(SECRET_PARAMETERS) + r")=)[^&#\s]*",
)


def redact(path: str) -> str:
    return _SECRET.sub(r"\1***", path)


class RedactCredentials(logging.Filter):
    """For uvicorn's access records: (client, method, path with query, version, status)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            record.args = (*args[:2], redact(args[2]), *args[3:])
        return True

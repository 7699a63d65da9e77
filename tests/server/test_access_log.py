"""The access log (OPENUCWA_ACCESS_LOG) of a real server process."""

from __future__ import annotations

import time

import httpx

from tests.server.conftest import Servers


def test_the_access_log_never_writes_credentials_from_a_query_string(servers: Servers) -> None:
    server = servers.start(env={"OPENUCWA_ACCESS_LOG": "1", "OPENUCWA_LOG_LEVEL": "info"})
    with httpx.Client(base_url=server.url) as client:
        client.post(
            "/WebTicket/oauthtoken?grant_type=password&username=bmauldin@contoso.com"
            "&Password=hunter2-secret",
        )
        client.get("/ucwa/oauth/v1/applications?x=1&access_token=cwt=SECRETTOKEN")
    deadline = time.monotonic() + 5
    while "applications?" not in server.output() and time.monotonic() < deadline:
        time.sleep(0.05)
    out = server.output()
    assert "oauthtoken?" in out and "applications?" in out, out
    assert "hunter2" not in out and "SECRETTOKEN" not in out, out
    assert "Password=***" in out and "access_token=***" in out and "x=1" in out

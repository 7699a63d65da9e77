"""The XFrame relay page (spec §2.1.2): served with the allowed origins, and its script run
for real in Node.js with the browser objects it uses (window, location, XMLHttpRequest)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import httpx
import pytest

from openucwa.domain.clock import FakeClock
from openucwa.settings import Settings, SettingsError, from_env
from tests.api.meetings_support import running_app

HARNESS = Path(__file__).with_name("xframe_harness.js")
APP = "https://app.contoso.com"


def node() -> str:
    found = shutil.which("node")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("node is needed to run the XFrame script (it ships with this machine)")
        pytest.skip("node is not installed")
    return found


def relay(page: str, messages: list[dict[str, object]]) -> dict[str, list[list[object]]]:
    """Run the page's script in Node, deliver ``messages`` (origin + data), and return the
    requests it made and the answers it posted back."""
    script = re.search(r"<script>(.*)</script>", page, re.S)
    assert script is not None
    done = subprocess.run(
        [node(), str(HARNESS)],
        input=json.dumps({"script": script.group(1), "messages": messages}),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, list[list[object]]] = json.loads(done.stdout)
    return result


def message(origin: str, url: str, message_id: int) -> dict[str, object]:
    return {"origin": origin, "data": json.dumps({"url": url, "messageId": message_id})}


async def test_only_allowed_parents_and_only_this_server(
    settings: Settings, clock: FakeClock
) -> None:
    configured = from_env({"OPENUCWA_XFRAME_ORIGINS": f"{APP}, HTTPS://Portal.Contoso.com:443"})
    assert configured.xframe_origin_list == (APP, "https://portal.contoso.com")
    listed = replace(settings, xframe_origins=configured.xframe_origins)
    async with running_app(listed, clock) as (_, helpers):
        page = (await helpers.client.get("/Autodiscover/XFrame/XFrame.html")).text
    assert json.dumps([APP, "https://portal.contoso.com"]) in page
    result = relay(
        page,
        [
            message("https://evil.example", "/WebTicket/oauthtoken", 1),  # not allowed
            message(APP, "https://intranet.example/admin", 2),  # not this server
            message(APP, "//intranet.example/admin", 3),
            message(APP, "/ucwa/oauth/v1/applications", 4),
            message("https://portal.contoso.com", "http://127.0.0.1:8080/WebTicket/oauthtoken", 5),
        ],
    )
    assert result["opened"] == [
        ["GET", "http://127.0.0.1:8080/ucwa/oauth/v1/applications"],
        ["GET", "http://127.0.0.1:8080/WebTicket/oauthtoken"],
    ]
    assert [(json.loads(str(m))["messageId"], o) for m, o in result["posted"]] == [
        (4, APP),
        (5, "https://portal.contoso.com"),
    ]


async def test_without_a_list_any_parent_is_served(client: httpx.AsyncClient) -> None:
    page = (await client.get("/Autodiscover/XFrame/XFrame.html")).text
    assert "var ALLOWED = [];" in page
    result = relay(page, [message("https://anywhere.example", "/ucwa/x", 1)])
    assert result["opened"] == [["GET", "http://127.0.0.1:8080/ucwa/x"]]


@pytest.mark.parametrize(
    "value", ["app.contoso.com", "https://app.contoso.com/path", "ftp://x.example", "https://"]
)
def test_an_origin_that_is_not_one_is_refused(value: str) -> None:
    with pytest.raises(SettingsError, match="OPENUCWA_XFRAME_ORIGINS"):
        from_env({"OPENUCWA_XFRAME_ORIGINS": value})

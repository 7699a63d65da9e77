"""The PyPI package ``ucwa`` 0.3.0 (pyucwa: a bot-style UCWA client written by others for Skype
for Business Online, last released in 2017) used unchanged against the real server over real HTTP.

The package is a handful of functions (``ucwa.actions``) and an event dispatcher
(``ucwa.events.process_events``); its README has the user put a token and the server's origin
("resource") into ``instance.yml`` and ``redirect_uri`` into ``config.yml`` and run the
repository's ``app.py``, which registers an application, makes itself available, and loops over
the event channel handing ``sender[0]["events"]`` to ``process_events``. ``PackageBot`` below is
that ``app.py`` loop with the configuration passed as dicts instead of YAML files. The package's
own logic then accepts every incoming messagingInvitation, answers "hi" into every newly added
conversation, and hands incoming messages to the module-level ``MESSAGE_CALLBACK`` hook, which
this test sets to reply with the package's own ``send_message``. The second user (bill) is driven
with plain httpx.

Shims (only what its age makes unavoidable on today's Python; none touches its logic):

1. ``urllib.unquote`` / ``urllib.unquote_plus``: Python 2 names that Python 3 moved to
   ``urllib.parse``; ``ucwa.datauri`` and ``ucwa.events`` call them to decode message bodies.
   They are put back on the ``urllib`` module for the duration of the test.
2. Header values: every request of the package carries ``X-MS-Correlation-Id: <uuid.UUID>``.
   Python 2's httplib sent ``str(value)``; Python 3's http.client (and requests) only accept
   str/bytes and raise. ``_Py2HeaderRequests`` stands in for the ``requests`` module inside
   ``ucwa.actions`` and str()s header values the way httplib did. It also adds a request
   timeout (the package sets none) so that every wait of this test is bounded.
3. ``logging.warn`` (used for events the package does not handle) has been deprecated since
   Python 3.3 and emits a DeprecationWarning, which this project's pytest settings turn into an
   error; that one warning is ignored here.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
import urllib
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import ucwa.actions as actions
import ucwa.events as ucwa_events
import uvicorn

from openucwa.bootstrap import build, open_storage
from openucwa.domain.users import User
from openucwa.settings import Settings
from openucwa.storage.sql import migrate
from tests.conftest import CHEAP_PASSWORDS, USERS

REQUEST_TIMEOUT = 10.0  # seconds; the server holds an event P-GET for at most 1 s here
FLOW_DEADLINE = 15.0  # seconds for each phase of the conversation
ORIGIN = "http://127.0.0.1:5000"  # the package's config.yml redirect_uri (sent as Origin)
ONLINE = "https://webdir.online.lync.com"  # hard-coded in ucwa.actions.do_autodiscover


# -- the real server, in-process, on a free port ----------------------------------------------


async def _add_users(settings: Settings) -> None:
    storage = open_storage(settings)
    await storage.start()
    try:
        for uri, name, password in USERS.values():
            await storage.users.add(
                User(uri=uri, name=name, password_hash=CHEAP_PASSWORDS.hash(password))
            )
    finally:
        await storage.close()


@pytest.fixture(params=[False, True], ids=["mixed-senders", "one-sender-per-batch"])
def server_url(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """uvicorn serving the composition root on 127.0.0.1:<free port> in a background thread,
    with event batches as real servers cut them, and with ``one_sender_per_batch`` (the
    operator switch for clients that read only ``sender[0]``, as this package does)."""
    settings = Settings(
        database=f"sqlite:///{tmp_path / 'compat.db'}",
        domains="contoso.com",
        max_event_wait=1.0,
        one_sender_per_batch=request.param,
    )
    request.node.one_sender = request.param
    migrate(settings.database)
    asyncio.run(_add_users(settings))
    built = build(settings, passwords=CHEAP_PASSWORDS)
    config = uvicorn.Config(
        built.app, host="127.0.0.1", port=0, lifespan="on", log_level="warning",
        loop="asyncio", http="h11", ws="none",
    )  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="openucwa-compat", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20.0
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail("the server did not start")
        time.sleep(0.02)  # bounded readiness polling
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        assert not thread.is_alive(), "the server did not stop"


# -- shims ------------------------------------------------------------------------------------


class _Py2HeaderRequests:
    """Shim 2: ``requests`` as ``ucwa.actions`` uses it (get/post), with Python 2 httplib's
    str() of header values, plus a bounding timeout."""

    exceptions = requests.exceptions

    @staticmethod
    def _fix(kwargs: dict[str, Any]) -> dict[str, Any]:
        headers = kwargs.get("headers") or {}
        kwargs["headers"] = {
            k: v if isinstance(v, str | bytes) else str(v) for k, v in headers.items()
        }
        kwargs.setdefault("timeout", REQUEST_TIMEOUT)
        return kwargs

    def __init__(self, online: str | None = None) -> None:
        self.online = online  # where Skype for Business Online's discovery host points

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        if self.online is not None and url.startswith(ONLINE):
            url = self.online + url[len(ONLINE) :]  # what a DNS entry or a proxy does
        return requests.get(url, **self._fix(kwargs))

    def post(self, url: str, **kwargs: Any) -> requests.Response:
        return requests.post(url, **self._fix(kwargs))


@pytest.fixture
def shimmed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(urllib, "unquote", urllib.parse.unquote, raising=False)  # shim 1
    monkeypatch.setattr(urllib, "unquote_plus", urllib.parse.unquote_plus, raising=False)
    monkeypatch.setattr(actions, "requests", _Py2HeaderRequests())  # shim 2


# -- the package, driven the way its app.py drives it ------------------------------------------


class PackageBot:
    """``app.py`` of the package's repository, one event batch per ``step()``."""

    def __init__(self, resource: str, token: str) -> None:
        self.resource = resource
        self.token = token
        self.config = {"redirect_uri": ORIGIN}
        self.app = actions.register_application(resource, token, self.config)
        actions.set_available(resource, self.app["id"], token, self.config)
        self.next_url = resource + self.app["_links"]["events"]["href"]
        self.idle = False  # the last batch was empty
        self.conversations: list[str] = []  # hrefs of the conversations it was told about

    def step(self) -> None:
        events_stream = actions.oauth_stream_request(
            self.next_url, self.token, self.config["redirect_uri"]
        )
        with closing(events_stream):
            event_response = events_stream.json()
        comm_evt = event_response["sender"]
        self.idle = not comm_evt
        for sender in comm_evt:
            for event in sender["events"]:
                href = event["link"]["href"]
                if event["link"]["rel"] == "conversation" and href not in self.conversations:
                    self.conversations.append(href)
        if len(comm_evt) > 0:
            ucwa_events.process_events(comm_evt[0]["events"], self.resource, self.token,
                                       self.config)  # fmt: skip
        self.next_url = self.resource + event_response["_links"]["next"]["href"]

    def reply_with(self, make_reply: Callable[[str], str]) -> list[str]:
        """Install the package's MESSAGE_CALLBACK hook: answer every incoming message with the
        package's own send_message, as the commented-out example in ucwa/events.py does."""
        heard: list[str] = []

        def callback(inbound_message: str, thread_uri: str, resource: str) -> None:
            heard.append(inbound_message)
            actions.send_message(resource + thread_uri + "/messages", make_reply(inbound_message),
                                 self.token, self.config["redirect_uri"])  # fmt: skip

        ucwa_events.MESSAGE_CALLBACK = callback
        return heard


# -- the other user, with plain httpx -----------------------------------------------------------


class Bill:
    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        uri, _, password = USERS["bill"]
        token = client.post(
            "/WebTicket/oauthtoken",
            data={"grant_type": "password", "username": uri[4:], "password": password},
        )
        assert token.status_code == 200, token.text
        self.headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        app = client.post(
            "/ucwa/oauth/v1/applications",
            json={"UserAgent": "compat-bill", "EndpointId": "bill-1", "Culture": "en-US"},
            headers=self.headers,
        )
        assert app.status_code == 201, app.text
        self.app = app.json()
        self.next_url = str(self.app["_links"]["events"]["href"])
        self.events: list[dict[str, Any]] = []

    def poll(self) -> None:
        response = self.client.get(self.next_url, headers=self.headers)
        assert response.status_code == 200, response.text
        batch = response.json()
        self.events += [e for s in batch["sender"] for e in s["events"]]
        self.next_url = batch["_links"]["next"]["href"]

    def received(self) -> list[str]:
        """Incoming message texts, decoded from their plainMessage data URIs."""
        texts = []
        for event in self.events:
            message = event.get("_embedded", {}).get("message")
            if event["link"]["rel"] == "message" and message["direction"] == "Incoming":
                href = message["_links"]["plainMessage"]["href"]
                prefix = "data:text/plain;charset=utf-8,"
                assert href.startswith(prefix), href
                texts.append(urllib.parse.unquote_plus(href[len(prefix) :]))
        return texts

    def link(self, rel: str, type_: str) -> dict[str, Any]:
        found = [e for e in self.events if e["link"]["rel"] == rel and e["type"] == type_]
        assert found, (rel, type_, self.events)
        return found[-1]


def until(condition: Callable[[], bool], *steps: Callable[[], None]) -> None:
    """Run ``steps`` in turn (each bounded by the 1 s hold cap) until ``condition`` holds."""
    deadline = time.monotonic() + FLOW_DEADLINE
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        for step in steps:
            step()


def mishandled(caplog: pytest.LogCaptureFixture) -> list[str]:
    """Log lines showing the package failed on an event it knows (a shape it did not find)."""
    known = {f"Not sure how to process - {rel}" for rel in ucwa_events.EVENT_MAP}
    return [
        r.getMessage()
        for r in caplog.records
        if r.getMessage() in known or r.getMessage() in ("Failed message", "not an inbound message")
    ]


# -- the test -----------------------------------------------------------------------------------


@pytest.mark.usefixtures("shimmed")
@pytest.mark.filterwarnings("ignore:The 'warn' function is deprecated:DeprecationWarning")  # shim 3
def test_package_accepts_an_invitation_and_replies(
    server_url: str,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
) -> None:
    one_sender = request.node.one_sender
    monkeypatch.setattr(ucwa_events, "MESSAGE_CALLBACK", None)
    caplog.set_level(logging.DEBUG)
    with httpx.Client(base_url=server_url, timeout=REQUEST_TIMEOUT) as client:
        # The token the package's README has the user obtain and paste into instance.yml.
        uri, _, password = USERS["alice"]
        token = client.post(
            "/WebTicket/oauthtoken",
            data={"grant_type": "password", "username": uri[4:], "password": password},
        ).json()["access_token"]
        bot = PackageBot(server_url, token)
        heard = bot.reply_with(lambda text: f"You said: {text}")
        bot.step()  # the makeMeAvailable batch

        bill = Bill(client)
        start = client.post(
            bill.app["_embedded"]["communication"]["_links"]["startMessaging"]["href"],
            json={
                "operationId": "compat-1",
                "to": uri,
                "_links": {"message": {"href": "data:text/plain;charset=utf8,Hello+bot"}},
            },
            headers=bill.headers,
        )
        assert start.status_code == 201, start.text

        # The package accepts, and says "hi" into the new conversation.
        until(lambda: "hi" in bill.received(), bot.step, bill.poll)
        invitation = bill.link("messagingInvitation", "completed")
        assert invitation["status"] == "Success"
        # Let the package read everything so far. It only looks at sender[0]: in the accept
        # batch that is the conversation sender's "messaging updated" (the trace order), so
        # bill's first message, which comes later in the batch, never reaches its callback.
        until(lambda: bot.idle, bot.step)

        # Bill writes again; the package's MESSAGE_CALLBACK answers.
        messaging = client.get(
            invitation["_embedded"]["messagingInvitation"]["_links"]["messaging"]["href"],
            headers=bill.headers,
        ).json()
        sent = client.post(
            messaging["_links"]["sendMessage"]["href"],
            content=b"How are you?",
            headers={**bill.headers, "Content-Type": "text/plain; charset=UTF-8"},
        )
        assert sent.status_code == 201, sent.text
        until(lambda: "You said: How are you?" in bill.received(), bot.step, bill.poll)
        # With one sender per batch the package also reads bill's first message.
        assert heard == (["Hello bot", "How are you?"] if one_sender else ["How are you?"])
        expected = ["hi", "You said: Hello bot"] if one_sender else ["hi"]
        assert bill.received() == [*expected, "You said: How are you?"]

        # Bill ends the conversation; the package goes on reading its channel without trouble.
        conversation = invitation["_embedded"]["messagingInvitation"]["_links"]["conversation"]
        ended = client.delete(conversation["href"], headers=bill.headers)
        assert ended.status_code == 204
        until(lambda: bot.idle, bot.step)
        assert len(bot.conversations) == 1, bot.conversations
        gone = client.get(bot.conversations[0], headers={"Authorization": f"Bearer {token}"})
        assert gone.status_code == 200 and gone.json()["state"] == "Disconnected", gone.text
    assert mishandled(caplog) == []


def test_package_discovers_the_server_as_shipped(
    server_url: str, shimmed: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The package's discovery functions, which the README's sign-in runs before app.py: its
    hard-coded Skype for Business Online host is pointed at this server, and its lower-case
    path (``/autodiscover/autodiscoverservice.svc/root``) is sent as it is. Before, that path
    was 404: routes were matched case-sensitively (IIS, which hosts real servers, is not)."""
    monkeypatch.setattr(actions, "requests", _Py2HeaderRequests(online=server_url))
    xframe, user_url, resource = actions.do_autodiscover("contoso.com")
    assert resource == server_url
    assert user_url.startswith(f"{server_url}/Autodiscover/AutodiscoverService.svc/root/oauth/user")
    assert xframe.startswith(server_url + "/")
    token = httpx.post(
        f"{server_url}/WebTicket/oauthtoken",
        data={"grant_type": "password", "username": "alice", "password": USERS["alice"][2]},
    ).json()["access_token"]
    user = actions.do_user_discovery(resource, token, {"redirect_uri": ORIGIN})
    assert user["_links"]["applications"]["href"] == f"{server_url}/ucwa/oauth/v1/applications"

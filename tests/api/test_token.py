"""The OAuth token endpoint ``/WebTicket/oauthtoken`` (spec §2.1.6, CLIENT-COMPAT "Sign-in")."""

from __future__ import annotations

from urllib.parse import urlencode

import httpx
import pytest

from openucwa.domain.clock import FakeClock
from tests.conftest import USERS

TOKEN = "/WebTicket/oauthtoken"
USER = "/Autodiscover/AutodiscoverService.svc/root/oauth/user"
FORM = "application/x-www-form-urlencoded"
BACK_OFF_CEILING = 5 * 60  # the throttle never blocks longer than this


def form(who: str = "bill", *, bare: bool = False, **extra: str) -> dict[str, str]:
    uri, _, password = USERS[who]
    address = uri[4:]
    fields = {
        "grant_type": "password",
        "username": address.split("@")[0] if bare else address,
        "password": password,
    }
    fields.update(extra)
    return fields


def multipart(fields: dict[str, str], boundary: str = "----openucwa-test") -> tuple[bytes, str]:
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields.items()
    ]
    body = ("".join(parts) + f"--{boundary}--\r\n").encode()
    return body, f"multipart/form-data; boundary={boundary}"


async def post_form(
    client: httpx.AsyncClient, fields: dict[str, str], content_type: str = FORM
) -> httpx.Response:
    return await client.post(
        TOKEN, content=urlencode(fields).encode(), headers={"Content-Type": content_type}
    )


def assert_token(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].lower().startswith("application/json")
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    body = response.json()
    assert set(body) == {"access_token", "expires_in", "ms_rtc_identityscope", "token_type"}
    assert body["access_token"].startswith("cwt=")
    assert len(body["access_token"]) > 20
    assert body["expires_in"] == 28800
    assert body["ms_rtc_identityscope"] == "local"
    assert body["token_type"] == "Bearer"
    return str(body["access_token"])


def assert_oauth_error(response: httpx.Response, error: str) -> None:
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].lower().startswith("application/json")
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["pragma"] == "no-cache"
    body = response.json()
    assert body["error"] == error
    assert "access_token" not in body


async def assert_token_works(client: httpx.AsyncClient, token: str) -> None:
    response = await client.get(USER, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200


# -- success ------------------------------------------------------------------------------


@pytest.mark.parametrize("bare", [False, True], ids=["user@domain", "user"])
async def test_password_grant(client: httpx.AsyncClient, bare: bool) -> None:
    token = assert_token(await post_form(client, form("bill", bare=bare)))
    await assert_token_works(client, token)


@pytest.mark.parametrize(
    "content_type",
    [
        FORM,
        FORM + ";charset=UTF-8",
        FORM + "; charset=utf-8",
        FORM + ";charset='utf-8'",
        "Application/X-WWW-Form-Urlencoded",
    ],
)
async def test_form_content_types(client: httpx.AsyncClient, content_type: str) -> None:
    assert_token(await post_form(client, form("alice"), content_type))


async def test_httpx_data_form(client: httpx.AsyncClient) -> None:
    assert_token(await client.post(TOKEN, data=form("tosh")))


async def test_multipart_form(client: httpx.AsyncClient) -> None:
    body, content_type = multipart(form("bill"))
    response = await client.post(TOKEN, content=body, headers={"Content-Type": content_type})
    token = assert_token(response)
    await assert_token_works(client, token)


async def test_multipart_wrong_password(client: httpx.AsyncClient) -> None:
    body, content_type = multipart(form("bill", password="nope"))
    response = await client.post(TOKEN, content=body, headers={"Content-Type": content_type})
    assert_oauth_error(response, "invalid_grant")


async def test_extra_fields_are_tolerated(client: httpx.AsyncClient) -> None:
    fields = form("bill", charset="utf-8", resource="https://lyncweb.contoso.com", scope="all")
    assert_token(await post_form(client, fields))


async def test_username_case_and_sip_prefix_tolerated(client: httpx.AsyncClient) -> None:
    assert_token(await post_form(client, form("bill", username="BMauldin@Contoso.com")))
    assert_token(await post_form(client, form("bill", username="sip:bmauldin@contoso.com")))


async def test_field_names_any_case(client: httpx.AsyncClient) -> None:
    _, _, password = USERS["alice"]
    fields = {"Grant_Type": "password", "UserName": "alice@contoso.com", "Password": password}
    assert_token(await post_form(client, fields))


async def test_tokens_are_unique_per_sign_in(client: httpx.AsyncClient) -> None:
    tokens = {assert_token(await post_form(client, form("bill"))) for _ in range(5)}
    tokens.add(assert_token(await post_form(client, form("alice"))))
    assert len(tokens) == 6
    for token in tokens:
        await assert_token_works(client, token)


async def test_token_identifies_its_user(client: httpx.AsyncClient) -> None:
    token = assert_token(await post_form(client, form("alice")))
    response = await client.post(
        "/ucwa/oauth/v1/applications",
        json={"UserAgent": "t", "EndpointId": "e", "Culture": "en-US"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201
    assert response.json()["_embedded"]["me"]["uri"] == "sip:alice@contoso.com"


# -- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        (form("bill", password="wrong"), "invalid_grant"),
        (form("bill", password="BILL-PASS"), "invalid_grant"),
        (form("alice", password=USERS["bill"][2]), "invalid_grant"),
        (form("bill", username="nobody@contoso.com"), "invalid_grant"),
        (form("bill", username="nobody"), "invalid_grant"),
        (form("bill", username="bmauldin@fabrikam.com"), "invalid_grant"),
        (form("bill", username="not a sip address@@"), "invalid_grant"),
        ({"grant_type": "password", "username": "bmauldin@contoso.com"}, "invalid_request"),
        ({"grant_type": "password", "password": "bill-pass"}, "invalid_request"),
        (form("bill", password=""), "invalid_request"),
        (form("bill", username=""), "invalid_request"),
        ({"username": "bmauldin@contoso.com", "password": "bill-pass"}, "invalid_request"),
        (form("bill", grant_type=""), "invalid_request"),
        (form("bill", password="x" * 2000), "invalid_request"),
        ({"grant_type": "urn:microsoft.rtc:windows"}, "invalid_grant"),
        ({"grant_type": "client_credentials"}, "unsupported_grant_type"),
        ({"grant_type": "PASSWORD", "username": "bill", "password": "x"}, "unsupported_grant_type"),
        ({"grant_type": "urn:microsoft.rtc:bogus"}, "unsupported_grant_type"),
    ],
)
async def test_token_errors(client: httpx.AsyncClient, fields: dict[str, str], error: str) -> None:
    assert_oauth_error(await post_form(client, fields), error)


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"garbage", FORM),
        (b"\xff\xfe\x00\x01not-utf8=\xc3", FORM),
        (b"", FORM),
        (b"", ""),
        (b'{"grant_type":"password","username":"bill","password":"bill-pass"}', "application/json"),
        (b"&&&===&&&", FORM),
        (b"--x\r\nbroken multipart", "multipart/form-data; boundary=x"),
        (b"no boundary", "multipart/form-data"),
    ],
)
async def test_garbage_bodies(client: httpx.AsyncClient, body: bytes, content_type: str) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = await client.post(TOKEN, content=body, headers=headers)
    assert_oauth_error(response, "invalid_request")


async def test_too_many_fields(client: httpx.AsyncClient) -> None:
    fields = form("bill")
    fields.update({f"extra{i}": "x" for i in range(100)})
    assert_oauth_error(await post_form(client, fields), "invalid_request")


async def test_oversized_body(client: httpx.AsyncClient) -> None:
    fields = form("bill", padding="x" * (64 * 1024))
    assert_oauth_error(await post_form(client, fields), "invalid_request")


async def test_oversized_body_without_content_length(client: httpx.AsyncClient) -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        yield urlencode(form("bill")).encode()
        for _ in range(64):
            yield b"&pad=" + b"x" * 1024

    response = await client.post(TOKEN, content=chunks(), headers={"Content-Type": FORM})
    assert "content-length" not in response.request.headers
    assert_oauth_error(response, "invalid_request")


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
async def test_other_methods(client: httpx.AsyncClient, method: str) -> None:
    response = await client.request(method, TOKEN)
    assert response.status_code == 405
    assert response.json()["code"] == "MethodNotAllowed"
    assert response.headers["allow"] == "POST"


async def test_errors_then_success(client: httpx.AsyncClient) -> None:
    assert_oauth_error(await post_form(client, form("bill", password="x")), "invalid_grant")
    assert_token(await post_form(client, form("bill")))


# -- throttling ---------------------------------------------------------------------------


async def fail(client: httpx.AsyncClient, who: str, times: int, **extra: str) -> None:
    for _ in range(times):
        response = await post_form(client, form(who, password="wrong", **extra))
        assert_oauth_error(response, "invalid_grant")


async def test_throttle_blocks_after_five_failures(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    await fail(client, "bill", 5)
    blocked = await post_form(client, form("bill"))
    assert_oauth_error(blocked, "invalid_grant")
    # the other spelling of the same account is the same account
    assert_oauth_error(await post_form(client, form("bill", bare=True)), "invalid_grant")
    clock.advance(BACK_OFF_CEILING + 1)
    token = assert_token(await post_form(client, form("bill")))
    await assert_token_works(client, token)


async def test_throttle_does_not_block_before_five_failures(client: httpx.AsyncClient) -> None:
    await fail(client, "bill", 4)
    assert_token(await post_form(client, form("bill")))
    # a success clears the record: four more failures are free again
    await fail(client, "bill", 4)
    assert_token(await post_form(client, form("bill")))


async def test_throttle_counts_bare_and_full_names_together(
    client: httpx.AsyncClient,
) -> None:
    await fail(client, "alice", 3)
    await fail(client, "alice", 2, username="ALICE@contoso.com")
    assert_oauth_error(await post_form(client, form("alice")), "invalid_grant")


async def test_throttle_back_off_grows(client: httpx.AsyncClient, clock: FakeClock) -> None:
    await fail(client, "bill", 5)
    clock.advance(BACK_OFF_CEILING + 1)
    await fail(client, "bill", 1)  # checked again, wrong again: blocked again
    assert_oauth_error(await post_form(client, form("bill")), "invalid_grant")
    clock.advance(BACK_OFF_CEILING + 1)
    assert_token(await post_form(client, form("bill")))


async def test_throttle_is_per_account(client: httpx.AsyncClient) -> None:
    await fail(client, "bill", 8)
    assert_oauth_error(await post_form(client, form("bill")), "invalid_grant")
    assert_token(await post_form(client, form("alice")))
    assert_token(await post_form(client, form("tosh", bare=True)))


async def test_throttle_on_unknown_account_does_not_leak(client: httpx.AsyncClient) -> None:
    for _ in range(8):
        response = await post_form(client, form("bill", username="ghost@contoso.com"))
        assert_oauth_error(response, "invalid_grant")
    assert_token(await post_form(client, form("bill")))

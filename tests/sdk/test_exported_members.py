"""The SDK's public surface is pinned: a new public name is a deliberate change."""

import openucwa_client


def test_all_is_pinned() -> None:
    assert openucwa_client.__all__ == ["AsyncClient", "UcwaClientError"]


def test_every_public_name_is_in_all_and_defined_by_the_sdk() -> None:
    public = {name for name in vars(openucwa_client) if not name.startswith("_")}
    assert public == set(openucwa_client.__all__)
    for name in openucwa_client.__all__:
        assert getattr(openucwa_client, name).__module__.startswith("openucwa_client."), name

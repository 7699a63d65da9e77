"""Which peers count as trusted proxies (OPENUCWA_TRUSTED_PROXIES)."""

from __future__ import annotations

import pytest

from openucwa.web.proxies import TrustedProxies


def test_addresses_and_networks() -> None:
    proxies = TrustedProxies(["10.0.0.5", "192.168.0.0/16", "2001:db8::/32"])
    assert "10.0.0.5" in proxies and "10.0.0.6" not in proxies
    assert "192.168.40.2" in proxies and "192.169.0.1" not in proxies
    assert "2001:db8::7" in proxies and "2001:db9::7" not in proxies
    assert "::ffff:10.0.0.5" in proxies  # an IPv4 peer seen through a dual-stack socket
    for junk in ("", "proxy.local", "10.0.0.5:443", "testclient", None):
        assert junk not in proxies


def test_none_trusts_nobody() -> None:
    proxies = TrustedProxies()
    assert not proxies and "127.0.0.1" not in proxies


def test_a_bad_entry_is_refused() -> None:
    with pytest.raises(ValueError):
        TrustedProxies(["10.0.0.5", "abc"])

"""The reverse proxies whose ``X-Forwarded-For`` is believed (OPENUCWA_TRUSTED_PROXIES):
single addresses or networks in CIDR form (``10.0.0.5``, ``10.0.0.0/8``, ``::1``)."""

from __future__ import annotations

from collections.abc import Iterable
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network


class TrustedProxies:
    def __init__(self, entries: Iterable[str] = ()) -> None:
        """Raises ValueError for an entry that is neither an address nor a network."""
        self._networks = tuple(ip_network(e.strip(), strict=False) for e in entries)

    def __bool__(self) -> bool:
        return bool(self._networks)

    def __contains__(self, host: object) -> bool:
        """Whether ``host`` (a peer or X-Forwarded-For entry as text) is one of them;
        anything that is not an IP address is not."""
        if not self._networks or not isinstance(host, str):
            return False
        try:
            address: IPv4Address | IPv6Address = ip_address(host.strip())
        except ValueError:
            return False
        if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped  # a dual-stack socket's view of an IPv4 peer
        return any(address in network for network in self._networks)

"""The client address behind trusted proxies; by default no proxy is trusted."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from functools import lru_cache

from .config import IPNetwork

UNKNOWN = "unknown"
# Right-most hops are the ones our own proxies wrote; an attacker controls the left end.
MAX_HEADER_CHARS = 2048
MAX_HOPS = 32

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


@lru_cache(maxsize=4096)
def parse_ip(text: str) -> IPAddress | None:
    """The address in one hop (``1.2.3.4``, ``1.2.3.4:80``, ``[::1]:80``, ``"[::1]"``), or None."""
    value = text.strip().strip('"').strip()
    if not value or len(value) > 64:
        return None
    if value.startswith("["):
        end = value.find("]")
        if end == -1:
            return None
        value = value[1:end]
    elif value.count(":") == 1:
        value = value.split(":", 1)[0]
    if "%" in value:  # zone index: fe80::1%eth0
        value = value.split("%", 1)[0]
    try:
        address = ipaddress.ip_address(value)
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _forwarded_for(value: str) -> list[str]:
    """The ``for=`` values of an RFC 7239 ``Forwarded`` header, in order."""
    hops = []
    for element in value.split(","):
        for pair in element.split(";"):
            name, _, param = pair.partition("=")
            if name.strip().lower() == "for":
                hops.append(param)
    return hops


def _hops(header: str, forwarded: bool) -> list[str]:
    if len(header) > MAX_HEADER_CHARS:
        # Keep the right end; the first (partial) element is discarded.
        header = header[-MAX_HEADER_CHARS:].split(",", 1)[-1]
    hops = _forwarded_for(header) if forwarded else header.split(",")
    return hops[-MAX_HOPS:]


def _trusted(address: IPAddress, trusted: Sequence[IPNetwork]) -> bool:
    return any(address.version == net.version and address in net for net in trusted)


def resolve(
    peer: str | None,
    header: str | None,
    trusted: Sequence[IPNetwork],
    *,
    forwarded: bool = False,
) -> str:
    """The client address for a request that arrived from ``peer``.

    ``header`` is the value of X-Forwarded-For (or RFC 7239 Forwarded when
    ``forwarded``). It is read only when ``peer`` is a trusted proxy, walking
    from the right and skipping trusted hops; the first untrusted hop is the
    client. Garbage stops the walk at the last address we can vouch for.
    Never raises.
    """
    peer_address = parse_ip(peer) if peer else None
    if peer_address is None:
        return UNKNOWN if not peer else _clean(peer)
    if not trusted or not header or not _trusted(peer_address, trusted):
        return str(peer_address)
    client = peer_address
    for hop in reversed(_hops(header, forwarded)):
        address = parse_ip(hop)
        if address is None:
            break
        client = address
        if not _trusted(address, trusted):
            break
    return str(client)


def _clean(peer: str) -> str:
    # A peer that is not an IP (a unix socket path, a test client name): keep it short and safe.
    text = peer[:64]
    return text if text.isprintable() else UNKNOWN

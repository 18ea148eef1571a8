"""The demo's fixed world: its keys, accounts and visitors, and where their addresses are."""

from __future__ import annotations

import ipaddress
from typing import Any

# Not a secret: the demo prints it so that `secmon verify` can be tried on the demo's logs.
DEMO_AUDIT_KEY = "secmon-demo-audit-key-0f3a9c5e7b21d486-not-for-production"
WEBHOOK_SECRET = "secmon-demo-webhook-secret"  # noqa: S105 - the demo's own receiver
SCRAPER_USER_AGENT = "python-requests/2.32 (shop-scraper)"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
SITE_PASSWORD = "demo-site-password-4721"  # noqa: S105 - the demo accounts' password
ALICE_PASSWORD = "alice-wonderland-42"  # noqa: S105 - the shops' demo account
# The leaked e-mail addresses a credential-stuffing run tries.
STUFFED = [f"{name}@example.com" for name in (
    "jessica.m", "tom.h", "priya.k", "lee.w", "maria.g", "chen.y", "olga.p", "sam.r", "ana.l",
    "ben.t", "fatima.a", "george.b", "hana.s", "ivan.d", "julia.f", "kofi.o", "lena.v",
    "marco.n", "nina.e", "omar.z", "paula.c", "quinn.j", "rosa.u", "sven.i")]

# Documentation address ranges (RFC 5737), placed on the map for the demo.
LOCATIONS: dict[str, tuple[float, float, str, str]] = {
    "198.51.100.0/24": (52.52, 13.40, "DE", "Berlin"),  # the office
    "192.0.2.0/24": (-33.87, 151.21, "AU", "Sydney"),
    "203.0.113.0/25": (1.35, 103.82, "SG", "Singapore"),
    "203.0.113.128/25": (55.75, 37.62, "RU", "Moscow"),
}
_NETWORKS = [(ipaddress.ip_network(net), place) for net, place in LOCATIONS.items()]


def demo_location(ip: str) -> dict[str, Any] | None:
    """The demo's GEO_RESOLVER: where each documentation address range "is"."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    for network, (latitude, longitude, country, _) in _NETWORKS:
        if address in network:
            return {"latitude": latitude, "longitude": longitude, "country": country}
    return None

from __future__ import annotations

import ipaddress

import pytest

from secmon.clientip import UNKNOWN, parse_ip, resolve

PROXIES = (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("fd00::/8"))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("203.0.113.9", "203.0.113.9"),
        (" 203.0.113.9 ", "203.0.113.9"),
        ("203.0.113.9:51234", "203.0.113.9"),
        ("[2001:db8::1]:443", "2001:db8::1"),
        ('"[2001:db8::1]"', "2001:db8::1"),
        ("2001:db8::1", "2001:db8::1"),
        ("::ffff:192.0.2.1", "192.0.2.1"),
        ("fe80::1%eth0", "fe80::1"),
        ("unknown", None),
        ("_hidden", None),
        ("", None),
        ("[::1", None),
        ("999.1.1.1", None),
        ("1" * 100, None),
    ],
)
def test_parse_ip(text: str, expected: str | None) -> None:
    parsed = parse_ip(text)
    assert (str(parsed) if parsed else None) == expected


def test_no_trusted_proxies_means_the_peer_is_the_client() -> None:
    assert resolve("198.51.100.1", "1.2.3.4", ()) == "198.51.100.1"


def test_untrusted_peer_cannot_spoof() -> None:
    assert resolve("198.51.100.1", "1.2.3.4", PROXIES) == "198.51.100.1"


def test_walks_right_to_left_skipping_trusted_hops() -> None:
    # The left-most entry is whatever the client claimed; the right end is ours.
    header = "6.6.6.6, 203.0.113.9, 10.1.1.1, 10.2.2.2"
    assert resolve("10.0.0.5", header, PROXIES) == "203.0.113.9"


def test_all_hops_trusted_gives_the_left_most() -> None:
    assert resolve("10.0.0.5", "10.9.9.9, 10.1.1.1", PROXIES) == "10.9.9.9"


def test_garbage_stops_at_the_last_vouched_address() -> None:
    assert resolve("10.0.0.5", "1.2.3.4, unknown, 10.1.1.1", PROXIES) == "10.1.1.1"
    assert resolve("10.0.0.5", "nonsense", PROXIES) == "10.0.0.5"
    assert resolve("10.0.0.5", ",,,", PROXIES) == "10.0.0.5"


def test_ports_and_ipv6() -> None:
    assert resolve("fd00::1", "[2001:db8::7]:1234", PROXIES) == "2001:db8::7"
    assert resolve("10.0.0.5", "203.0.113.9:4711", PROXIES) == "203.0.113.9"


def test_forwarded_header() -> None:
    header = 'for=6.6.6.6;proto=https, for="[2001:db8::7]:1234";by=10.0.0.1, For=10.3.3.3'
    assert resolve("10.0.0.5", header, PROXIES, forwarded=True) == "2001:db8::7"


def test_huge_header_keeps_the_right_end() -> None:
    header = "1.1.1.1, " * 2000 + "203.0.113.9, 10.1.1.1"
    assert len(header) > 10_000
    assert resolve("10.0.0.5", header, PROXIES) == "203.0.113.9"


def test_huge_header_of_trusted_hops_is_bounded() -> None:
    header = ", ".join(["10.1.1.1"] * 5000)
    assert resolve("10.0.0.5", header, PROXIES) == "10.1.1.1"


@pytest.mark.parametrize("peer", [None, ""])
def test_missing_peer(peer: str | None) -> None:
    assert resolve(peer, "1.2.3.4", PROXIES) == UNKNOWN


def test_non_ip_peer_is_kept_short_and_printable() -> None:
    assert resolve("testclient", None, ()) == "testclient"
    assert resolve("bad\npeer", None, ()) == UNKNOWN


@pytest.mark.parametrize("junk", ["\x00" * 50, "[" * 3000, "::::::::", ";for=;for=", "\u2028"])
def test_never_raises(junk: str) -> None:
    assert resolve("10.0.0.5", junk, PROXIES, forwarded=True)
    assert resolve(junk, junk, PROXIES)

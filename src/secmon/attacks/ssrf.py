"""Server-side request forgery: a URL-valued parameter aimed at the server's own side.

Cloud metadata endpoints, loopback, private and link-local addresses (in every
spelling an URL parser accepts: decimal, octal, hex, short, IPv4-mapped IPv6),
internal host names, and schemes a server-side fetcher should never follow
(``file://``, ``gopher://``, ``dict://``, ...).
"""

from __future__ import annotations

import ipaddress
import re
import socket
import unicodedata

from .findings import Hit

_AUTHORITY_END = re.compile(r"[/?#\s]")
_URL = re.compile(r"\s*(?:(?P<scheme>[a-z][a-z0-9+.\-]{0,15}):)?//")
_BARE_HOST = re.compile(r"\s*(?P<host>[0-9.]{7,15}|[a-z0-9.\-]{1,64}\.internal)(?::[0-9]{1,5})?/")
_NUMERIC_HOST = re.compile(
    r"(?:0x[0-9a-f]{1,8}|[0-9]{1,12})(?:\.(?:0x[0-9a-f]{1,8}|[0-9]{1,12})){0,3}"
)
_FORBIDDEN_SCHEMES = frozenset({"file", "gopher", "dict", "ldap", "ldaps", "ldapi", "tftp",
                                "netdoc", "jar", "expect", "phar", "sftp", "smb", "fd"})
_METADATA_IPS = frozenset(ipaddress.ip_address(address) for address in (
    "169.254.169.254", "169.254.170.2", "169.254.170.23", "100.100.100.200", "192.0.0.192",
    "fd00:ec2::254", "fd00:ec2::23",
))
_METADATA_NAMES = frozenset({"metadata.google.internal", "metadata.goog", "metadata",
                             "instance-data", "instance-data.ec2.internal",
                             "metadata.azure.internal", "metadata.tencentyun.com"})
_INTERNAL_SUFFIXES = (".localhost", ".internal", ".local", ".localdomain", ".lan", ".intranet",
                      ".corp", ".home.arpa", ".localtest.me")
_INTERNAL_NAMES = frozenset({"localhost", "localtest.me", "ip6-localhost", "ip6-loopback",
                             "0", "broadcasthost"})
# Wildcard DNS services that resolve a name to the address written inside it.
_EMBEDDED_IP = re.compile(r"(?:^|[.\-])([0-9]{1,3}(?:[.\-][0-9]{1,3}){3})\.(?:nip\.io|sslip\.io|"
                          r"xip\.io|nip\.direct|traefik\.me|localtest\.me)$")
_EMBEDDING_SERVICES = ("nip.io", "sslip.io", "xip.io", "nip.direct", "traefik.me",
                       "localtest.me")
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _address(host: str) -> IPAddress | None:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        if _NUMERIC_HOST.fullmatch(host) is None:
            return None
        try:  # what inet_aton (so curl, browsers) accepts: 0177.1, 0x7f.1, 2130706433
            address = ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _internal(address: IPAddress) -> bool:
    return (address.is_loopback or address.is_private or address.is_link_local
            or address.is_unspecified or address.is_reserved)


def classify_host(host: str) -> Hit | None:
    """Whether a host name or address is one a server should not be made to fetch."""
    host = host.strip().strip("[]").rstrip(".").lower()
    if not host.isascii():
        host = unicodedata.normalize("NFKC", host)
    if "%" in host:  # IPv6 zone id
        host = host.split("%", 1)[0]
    if host in _METADATA_NAMES:
        return Hit("ssrf.cloud_metadata", "high", 0, 0)
    # Names end in a letter; addresses in a digit (or are hex, or IPv6).
    address = None
    if host[-1:].isdigit() or ":" in host or host.startswith("0x"):
        address = _address(host)
    elif host.endswith(_EMBEDDING_SERVICES):
        embedded = _EMBEDDED_IP.search(host)
        if embedded is not None:
            address = _address(embedded.group(1).replace("-", "."))
    if address is not None:
        if address in _METADATA_IPS:
            return Hit("ssrf.cloud_metadata", "high", 0, 0)
        if _internal(address):
            return Hit("ssrf.internal_host", "medium", 0, 0)
        return None
    if host in _INTERNAL_NAMES or host.endswith(_INTERNAL_SUFFIXES):
        return Hit("ssrf.internal_host", "medium", 0, 0)
    return None


def detect(text: str) -> Hit | None:
    """The first SSRF target in a URL-valued parameter (lowercase), or None."""
    if text.lstrip().startswith("jar:"):
        return Hit("ssrf.scheme", "high", 0, min(len(text), 40))
    url = _URL.match(text)
    if url is None:
        bare = _BARE_HOST.match(text)
        if bare is None:
            return None
        hit = classify_host(bare["host"])
        return None if hit is None else hit._replace(start=bare.start("host"), end=bare.end())
    scheme = url["scheme"]
    if scheme in _FORBIDDEN_SCHEMES:
        return Hit("ssrf.scheme", "high", 0, url.end())
    if scheme is not None and scheme.startswith("jar"):
        return Hit("ssrf.scheme", "high", 0, url.end())
    hit = None
    for host in _hosts(text[url.end():url.end() + 512]):
        hit = classify_host(host)
        if hit is not None:
            return hit._replace(start=0, end=min(len(text), url.end() + len(host) + 8))
    return None


def _hosts(rest: str) -> list[str]:
    """The host an URL parser reads after ``//``; and, where "\\" makes parsers disagree,
    the host a browser reads (one that takes "\\" for "/")."""
    authority = _AUTHORITY_END.split(rest, 1)[0]
    hosts = [_host(authority)]
    if "\\" in authority:
        hosts.append(_host(authority.split("\\", 1)[0]))
    return [host for host in hosts if host]


def _host(authority: str) -> str:
    host = authority.rsplit("@", 1)[-1]
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.split(":", 1)[0]

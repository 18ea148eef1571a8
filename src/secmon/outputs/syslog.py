"""Syslog output: RFC 5424 messages over UDP, TCP (RFC 6587 octet counting) or a Unix socket."""

from __future__ import annotations

import os
import re
import select
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from ..config import ConfigError
from ..formats._fields import text
from .base import common_options
from .queued import QueuedOutput
from .spool import SpoolLimits

if TYPE_CHECKING:
    from ..config import Settings

FACILITIES: dict[str, int] = {
    "kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6,
    "news": 7, "uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11, "ntp": 12, "security": 13,
    "console": 14, **{f"local{n}": 16 + n for n in range(8)},
}
DEFAULT_FACILITY = "auth"
# secmon level -> RFC 5424 severity (2 critical, 3 error, 4 warning, 6 informational).
SEVERITIES: dict[str, int] = {"info": 6, "warning": 4, "error": 3, "critical": 2}
DEFAULT_SD_ID = "secmon@32473"  # 32473: the example enterprise number of RFC 5612
TRANSPORTS = ("udp", "tcp", "unix")
SOCKET_TYPES = ("dgram", "stream")

_OPTIONS = (
    "transport", "host", "port", "path", "socket_type", "facility", "app_name", "hostname",
    "structured_data", "sd_id", "timeout", "max_message_size", "max_queue", "max_retries",
    "backoff", "backoff_max",
)
_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$")
_NOT_PRINTUSASCII = re.compile(r"[^\x21-\x7e]")
_NOT_SD_NAME = re.compile(r"[^\x21-\x7e]|[=\]\"]")


def header_field(value: Any, limit: int) -> str:
    """An RFC 5424 header field: printable US-ASCII, at most ``limit`` characters, or ``-``."""
    cleaned = _NOT_PRINTUSASCII.sub("_", str(value))[:limit] if value is not None else ""
    return cleaned or "-"


def sd_name(value: str) -> str:
    return _NOT_SD_NAME.sub("_", value)[:32] or "_"


def sd_value(value: Any) -> str:
    """A PARAM-VALUE: ``"``, ``\\`` and ``]`` escaped with a backslash (RFC 5424, 6.3.3)."""
    return text(value).replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def octet_frame(message: bytes) -> bytes:
    """RFC 6587 octet-counting framing: ``MSG-LEN SP SYSLOG-MSG``."""
    return b"%d %s" % (len(message), message)


@dataclass(frozen=True, slots=True)
class MessageFormat:
    """How one event becomes one RFC 5424 message (without transport framing)."""

    facility: int = FACILITIES[DEFAULT_FACILITY]
    hostname: str = "-"
    app_name: str = "-"
    structured_data: bool = False
    sd_id: str = DEFAULT_SD_ID

    def header(self, event: Mapping[str, Any]) -> bytes:
        level = event.get("level")
        severity = SEVERITIES.get(level, 5) if isinstance(level, str) else 5
        timestamp = event.get("timestamp")
        if not (isinstance(timestamp, str) and _RFC3339.match(timestamp)):
            timestamp = datetime.now(timezone.utc).isoformat(timespec="microseconds")
            timestamp = timestamp.replace("+00:00", "Z")
        return (
            f"<{self.facility * 8 + severity}>1 {timestamp} {self.hostname} {self.app_name} "
            f"{os.getpid()} {header_field(event.get('event_type'), 32)} "
        ).encode("ascii")

    def structured(self, event: Mapping[str, Any]) -> bytes:
        params = " ".join(
            f'{sd_name(str(key))}="{sd_value(value)}"'
            for key, value in event.items()
            if value is not None and key != "event"
        )
        element = f"[{self.sd_id} {params}]" if params else f"[{self.sd_id}]"
        return element.encode("utf-8", "backslashreplace")

    def message(self, event: Mapping[str, Any], body: bytes | None = None) -> bytes:
        """The whole message. Without ``body`` the fields go in structured data and the
        human text is the MSG; with it, SD is ``-`` and ``body`` (a rendered record) is MSG.
        MSG carries no BOM (RFC 5424 MSG-ANY): JSON and CEF readers would choke on one."""
        if body is not None:
            return self.header(event) + b"- " + body
        text_message = event.get("event")
        msg = text(text_message).encode("utf-8", "backslashreplace") if text_message else b""
        return self.header(event) + self.structured(event) + (b" " + msg if msg else b"")


class _Endpoint:
    """Where messages go: a (host, port) resolved when a socket is made, or a Unix path."""

    def __init__(self, kind: int, *, host: str | None = None, port: int = 0,
                 path: str | None = None, timeout: float = 5.0) -> None:
        self.kind = kind
        self.host = host
        self.port = port
        self.path = path
        self.timeout = timeout
        self._sock: socket.socket | None = None
        self._pid = -1
        self.address: Any = None

    def _new_socket(self) -> socket.socket:
        if self.path is not None:
            family, self.address = socket.AF_UNIX, self.path
        else:
            # Resolved here, in the worker, so a name that does not resolve yet (DNS at boot)
            # is retried like any other delivery failure.
            family, _, _, _, self.address = socket.getaddrinfo(self.host, self.port,
                                                               type=self.kind)[0]
        sock = socket.socket(family, self.kind)
        sock.settimeout(self.timeout)
        return sock

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()


class _Datagram(_Endpoint):
    """UDP or a Unix datagram socket (like /dev/log): one message per datagram."""

    def __init__(self, *, max_size: int, **kwargs: Any) -> None:
        super().__init__(socket.SOCK_DGRAM, **kwargs)
        self.max_size = max_size

    def send(self, message: bytes) -> bool:
        """Send one message; returns whether it had to be truncated to ``max_size``."""
        truncated = len(message) > self.max_size
        if truncated:
            message = message[: self.max_size].decode("utf-8", "ignore").encode("utf-8")
        try:
            if self._sock is None or self._pid != os.getpid():
                self._sock, self._pid = self._new_socket(), os.getpid()
            self._sock.sendto(message, self.address)
        except OSError:
            self.close()
            raise
        return truncated


class _Stream(_Endpoint):
    """TCP or a Unix stream socket, octet-counted (RFC 6587); reconnects after any failure."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(socket.SOCK_STREAM, **kwargs)
        self.connects = 0

    def send(self, message: bytes) -> bool:
        try:
            self._connected().sendall(octet_frame(message))
        except OSError:
            self.close()
            raise
        return False

    def _connected(self) -> socket.socket:
        if self._sock is not None and (self._pid != os.getpid() or _peer_closed(self._sock)):
            # After a fork the connection belongs to the parent; a closed peer would
            # swallow the next message silently.
            self.close()
        if self._sock is None:
            sock = self._new_socket()
            try:
                sock.connect(self.address)
            except OSError:
                sock.close()
                raise
            self._sock, self._pid = sock, os.getpid()
            self.connects += 1
        return self._sock


def _peer_closed(sock: socket.socket) -> bool:
    """A syslog receiver never writes back: a readable socket means EOF or a reset."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True


class SyslogOutput(QueuedOutput):
    """RFC 5424 syslog behind the queue: ``handle`` only formats and enqueues."""

    type_name = "syslog"

    def __init__(self, *, transport: _Datagram | _Stream, format: MessageFormat,
                 **kwargs: Any) -> None:
        if transport.path is not None:
            where = f"unix {transport.path}"
        else:
            kind = "udp" if isinstance(transport, _Datagram) else "tcp"
            where = f"{kind} {transport.host}:{transport.port}"
        super().__init__(target=f"syslog {where}", **kwargs)
        self.transport = transport
        self.format = format
        self.counters["truncated"] = 0

    def prepare(self, event: dict[str, Any], rendered: dict[int, bytes]) -> Any:
        if self.format.structured_data:
            return self.format.message(event)
        return self.format.message(event, super().prepare(event, rendered))

    def deliver(self, batch: list[Any]) -> None:
        for message in batch:
            if self.transport.send(message):
                with self._lock:
                    self.counters["truncated"] += 1

    def stats(self) -> dict[str, int]:
        stats = super().stats()
        if isinstance(self.transport, _Stream):
            stats["connects"] = self.transport.connects
        return stats

    def close(self, timeout: float = 5.0) -> None:
        super().close(timeout)
        self.transport.close()


def build(key: str, spec: Mapping[str, Any], settings: Settings) -> SyslogOutput:
    name, renderer, accepts = common_options(key, spec, settings, _OPTIONS)
    transport_name = _choice(key, spec, "transport", TRANSPORTS, "udp")
    timeout = _number(key, spec, "timeout", 5.0)
    endpoint: dict[str, Any] = {"timeout": timeout}
    if transport_name == "unix":
        for option in ("host", "port"):
            if option in spec:
                raise ConfigError(f"{key}.{option}", "not used with transport 'unix' (use path)")
        path = spec.get("path", "/dev/log")
        if not isinstance(path, (str, os.PathLike)) or not os.fspath(path):
            raise ConfigError(f"{key}.path", "expected the path of a Unix socket")
        endpoint["path"] = os.fspath(path)
        socket_type = _choice(key, spec, "socket_type", SOCKET_TYPES, "dgram")
    else:
        for option in ("path", "socket_type"):
            if option in spec:
                raise ConfigError(f"{key}.{option}", "only used with transport 'unix'")
        host = spec.get("host", "127.0.0.1")
        if not isinstance(host, str) or not host.strip() or any(c.isspace() for c in host):
            raise ConfigError(f"{key}.host", f"expected a host name or IP address, got {host!r}")
        port = spec.get("port", 514)
        if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
            raise ConfigError(f"{key}.port", f"expected a port number 1-65535, got {port!r}")
        endpoint.update(host=host, port=port)
        socket_type = "dgram" if transport_name == "udp" else "stream"
    transport: _Datagram | _Stream
    if socket_type == "dgram":
        max_size = _integer(key, spec, "max_message_size", 8192, minimum=480)
        transport = _Datagram(max_size=max_size, **endpoint)
    else:
        if "max_message_size" in spec:
            raise ConfigError(f"{key}.max_message_size", "only used with datagram sockets")
        transport = _Stream(**endpoint)
    structured_data = _boolean(key, spec, "structured_data", False)
    if structured_data and "format" in spec:
        raise ConfigError(
            f"{key}.format", "not used with structured_data (the fields go in structured data)"
        )
    message_format = MessageFormat(
        facility=_facility(key, spec.get("facility", DEFAULT_FACILITY)),
        hostname=header_field(_string(key, spec, "hostname", socket.gethostname()), 255),
        app_name=header_field(_string(key, spec, "app_name", settings.app_name), 48),
        structured_data=structured_data,
        sd_id=_sd_id(key, spec.get("sd_id", DEFAULT_SD_ID)),
    )
    return SyslogOutput(
        transport=transport,
        format=message_format,
        name=name,
        renderer=renderer,
        accepts=accepts,
        max_queue=_integer(key, spec, "max_queue", 10_000, minimum=1),
        max_retries=_integer(key, spec, "max_retries", 5, minimum=0),
        backoff_base=_number(key, spec, "backoff", 0.5),
        backoff_max=_number(key, spec, "backoff_max", 30.0),
        spool=SpoolLimits.from_settings(settings),
    )


def _choice(key: str, spec: Mapping[str, Any], option: str, allowed: tuple[str, ...],
            default: str) -> str:
    value = spec.get(option, default)
    if value not in allowed:
        raise ConfigError(f"{key}.{option}", f"expected one of {', '.join(allowed)}, got {value!r}")
    return str(value)


def _facility(key: str, value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 23:
        return value
    if isinstance(value, str) and value.lower() in FACILITIES:
        return FACILITIES[value.lower()]
    raise ConfigError(
        f"{key}.facility", f"expected a facility name ({', '.join(FACILITIES)}) or 0-23, "
        f"got {value!r}"
    )


def _sd_id(key: str, value: Any) -> str:
    if not isinstance(value, str) or not value or sd_name(value) != value:
        raise ConfigError(
            f"{key}.sd_id",
            "expected an SD-ID of 1-32 printable ASCII characters without '=', ']', '\"' "
            "or spaces, such as 'secmon@<your enterprise number>'",
        )
    return value


def _string(key: str, spec: Mapping[str, Any], option: str, default: str) -> str:
    value = spec.get(option, default)
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{key}.{option}", "expected a non-empty string")
    return value


def _boolean(key: str, spec: Mapping[str, Any], option: str, default: bool) -> bool:
    value = spec.get(option, default)
    if not isinstance(value, bool):
        raise ConfigError(f"{key}.{option}", f"expected true or false, got {value!r}")
    return value


def _integer(key: str, spec: Mapping[str, Any], option: str, default: int, *,
             minimum: int) -> int:
    value = spec.get(option, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{key}.{option}", f"expected an integer >= {minimum}, got {value!r}")
    return value


def _number(key: str, spec: Mapping[str, Any], option: str, default: float) -> float:
    value = spec.get(option, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ConfigError(f"{key}.{option}", f"expected a positive number, got {value!r}")
    return float(value)

"""Syslog output: RFC 5424 messages, settings, and delivery over UDP, TCP and Unix sockets."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import secmon
from secmon.config import ConfigError
from secmon.outputs.syslog import (
    FACILITIES,
    MessageFormat,
    SyslogOutput,
    octet_frame,
    sd_name,
)
from secmon.pipeline import Pipeline

from .rfc5424 import Message, deframe, parse

EVENT: dict[str, Any] = {
    "timestamp": "2024-05-01T12:00:00.123456Z",
    "level": "warning",
    "event_type": "authn_login_fail",
    "category": "authentication",
    "outcome": "failure",
    "event": "login failed for user #5e88 (reason: bad \"password\" [x])",
    "app": "shop",
    "username_hash": "5e88",
    "reason": 'bad "password" [x] \\ ]',
    "source_ip": "203.0.113.9",
    "changes": {"a": [1, 2]},
}


def _free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class StreamServer:
    """A listening stream socket that keeps what each connection sent."""

    def __init__(self, family: int = socket.AF_INET, address: Any = ("127.0.0.1", 0),
                 read: bool = True) -> None:
        self.family, self.read = family, read
        self.listener = socket.socket(family, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(address)
        self.listener.listen(16)
        self.address = self.listener.getsockname()
        self.received: list[bytearray] = []
        self.connections: list[socket.socket] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            buffer = bytearray()
            with self._lock:
                self.connections.append(conn)
                self.received.append(buffer)
            if self.read:
                threading.Thread(target=self._read, args=(conn, buffer), daemon=True).start()

    def _read(self, conn: socket.socket, buffer: bytearray) -> None:
        while True:
            try:
                data = conn.recv(65536)
            except OSError:
                return
            if not data:
                return
            with self._lock:
                buffer.extend(data)

    def messages(self) -> list[bytes]:
        with self._lock:
            return [message for data in self.received for message in deframe(bytes(data))]

    def wait_for(self, count: int, timeout: float = 10.0) -> list[bytes]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                messages = self.messages()
            except ValueError:
                messages = []  # a frame still arriving
            if len(messages) >= count:
                return messages
            time.sleep(0.02)
        raise AssertionError(f"expected {count} messages, got {self.messages()!r}")

    def drop_connections(self) -> None:
        with self._lock:
            for conn in self.connections:
                conn.shutdown(socket.SHUT_RDWR)
                conn.close()
            self.connections.clear()

    def close(self) -> None:
        self.listener.close()
        self.drop_connections()


@pytest.fixture
def tcp_server() -> Iterator[StreamServer]:
    server = StreamServer()
    yield server
    server.close()


@pytest.fixture
def udp_socket() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(10)
    yield sock
    sock.close()


def _configure(**output: Any) -> Pipeline:
    return secmon.configure(environment="test", app_name="shop", outputs=[
        {"type": "syslog", "name": "siem", **output}
    ])


def _stats() -> dict[str, int]:
    return {key.split(".")[-1]: value for key, value in secmon.stats().items()
            if key.startswith("output.siem.")}


# -- the message ----------------------------------------------------------------------------


@pytest.mark.parametrize(("level", "severity"), [
    ("info", 6), ("warning", 4), ("error", 3), ("critical", 2),
])
def test_priority_is_facility_and_severity(level: str, severity: int) -> None:
    message = parse(MessageFormat(facility=FACILITIES["local3"]).message(
        {**EVENT, "level": level}, b"{}"))
    assert (message.facility, message.severity) == (19, severity)


def test_header_fields() -> None:
    fmt = MessageFormat(hostname="web-1.example.com", app_name="shop")
    message = parse(fmt.message(EVENT, b'{"a":1}'))
    assert message.timestamp == "2024-05-01T12:00:00.123456Z"
    assert (message.hostname, message.app_name, message.msgid) == (
        "web-1.example.com", "shop", "authn_login_fail")
    assert message.procid.isdigit()
    assert message.structured_data == []
    assert message.msg == b'{"a":1}'


def test_a_missing_or_odd_timestamp_is_replaced_by_now() -> None:
    message = parse(MessageFormat().message({**EVENT, "timestamp": "yesterday"}, b"x"))
    assert message.timestamp.startswith(time.strftime("%Y-", time.gmtime()))


def test_structured_data_escapes_param_values() -> None:
    message = parse(MessageFormat(structured_data=True).message(EVENT))
    params = message.params("secmon@32473")
    assert params["reason"] == EVENT["reason"]
    assert params["source_ip"] == "203.0.113.9"
    assert json.loads(params["changes"]) == {"a": [1, 2]}
    assert "event" not in params
    assert message.msg.decode() == EVENT["event"]


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(min_size=1, max_size=40), st.text(), max_size=6), st.text())
def test_any_field_text_stays_one_message(extra: dict[str, str], text: str) -> None:
    event = {**EVENT, **extra, "event": text}
    framed = octet_frame(MessageFormat(structured_data=True).message(event))
    (single,) = deframe(framed)
    message = parse(single)
    ((sd_id, params),) = message.structured_data
    assert sd_id == "secmon@32473"
    compact = {"separators": (",", ":")}
    assert params == [
        (sd_name(key), value if isinstance(value, str) else json.dumps(value, **compact))
        for key, value in event.items() if key != "event"
    ]
    assert message.msg.decode() == text


@settings(max_examples=200, deadline=None)
@given(st.text(), st.text())
def test_header_fields_stay_valid_for_any_text(app_name: str, event_type: str) -> None:
    from secmon.outputs.syslog import header_field

    fmt = MessageFormat(app_name=header_field(app_name, 48), hostname=header_field("h o", 255))
    message = parse(fmt.message({**EVENT, "event_type": event_type}, b"body"))
    assert message.hostname == "h_o"
    assert message.msg == b"body"


def test_an_event_with_no_fields_has_an_empty_sd_element() -> None:
    message = parse(MessageFormat(structured_data=True).message({"event": "only text"}))
    assert message.structured_data == [("secmon@32473", [])]
    assert (message.msgid, message.severity, message.msg) == ("-", 5, b"only text")


def test_octet_counting_counts_bytes_not_characters() -> None:
    assert octet_frame("é€".encode()) == b"5 " + "é€".encode()


# -- settings -------------------------------------------------------------------------------


@pytest.mark.parametrize(("spec", "key"), [
    ({"transport": "carrier-pigeon"}, "transport"),
    ({"port": 0}, "port"),
    ({"port": "514"}, "port"),
    ({"port": True}, "port"),
    ({"host": ""}, "host"),
    ({"host": "two words"}, "host"),
    ({"facility": "printer"}, "facility"),
    ({"facility": 24}, "facility"),
    ({"transport": "unix", "port": 514}, "port"),
    ({"transport": "tcp", "path": "/dev/log"}, "path"),
    ({"transport": "unix", "socket_type": "seqpacket"}, "socket_type"),
    ({"transport": "tcp", "max_message_size": 4096}, "max_message_size"),
    ({"max_message_size": 100}, "max_message_size"),
    ({"structured_data": "yes"}, "structured_data"),
    ({"structured_data": True, "format": "cef"}, "format"),
    ({"sd_id": "has space"}, "sd_id"),
    ({"timeout": 0}, "timeout"),
    ({"max_retries": -1}, "max_retries"),
    ({"app_name": ""}, "app_name"),
    ({"format": "xml"}, "format"),
    ({"colour": "red"}, "colour"),
])
def test_bad_settings_name_the_key(spec: dict[str, Any], key: str, log_dir: Path) -> None:
    with pytest.raises(ConfigError) as info:
        secmon.configure(environment="test", log_dir=log_dir, outputs=[
            {"type": "file", "path": "all.log"}, {"type": "syslog", **spec},
        ])
    assert info.value.key == f"OUTPUTS[1].{key}"


# -- delivery -------------------------------------------------------------------------------


def test_udp(udp_socket: socket.socket) -> None:
    _configure(port=udp_socket.getsockname()[1], facility="local0", hostname="web-1")
    secmon.login_failed(username="bob", reason="bad password")
    secmon.flush()
    message = parse(udp_socket.recv(65535))
    assert (message.facility, message.severity) == (16, 4)
    assert (message.hostname, message.app_name, message.msgid) == (
        "web-1", "shop", "authn_login_fail")
    body = json.loads(message.msg)
    assert body["event_type"] == "authn_login_fail"
    assert body["reason"] == "bad password"
    assert "bob" not in message.msg.decode()
    assert _stats() == {"enqueued": 1, "sent": 1, "retried": 0, "dropped": 0, "truncated": 0,
                        "spooled": 0}


def test_udp_messages_over_the_size_limit_are_truncated(udp_socket: socket.socket) -> None:
    _configure(port=udp_socket.getsockname()[1], max_message_size=480)
    secmon.access_denied(reason="é" * 2000)
    secmon.flush()
    data = udp_socket.recv(65535)
    assert len(data) <= 480
    assert parse(data).msgid == "authz_fail"
    data.decode("utf-8")  # cut on a character boundary
    assert _stats()["truncated"] == 1


@pytest.mark.parametrize("output_format", ["json", "ecs", "ocsf", "cef"])
def test_tcp_octet_counted_in_each_format(tcp_server: StreamServer, output_format: str) -> None:
    _configure(transport="tcp", port=tcp_server.address[1], format=output_format)
    for number in range(20):
        secmon.access_denied(resource_type="invoice", resource_id=number, reason="ünïcode ✓")
    secmon.flush()
    messages = [parse(data) for data in tcp_server.wait_for(20)]
    assert [m.msgid for m in messages] == ["authz_fail"] * 20
    if output_format == "cef":
        assert all(m.msg.startswith(b"CEF:0|secmon|") for m in messages)
    else:
        assert all(isinstance(json.loads(m.msg), dict) for m in messages)
    assert _stats()["sent"] == 20
    assert _stats()["connects"] == 1


def test_tcp_structured_data(tcp_server: StreamServer) -> None:
    _configure(transport="tcp", port=tcp_server.address[1], structured_data=True,
               sd_id="secmon@99999")
    secmon.access_denied(resource_type="invoice", resource_id=7, reason='quote " bracket ]')
    secmon.flush()
    (data,) = tcp_server.wait_for(1)
    message: Message = parse(data)
    params = message.params("secmon@99999")
    assert params["reason"] == 'quote " bracket ]'
    assert params["resource_id"] == "7"
    assert message.msg.startswith(b"access denied")


def test_tcp_reconnects_when_the_receiver_closes_the_connection(
    tcp_server: StreamServer,
) -> None:
    _configure(transport="tcp", port=tcp_server.address[1], backoff=0.05)
    secmon.emit("authz_fail", reason="first")
    secmon.flush()
    tcp_server.wait_for(1)
    tcp_server.drop_connections()
    time.sleep(0.2)  # let the close reach the client socket
    for number in range(5):
        secmon.emit("authz_fail", reason=f"after {number}")
    secmon.flush()
    messages = tcp_server.wait_for(6)
    reasons = [json.loads(parse(m).msg)["reason"] for m in messages]
    assert reasons == ["first"] + [f"after {n}" for n in range(5)]
    assert _stats()["connects"] == 2
    assert _stats()["dropped"] == 0


def test_tcp_receiver_down_spools_and_delivers_everything_in_order(
    capfd: pytest.CaptureFixture[str],
) -> None:
    port = _free_port(socket.SOCK_STREAM)
    pipeline = _configure(transport="tcp", port=port, max_retries=2, backoff=0.01,
                          backoff_max=0.05, timeout=1)
    output = pipeline.outputs[0]
    assert isinstance(output, SyslogOutput)
    for n in range(3):
        secmon.emit("authz_fail", reason=f"nobody listening {n}")
    secmon.flush(timeout=10)
    stats = _stats()
    assert (stats["sent"], stats["dropped"], stats["spooled"]) == (0, 0, 4)  # and the report
    assert stats["retried"] == 2  # the first message's; the others wait behind it untried
    err = capfd.readouterr().err
    assert err.count(f"secmon: output siem cannot write to syslog tcp 127.0.0.1:{port}") == 1
    server = StreamServer(address=("127.0.0.1", port))
    try:
        secmon.emit("authz_fail", reason="back")  # behind the three
        deadline = time.monotonic() + 10
        while output.health.degraded:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        secmon.flush(timeout=10)
        events = [json.loads(parse(m).msg) for m in server.messages()]
        # The outage's own reports came through this output too, in their place.
        assert [e["reason"] for e in events if e["event_type"] == "authz_fail"] == [
            f"nobody listening {n}" for n in range(3)] + ["back"]
        [enabled] = [e for e in events if e["event_type"] == "sys_monitor_enabled"]
        assert enabled["spooled_records"] >= 4 and enabled["lost_records"] == 0
        assert _stats()["spooled"] == 0 and _stats()["dropped"] == 0
    finally:
        server.close()


def test_a_stuck_receiver_never_blocks_the_request_path() -> None:
    server = StreamServer(read=False)  # accepts, never reads: the send buffer fills up
    try:
        _configure(transport="tcp", port=server.address[1], max_queue=10, timeout=30)
        started = time.monotonic()
        for _ in range(2000):
            secmon.emit("authz_fail", reason="x" * 2000)
        elapsed = time.monotonic() - started
        stats = _stats()
        assert stats["enqueued"] == 2000
        assert stats["dropped"] > 0
        assert elapsed < 10, elapsed  # generous: only formatting runs on this thread
    finally:
        server.close()


def test_unix_datagram_socket(tmp_path: Path) -> None:
    path = str(tmp_path / "log.sock")
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(path)
    receiver.settimeout(10)
    try:
        _configure(transport="unix", path=path)
        secmon.logged_out(user_id=7)
        secmon.flush()
        message = parse(receiver.recv(65535))
        assert message.msgid == "session_expired"
        assert (message.facility, message.severity) == (4, 6)  # auth.info
        assert json.loads(message.msg)["user_id"] == 7
    finally:
        receiver.close()


def test_unix_stream_socket(tmp_path: Path) -> None:
    server = StreamServer(socket.AF_UNIX, str(tmp_path / "log.sock"))
    try:
        _configure(transport="unix", path=str(tmp_path / "log.sock"), socket_type="stream")
        secmon.logged_out(user_id=7)
        secmon.login_succeeded(user_id=7)
        secmon.flush()
        messages = [parse(m).msgid for m in server.wait_for(2)]
        assert messages == ["session_expired", "authn_login_success"]
    finally:
        server.close()


def test_a_missing_unix_socket_is_retried_then_kept(tmp_path: Path) -> None:
    _configure(transport="unix", path=str(tmp_path / "absent.sock"), max_retries=1,
               backoff=0.01)
    secmon.logged_out(user_id=7)
    secmon.flush(timeout=10)
    # The event, and the report of the outage behind it.
    assert (_stats()["spooled"], _stats()["retried"], _stats()["dropped"]) == (2, 1, 0)

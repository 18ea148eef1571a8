"""secmon -> a real rsyslogd over UDP, TCP and Unix sockets; read back from rsyslog's file.

The daemon is private to each test: its own config (rsyslog.conf.template), pid file, work
directory, loopback ports and sockets under tmp_path. It is stopped in a finalizer.
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from string import Template
from typing import Any

import pytest

import secmon
from secmon.testing import capture_events

from ..formats.cef_parser import parse as parse_cef
from ..outputs.rfc5424 import Message, parse

pytestmark = pytest.mark.e2e

TEMPLATE = Path(__file__).with_name("rsyslog.conf.template")
TIMEOUT = 30.0


def _rsyslogd() -> str:
    found = shutil.which("rsyslogd") or shutil.which("rsyslogd", path="/usr/sbin:/sbin")
    if found is None:
        pytest.fail("rsyslogd is not installed (make services installs the rsyslog package)")
    return found


def _free_port(kind: int) -> int:
    with socket.socket(socket.AF_INET, kind) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Rsyslog:
    """A private rsyslogd writing every message it receives, raw, to ``output``."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.output = workdir / "messages.log"
        self.udp_port = _free_port(socket.SOCK_DGRAM)
        self.tcp_port = _free_port(socket.SOCK_STREAM)
        self.dgram_socket = workdir / "dgram.sock"
        self.stream_socket = workdir / "stream.sock"
        self.pidfile = workdir / "rsyslogd.pid"
        self.config = workdir / "rsyslog.conf"
        self.config.write_text(Template(TEMPLATE.read_text()).substitute(
            workdir=workdir, output=self.output, udp_port=self.udp_port,
            tcp_port=self.tcp_port, dgram_socket=self.dgram_socket,
            stream_socket=self.stream_socket,
        ))
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        binary = _rsyslogd()
        check = subprocess.run([binary, "-N1", "-f", str(self.config)], capture_output=True,
                               timeout=TIMEOUT)
        assert check.returncode == 0, check.stderr.decode()
        self.process = subprocess.Popen(
            [binary, "-n", "-f", str(self.config), "-i", str(self.pidfile)],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        """Probe every input until each probe shows up in the output file."""
        marker = uuid.uuid4().hex
        pending = {"udp", "tcp", "dgram", "stream"}
        deadline = time.monotonic() + TIMEOUT
        while pending and time.monotonic() < deadline:
            assert self.process is not None and self.process.poll() is None, self.diagnostics()
            for name in sorted(pending):
                probe = f"<14>1 - - probe - - - {marker}-{name}".encode()
                try:
                    self._send_raw(name, probe)
                except OSError:
                    pass  # not listening yet
            time.sleep(0.1)
            text = self.output.read_text() if self.output.exists() else ""
            pending = {name for name in pending if f"{marker}-{name}" not in text}
        assert not pending, f"rsyslogd inputs never answered: {pending}\n{self.diagnostics()}"

    def _send_raw(self, transport: str, message: bytes) -> None:
        kind = socket.SOCK_DGRAM if transport in ("udp", "dgram") else socket.SOCK_STREAM
        family, address = {
            "udp": (socket.AF_INET, ("127.0.0.1", self.udp_port)),
            "tcp": (socket.AF_INET, ("127.0.0.1", self.tcp_port)),
            "dgram": (socket.AF_UNIX, str(self.dgram_socket)),
            "stream": (socket.AF_UNIX, str(self.stream_socket)),
        }[transport]
        with socket.socket(family, kind) as sock:
            sock.settimeout(2)
            if kind == socket.SOCK_DGRAM:
                sock.sendto(message, address)
            else:
                sock.connect(address)
                sock.sendall(b"%d %s" % (len(message), message))

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=TIMEOUT)

    def messages(self, app_name: str) -> list[Message]:
        if not self.output.exists():
            return []
        found = []
        for line in self.output.read_bytes().splitlines():
            if f" {app_name} ".encode() in line[:200]:
                found.append(parse(line))
        return found

    def wait_for(self, app_name: str, count: int) -> list[Message]:
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            messages = self.messages(app_name)
            if len(messages) >= count:
                return messages
            time.sleep(0.05)
        raise AssertionError(
            f"{len(self.messages(app_name))} of {count} messages arrived\n{self.diagnostics()}"
        )

    def diagnostics(self) -> str:
        log = self.workdir / "rsyslogd.log"
        return log.read_text() if log.exists() else "(no rsyslogd log)"

    def output_spec(self, transport: str) -> dict[str, Any]:
        return {
            "udp": {"transport": "udp", "port": self.udp_port},
            "tcp": {"transport": "tcp", "port": self.tcp_port},
            "dgram": {"transport": "unix", "path": str(self.dgram_socket)},
            "stream": {"transport": "unix", "path": str(self.stream_socket),
                       "socket_type": "stream"},
        }[transport]


@pytest.fixture
def rsyslog(tmp_path: Path) -> Iterator[Rsyslog]:
    daemon = Rsyslog(tmp_path)
    try:
        daemon.start()
        yield daemon
    finally:
        daemon.stop()


def _app_name() -> str:
    return f"e2e-{uuid.uuid4().hex[:12]}"


def _emit_some() -> None:
    secmon.login_failed(username="mallory", reason="bad password")
    secmon.access_denied(resource_type="invoice", resource_id=7,
                         reason='quotes " brackets ] backslash \\ ünïcode ✓')
    secmon.validation_failed(field="email", reason="not an email")
    secmon.emit("authn_login_fail_max", source_ip="198.51.100.7", count=20)


@pytest.mark.parametrize("transport", ["udp", "tcp", "dgram", "stream"])
def test_events_arrive_over_each_transport(rsyslog: Rsyslog, transport: str) -> None:
    app = _app_name()
    secmon.configure(environment="test", app_name=app, outputs=[
        {"type": "syslog", "name": "rsyslog", "facility": "local4",
         **rsyslog.output_spec(transport)},
    ])
    with capture_events() as sent:
        _emit_some()
    secmon.flush(timeout=TIMEOUT)
    received = rsyslog.wait_for(app, len(sent))
    assert len(received) == len(sent) == 4
    assert [json.loads(message.msg) for message in received] == list(sent)
    for message, event in zip(received, sent, strict=True):
        assert message.app_name == app
        assert message.msgid == event["event_type"]
        assert message.facility == 20
        assert message.timestamp == event["timestamp"]
    assert [m.severity for m in received] == [4, 4, 4, 4]
    stats = secmon.stats()
    assert (stats["output.rsyslog.sent"], stats["output.rsyslog.dropped"]) == (4, 0)


def test_structured_data_over_tcp(rsyslog: Rsyslog) -> None:
    app = _app_name()
    secmon.configure(environment="test", app_name=app, outputs=[
        {"type": "syslog", "structured_data": True, **rsyslog.output_spec("tcp")},
    ])
    with capture_events() as sent:
        _emit_some()
    secmon.flush(timeout=TIMEOUT)
    received = rsyslog.wait_for(app, len(sent))
    for message, event in zip(received, sent, strict=True):
        params = message.params("secmon@32473")
        assert params["event_type"] == event["event_type"]
        assert params["timestamp"] == event["timestamp"]
        if "reason" in event:
            assert params["reason"] == event["reason"]
        assert message.msg.decode() == event["event"]


@pytest.mark.parametrize("output_format", ["ecs", "ocsf", "cef"])
def test_siem_formats_over_udp(rsyslog: Rsyslog, output_format: str) -> None:
    app = _app_name()
    secmon.configure(environment="test", app_name=app, outputs=[
        {"type": "syslog", "format": output_format, **rsyslog.output_spec("udp")},
    ])
    with capture_events() as sent:
        _emit_some()
    secmon.flush(timeout=TIMEOUT)
    received = rsyslog.wait_for(app, len(sent))
    for message, event in zip(received, sent, strict=True):
        if output_format == "cef":
            header, extension = parse_cef(message.msg.decode())
            assert header[4] == event["event_type"]
            assert extension["msg"] == event["event"]
        elif output_format == "ecs":
            document = json.loads(message.msg)
            assert document["event"]["action"] == event["event_type"]
            assert document["message"] == event["event"]
        else:
            document = json.loads(message.msg)
            assert document["metadata"]["event_code"] == event["event_type"]
            assert document["message"] == event["event"]


def test_tcp_reconnects_after_rsyslog_restarts(rsyslog: Rsyslog) -> None:
    app = _app_name()
    secmon.configure(environment="test", app_name=app, outputs=[
        {"type": "syslog", "name": "rsyslog", "max_retries": 60, "backoff": 0.1,
         "backoff_max": 0.5, **rsyslog.output_spec("tcp")},
    ])
    secmon.access_denied(reason="before restart")
    secmon.flush(timeout=TIMEOUT)
    rsyslog.wait_for(app, 1)
    rsyslog.stop()
    for number in range(3):
        secmon.access_denied(reason=f"while down {number}")
    time.sleep(0.5)  # the worker is now retrying against a closed port
    rsyslog.start()
    secmon.flush(timeout=TIMEOUT)
    # The four, and the outage's own reports (sent through this output too).
    events = [json.loads(message.msg) for message in rsyslog.wait_for(app, 6)]
    reasons = [e["reason"] for e in events if e["event_type"] == "authz_fail"]
    assert reasons == ["before restart", "while down 0", "while down 1", "while down 2"]
    assert sorted(e["event_type"] for e in events if e["event_type"] != "authz_fail") == [
        "sys_monitor_disabled", "sys_monitor_enabled"]
    stats = secmon.stats()
    assert stats["output.rsyslog.dropped"] == 0
    assert stats["output.rsyslog.connects"] == 2
    assert stats["output.rsyslog.retried"] >= 1

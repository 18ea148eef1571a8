from __future__ import annotations

import os
import threading
import time
from pathlib import Path
from typing import Any

import pytest

import secmon
from secmon import formats
from secmon.config import ConfigError, Settings
from secmon.events import lookup
from secmon.outputs import build
from secmon.outputs.base import EventFilter
from secmon.outputs.queued import GiveUp, QueuedOutput, RetryLater
from secmon.outputs.spool import SpoolLimits

from .conftest import read_lines

SETTINGS = Settings.build(env={})


def _accepts(spec: dict[str, Any], event_type: str, level: str | None = None,
             audit: bool | None = None) -> bool:
    event_spec = lookup(event_type)
    event = {"level": level or event_spec.level}
    return EventFilter.from_spec("OUTPUTS[0]", spec)(
        event, event_spec, event_spec.audit if audit is None else audit)


def test_filters() -> None:
    assert _accepts({}, "session_created")
    assert _accepts({"categories": ["audit"]}, "user_created")
    assert not _accepts({"categories": ["audit"]}, "authz_fail")
    assert _accepts({"categories": ["audit"]}, "authz_fail", audit=True)
    assert _accepts({"categories": ["iam"]}, "authz_fail")  # secondary ECS category
    assert _accepts({"categories": "intrusion_detection"}, "authn_login_fail_max")
    assert not _accepts({"min_level": "warning"}, "session_created")
    assert _accepts({"min_level": "warn"}, "authz_fail")
    assert _accepts({"event_types": ["authz_fail"]}, "authz_fail")
    assert not _accepts({"event_types": ["authz_fail"]}, "authn_login_fail")


@pytest.mark.parametrize(
    ("spec", "key"),
    [
        ({"type": "file"}, "OUTPUTS[0].path"),
        ({"type": "file", "path": "x.log", "colour": "red"}, "OUTPUTS[0].colour"),
        ({"type": "stdout", "format": "yaml"}, "OUTPUTS[0].format"),
        ({"type": "stdout", "min_level": "loud"}, "OUTPUTS[0].min_level"),
        ({"type": "stdout", "categories": 5}, "OUTPUTS[0].categories"),
        ({"type": "teletype"}, "OUTPUTS[0].type"),
    ],
)
def test_bad_output_specs_name_the_key(spec: dict[str, Any], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        build("OUTPUTS[0]", spec, SETTINGS)
    assert caught.value.key == key


def test_file_paths_are_relative_to_log_dir(tmp_path: Path) -> None:
    settings = Settings.build({"LOG_DIR": tmp_path / "logs"}, env={})
    output = build("OUTPUTS[0]", {"type": "file", "path": "x.log"}, settings)
    assert output.path == tmp_path / "logs" / "x.log"  # type: ignore[attr-defined]


def test_file_output_appends_whole_lines_from_many_threads(tmp_path: Path) -> None:
    secmon.configure(outputs=[{"type": "file", "path": str(tmp_path / "s.log")}],
                     environment="test")

    def work(n: int) -> None:
        for i in range(500):
            secmon.emit("authz_fail", worker=n, i=i, padding="x" * 300)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = read_lines(tmp_path / "s.log")
    assert len(lines) == 4000
    assert {(e["worker"], e["i"]) for e in lines} == {(n, i) for n in range(8) for i in range(500)}


def test_file_output_recreates_a_deleted_directory_only_on_open(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "dir" / "s.log"
    secmon.configure(outputs=[{"type": "file", "path": str(path), "mode": 0o600}],
                     environment="test")
    assert not path.exists()
    secmon.emit("authz_fail")
    assert path.exists()
    assert os.stat(path).st_mode & 0o777 == 0o600


def test_formats_registry() -> None:
    assert "json" in formats.names()
    with pytest.raises(KeyError, match="unknown format"):
        formats.get("nope")


class _Recorder(QueuedOutput):
    def __init__(self, behaviour: list[Any], **kwargs: Any) -> None:
        super().__init__(name="rec", renderer=formats.get("json"), accepts=EventFilter(),
                         backoff_base=0.001, **kwargs)
        self.behaviour = behaviour
        self.delivered: list[Any] = []
        self.attempts = 0

    def deliver(self, batch: list[Any]) -> None:
        self.attempts += 1
        outcome = self.behaviour.pop(0) if self.behaviour else None
        if isinstance(outcome, BaseException):
            raise outcome
        if outcome == "hang":
            time.sleep(0.5)
        self.delivered.extend(batch)


def test_queued_output_retries_then_delivers() -> None:
    out = _Recorder([OSError("refused"), RetryLater("429", after=0.01)])
    out.write(b"one")
    out.flush(5)
    assert out.delivered == [b"one"]
    assert out.stats() == {"enqueued": 1, "sent": 1, "retried": 2, "dropped": 0, "spooled": 0}


def _wait_idle(out: QueuedOutput, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while out.stats()["spooled"] or out.stats()["sent"] + out.stats()["dropped"] < \
            out.stats()["enqueued"]:
        assert time.monotonic() < deadline, out.stats()
        time.sleep(0.01)


def test_queued_output_past_its_retries_spools_then_delivers_in_order() -> None:
    out = _Recorder([OSError("x")] * 10, max_retries=2)
    out.spool.retry = (0.01, 0.02)
    for item in (b"a", b"b", b"c"):
        out.write(item)
    _wait_idle(out)
    # a failed three times and waited; b and c went behind it untried; the spool tried a
    # until the sink answered (7 more times), then delivered all three, in order.
    assert out.delivered == [b"a", b"b", b"c"]
    assert out.stats() == {"enqueued": 3, "sent": 3, "retried": 2, "dropped": 0, "spooled": 0}
    assert out.attempts == 3 + 7 + 3


def test_queued_output_spool_keeps_the_newest_past_its_bound() -> None:
    out = _Recorder([OSError("x")] * 3, max_retries=0, batch_size=10,
                    spool=SpoolLimits(max_records=4))
    out.spool.retry = (0.2, 0.2)
    for i in range(10):
        out.write(str(i).encode())
    _wait_idle(out)
    assert out.delivered == [b"6", b"7", b"8", b"9"]
    assert out.stats() == {"enqueued": 10, "sent": 4, "retried": 0, "dropped": 6, "spooled": 0}


def test_queued_output_give_up_is_final() -> None:
    out = _Recorder([GiveUp("400")])
    out.write(b"a")
    out.flush(5)
    assert out.attempts == 1
    assert out.stats()["dropped"] == 1


def test_queued_output_bounded_queue_drops_instead_of_blocking() -> None:
    out = _Recorder(["hang"], max_queue=3)
    start = time.monotonic()
    for i in range(50):
        out.write(str(i).encode())
    assert time.monotonic() - start < 0.2
    out.flush(5)
    stats = out.stats()
    assert stats["enqueued"] == 50
    assert stats["sent"] + stats["dropped"] == 50
    assert stats["dropped"] >= 46


def test_queued_output_batches() -> None:
    out = _Recorder([], batch_size=10)
    out.write(b"x")  # starts the worker
    out.flush(5)
    for i in range(30):
        out.write(str(i).encode())
    out.flush(5)
    assert len(out.delivered) == 31
    assert out.attempts <= 31


def test_queued_output_close_is_bounded() -> None:
    out = _Recorder([OSError("down")] * 100, max_retries=100)
    out.backoff_base = 10
    out.write(b"a")
    start = time.monotonic()
    out.close(timeout=0.2)
    assert time.monotonic() - start < 2
    stats = out.stats()
    assert stats["sent"] + stats["dropped"] == stats["enqueued"]

"""Shared fixtures: every test starts with no secmon pipeline and leaves none behind."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest

import secmon
from secmon import pipeline as _pipeline


@pytest.fixture(autouse=True)
def _reset_secmon(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(__import__("os").environ):
        if name.startswith("SECMON_"):
            monkeypatch.delenv(name)
    yield
    current = _pipeline._current
    _pipeline._current = None
    if current is not None:
        current.close(timeout=2.0)


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    return tmp_path / "logs"


@pytest.fixture
def configured(log_dir: Path) -> _pipeline.Pipeline:
    """secmon writing security.log and audit.log under a temporary LOG_DIR."""
    return secmon.configure(log_dir=log_dir, environment="test")


def read_lines(path: Path) -> list[dict[str, Any]]:
    """Every JSON line of a log file, parsed."""
    if not path.exists():
        return []
    return [orjson.loads(line) for line in path.read_bytes().splitlines() if line]

"""Fixtures for the Flask adapter's tests: apps wired as a user would, logs in a temp dir."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from secmon.flask import SecMon
from secmon.flask.state import state_of

AppFactory = Callable[..., Flask]


@pytest.fixture
def make_app(log_dir: Path) -> Iterator[AppFactory]:
    """Build Flask apps with ``SecMon``; each app's own pipeline is closed afterwards."""
    made: list[Flask] = []

    def make(name: str = "shop", *, secmon: bool = True, **config: Any) -> Flask:
        app = Flask(name)
        app.config.update(
            SECRET_KEY="test-secret-key-not-for-production",
            SECMON_LOG_DIR=str(log_dir),
            SECMON_ENVIRONMENT="test",
        )
        app.config.update(config)
        if secmon:
            SecMon(app)
        made.append(app)
        return app

    yield make
    for app in made:
        state = state_of(app)
        if state is not None:
            state.close(timeout=2.0)


def log_text(log_dir: Path) -> str:
    """Everything secmon wrote under ``log_dir`` (all files), for "never logged" checks."""
    return "\n".join(
        path.read_text(errors="replace") for path in sorted(log_dir.rglob("*")) if path.is_file()
    )

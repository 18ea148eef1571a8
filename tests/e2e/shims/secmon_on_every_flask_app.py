"""pytest plugin (``-p``) for a Flask extension's own test suite: ``SecMon(app)`` on every app.

Every ``Flask(...)`` the suite builds gets secmon right after its constructor, before the
test adds its extensions and routes, as a user's ``create_app()`` would. The number of apps
so wired is written to the file named by ``SHIM_APP_COUNT_FILE``.
"""

from __future__ import annotations

import os
from typing import Any

import flask

from secmon.flask import SecMon

_flask_init = flask.Flask.__init__
_wired: list[int] = []


def _init_with_secmon(self: flask.Flask, *args: Any, **kwargs: Any) -> None:
    _flask_init(self, *args, **kwargs)
    SecMon(self)
    _wired.append(1)


flask.Flask.__init__ = _init_with_secmon  # type: ignore[method-assign]


def pytest_unconfigure() -> None:
    count_file = os.environ.get("SHIM_APP_COUNT_FILE")
    if count_file:
        with open(count_file, "w") as out:
            out.write(str(len(_wired)))

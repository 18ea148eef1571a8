"""stdout / stderr output: one JSON line per event, for containers and 12-factor apps."""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .base import Output, common_options

if TYPE_CHECKING:
    from ..config import Settings


class StreamOutput(Output):
    type_name = "stdout"

    def __init__(self, stream: str = "stdout", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.stream = stream

    def write(self, line: bytes) -> None:
        # Looked up on each write so test runners and daemons that swap sys.stdout still work.
        target = sys.stdout if self.stream == "stdout" else sys.stderr
        buffer = getattr(target, "buffer", None)
        if buffer is not None:
            buffer.write(line + b"\n")
            buffer.flush()
        else:
            target.write(line.decode() + "\n")
            target.flush()

    def flush(self, timeout: float | None = None) -> None:
        target = sys.stdout if self.stream == "stdout" else sys.stderr
        try:
            target.flush()
        except (OSError, ValueError):
            pass


def build(key: str, spec: Mapping[str, Any], settings: Settings) -> StreamOutput:
    name, renderer, accepts = common_options(key, spec, settings, ())
    return StreamOutput(
        stream=spec["type"], name=name, renderer=renderer, accepts=accepts
    )


def write_stderr_line(text: str) -> None:
    """Last-resort diagnostics that must not fail (secmon reporting its own trouble)."""
    try:
        os.write(2, (text.rstrip("\n") + "\n").encode("utf-8", "backslashreplace"))
    except Exception:  # noqa: S110 - a closed or refused stderr leaves nowhere to say it
        pass

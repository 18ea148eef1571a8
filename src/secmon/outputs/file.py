"""File output: JSON lines appended with one ``write`` per event (O_APPEND keeps lines whole)."""

from __future__ import annotations

import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import ConfigError
from .base import Output, common_options

if TYPE_CHECKING:
    from ..config import Settings

_FLAGS = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)


class FileOutput(Output):
    type_name = "file"

    def __init__(self, path: Path, mode: int = 0o640, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.path = path
        self.mode = mode
        self._fd: int | None = None
        self._lock = threading.Lock()

    def _open(self) -> int:
        with self._lock:
            if self._fd is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._fd = os.open(self.path, _FLAGS, self.mode)
            return self._fd

    def write(self, line: bytes) -> None:
        fd = self._fd if self._fd is not None else self._open()
        data = line + b"\n"
        written = os.write(fd, data)
        if written != len(data):
            # A short write on a regular file means the disk is full; the rest cannot follow
            # without tearing the line for other writers, so report it.
            raise OSError(f"short write to {self.path}: {written} of {len(data)} bytes")

    def close(self) -> None:
        with self._lock:
            if self._fd is not None:
                fd, self._fd = self._fd, None
                try:
                    os.close(fd)
                except OSError:
                    pass


def resolve_path(key: str, value: Any, settings: Settings) -> Path:
    if not isinstance(value, (str, os.PathLike)) or not str(value):
        raise ConfigError(f"{key}.path", "expected a file path")
    path = Path(value)
    if not path.is_absolute():
        if settings.log_dir is None:
            path = Path.cwd() / path
        else:
            path = settings.log_dir / path
    return path


def build(key: str, spec: Mapping[str, Any], settings: Settings) -> FileOutput:
    name, renderer, accepts = common_options(key, spec, settings, ("path", "mode"))
    path = resolve_path(key, spec.get("path"), settings)
    mode = spec.get("mode", 0o640)
    if not isinstance(mode, int) or not 0 <= mode <= 0o777:
        raise ConfigError(f"{key}.mode", "expected a permission mode such as 0o640")
    return FileOutput(path=path, mode=mode, name=spec.get("name") or path.name,
                      renderer=renderer, accepts=accepts)

"""A file output from its ``OUTPUTS`` entry: every option checked, errors naming the key."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...config import ConfigError
from ...events import AUDIT
from ..base import common_options
from ..spool import SpoolLimits
from .names import checkpoint_path_for
from .retention import MAX_RETENTION_DAYS, RETENTION_DAYS
from .writer import INTERVALS, FileOutput

if TYPE_CHECKING:
    from ...config import Settings

_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
_KEYS = ("path", "mode", "max_bytes", "when", "compress", "retention_days", "backup_count",
         "log_class", "checkpoints")


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
    _, renderer, accepts = common_options(key, spec, settings, _KEYS)
    path = resolve_path(key, spec.get("path"), settings)
    mode = spec.get("mode", 0o640)
    if not isinstance(mode, int) or not 0 <= mode <= 0o777:
        raise ConfigError(f"{key}.mode", "expected a permission mode such as 0o640")
    max_bytes = _size(f"{key}.max_bytes", spec.get("max_bytes"))
    when = _interval(f"{key}.when", spec.get("when"))
    if (max_bytes or when) and path.exists() and not path.is_file():
        raise ConfigError(f"{key}.path", f"{path} is not a regular file; it cannot be rotated")
    audit_only = accepts.categories == frozenset({AUDIT})
    log_class = spec.get("log_class", "audit" if audit_only else "security")
    if log_class not in RETENTION_DAYS:
        raise ConfigError(f"{key}.log_class", f"expected one of {', '.join(RETENTION_DAYS)}, "
                                              f"got {log_class!r}")
    retention = spec.get("retention_days")
    if retention is not None and (
        isinstance(retention, bool) or not isinstance(retention, (int, float))
        or not 0 < retention <= MAX_RETENTION_DAYS
    ):
        raise ConfigError(f"{key}.retention_days",
                          f"expected a number of days between 1 and {MAX_RETENTION_DAYS}")
    backup_count = spec.get("backup_count")
    if backup_count is not None and (
        isinstance(backup_count, bool) or not isinstance(backup_count, int) or backup_count < 0
    ):
        raise ConfigError(f"{key}.backup_count", "expected a whole number of files (0 or more)")
    compress = spec.get("compress", True)
    if not isinstance(compress, bool):
        raise ConfigError(f"{key}.compress", "expected true or false")
    checkpoints = _checkpoints(f"{key}.checkpoints", spec.get("checkpoints"), path, audit_only)
    return FileOutput(
        path=path, mode=mode, max_bytes=max_bytes, when=when, compress=compress,
        retention_days=retention, backup_count=backup_count, log_class=log_class,
        checkpoints=checkpoints, spool=SpoolLimits.from_settings(settings),
        name=spec.get("name") or path.name, renderer=renderer, accepts=accepts,
    )


def _size(key: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmg]?)(?:i?b)?\s*", value, re.IGNORECASE)
        if match and float(match[1]) > 0:
            return max(1, int(float(match[1]) * _UNITS[match[2].lower()]))
    raise ConfigError(key, f"expected a size in bytes such as 10485760 or '10MB', got {value!r}")


def _interval(key: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, str) and value.strip().lower() in INTERVALS:
        return INTERVALS[value.strip().lower()]
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    raise ConfigError(key, f"expected one of {', '.join(INTERVALS)} or a number of seconds, "
                           f"got {value!r}")


def _checkpoints(key: str, value: Any, path: Path, audit_only: bool) -> Path | None:
    if value is None:
        return checkpoint_path_for(path) if audit_only else None
    if value is False:
        return None
    if isinstance(value, (str, os.PathLike)) and str(value):
        given = Path(value)
        return given if given.is_absolute() else path.parent / given
    raise ConfigError(key, "expected a file path, or false for none")

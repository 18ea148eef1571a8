"""After rotation: rotated files compressed, and how long each log class keeps them."""

from __future__ import annotations

import gzip
import os
import re
import shutil
from pathlib import Path
from secrets import token_hex

# Retention by log class, in days: the OWASP Logging Cheat Sheet's usual defaults.
RETENTION_DAYS: dict[str, float] = {"security": 90, "audit": 365, "application": 30, "debug": 7}
MAX_RETENTION_DAYS = 100 * 366
# A compression's temporary file: <rotated name>.gz.<pid>.<random>.tmp
TMP = re.compile(r"^.+\.gz\.\d+\.[0-9a-f]+\.tmp$")


def compress(path: Path, mode: int) -> None:
    """``path`` -> ``path.gz`` via a temporary file; the original goes once the copy is whole."""
    target = path.with_name(path.name + ".gz")
    temporary = path.with_name(f"{path.name}.gz.{os.getpid()}.{token_hex(4)}.tmp")
    try:
        source = open(path, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return  # another process compressed it first
    try:
        with source, open(temporary, "wb") as raw:
            os.chmod(temporary, mode)
            with gzip.GzipFile(filename=path.name, mode="wb", fileobj=raw, mtime=0) as packed:
                shutil.copyfileobj(source, packed, 1 << 20)
            raw.flush()
            os.fsync(raw.fileno())
        stat = path.stat()
        os.utime(temporary, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        os.replace(temporary, target)
    except FileNotFoundError:
        temporary.unlink(missing_ok=True)
        return
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    path.unlink(missing_ok=True)


def remove_stale_temporaries(path: Path, now: float) -> None:
    """Delete what a compression that died left behind (an hour old: no one is writing it)."""
    prefix = path.name + "."
    try:
        names = os.listdir(path.parent)
    except OSError:
        return
    for name in names:
        if name.startswith(prefix) and TMP.match(name):
            stale = path.parent / name
            try:
                if now - stale.stat().st_mtime > 3600:
                    stale.unlink()
            except FileNotFoundError:
                pass

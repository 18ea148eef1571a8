"""A log's files by name: rotated names, the live log each belongs to, its checkpoint file.

Rotated files are named ``<log>.<UTC time of rotation>`` (``audit.log.20260301T000000.000000Z``),
plus ``.gz`` once compressed; their names sort in rotation order.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

STAMP = "%Y%m%dT%H%M%S.%fZ"
ROTATED = re.compile(
    r"^(?P<base>.+)\.(?P<stamp>\d{8}T\d{6}\.\d{6}Z)(?:-(?P<n>\d+))?(?P<gz>\.gz)?$"
)
NUMBERED = re.compile(r"^(?P<base>.+)\.(?P<n>\d{1,4})(?P<gz>\.gz)?$")


def rotated_files(log: Path) -> list[Path]:
    """The rotated files of ``log``, oldest first."""
    try:
        names = os.listdir(log.parent)
    except OSError:
        return []
    found = []
    for name in names:
        match = ROTATED.match(name)
        if match and match["base"] == log.name:
            found.append((match["stamp"], int(match["n"] or 0), log.parent / name))
    return [path for _, _, path in sorted(found)]


def log_family(path: Path) -> tuple[Path, tuple[int, str, int]]:
    """(the live log a file belongs to, its place in rotation order: oldest first).

    Knows secmon's own rotated names and logrotate's numbered ones (``.1`` is the newest).
    """
    name = path.name
    match = ROTATED.match(name)
    if match:
        return path.with_name(match["base"]), (1, match["stamp"], int(match["n"] or 0))
    match = NUMBERED.match(name)
    if match:
        return path.with_name(match["base"]), (0, "", -int(match["n"]))
    if name.endswith(".gz"):
        return path.with_name(name[:-3]), (1, "~", 0)
    return path, (2, "", 0)



def checkpoint_path_for(log: Path) -> Path:
    """Where an audit log's checkpoints go by default: ``audit.log`` -> ``audit.checkpoints``."""
    if log.suffix:
        return log.with_suffix(".checkpoints")
    return log.with_name(log.name + ".checkpoints")


def sort_in_rotation_order(paths: Iterable[Path]) -> list[Path]:
    return sorted(paths, key=lambda p: log_family(p)[1])

"""File output: whole JSON lines from many processes, rotated, compressed and expired by class."""

from .names import checkpoint_path_for, log_family, rotated_files, sort_in_rotation_order
from .options import build, resolve_path
from .retention import MAX_RETENTION_DAYS, RETENTION_DAYS
from .writer import HOUSEKEEPING_EVERY, INTERVALS, FileOutput

__all__ = [
    "HOUSEKEEPING_EVERY",
    "INTERVALS",
    "MAX_RETENTION_DAYS",
    "RETENTION_DAYS",
    "FileOutput",
    "build",
    "checkpoint_path_for",
    "log_family",
    "resolve_path",
    "rotated_files",
    "sort_in_rotation_order",
]

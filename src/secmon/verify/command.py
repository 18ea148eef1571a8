"""``secmon verify``: keys from the environment and options, the report printed, the exit code."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from ..integrity import load_public_key
from .findings import Report, UsageError
from .sources import verify_files, verify_postgres


def key_ring(key_ids: Iterable[str], environ: Mapping[str, str] | None = None) -> dict[str, bytes]:
    """Keys by id from ``SECMON_AUDIT_KEY(S)``/``SECMON_AUDIT_KEY_ID`` and ``ID=KEY`` options."""
    from ..config import ConfigError, Settings

    environ = os.environ if environ is None else environ
    given = {name: environ[f"SECMON_{name.upper()}"]
             for name in ("audit_key", "audit_key_id", "audit_keys")
             if environ.get(f"SECMON_{name.upper()}")}
    try:
        settings = Settings.build(env={}, environment="development", **given)
    except ConfigError as exc:
        raise UsageError(str(exc)) from None
    keys = dict(settings.audit_keys)
    if settings.audit_key is not None:
        keys[settings.audit_key_id] = settings.audit_key
    for item in key_ids:
        key_id, sep, secret = item.partition("=")
        if not sep or not key_id or not secret:
            raise UsageError(f"--key-id {item.split('=')[0]!r}...: expected ID=KEY")
        keys[key_id] = secret.encode()
    return keys


def run(
    files: Sequence[Path],
    *,
    checkpoints: Sequence[Path] = (),
    key_ids: Sequence[str] = (),
    public_key: Path | None = None,
    postgres: str | None = None,
    table: str | None = None,
    partial: bool = False,
    grace: float = 0.0,
    as_json: bool = False,
    echo: Any = print,
    echo_err: Any = None,
) -> int:
    """The ``secmon verify`` command: print the report; 0 intact, 1 not, 2 usage error."""
    try:
        if not files and not postgres:
            raise UsageError("give log files to verify, or --postgres URL")
        keys = key_ring(key_ids)
        if not keys:
            raise UsageError("no audit key: pass --key-id ID=KEY or set SECMON_AUDIT_KEY "
                             "(and SECMON_AUDIT_KEYS for retired key ids)")
        public = None
        if public_key is not None:
            try:
                public = load_public_key(public_key)
            except (OSError, ValueError, TypeError) as exc:
                raise UsageError(f"--public-key {public_key}: {exc}") from None
        report = Report()
        options: dict[str, Any] = {"public_key": public, "partial": partial, "grace": grace}
        if files:
            report.extend(verify_files(files, keys, checkpoints=checkpoints, **options))
        if postgres:
            report.extend(verify_postgres(postgres, keys, table=table,
                                          checkpoints=checkpoints, **options))
    except UsageError as exc:
        (echo_err or echo)(f"secmon verify: error: {exc}")
        return 2
    if as_json:
        echo(orjson.dumps(report.to_dict(), option=orjson.OPT_INDENT_2).decode())
    else:
        for line in report.lines():
            echo(line)
    return 0 if report.ok else 1

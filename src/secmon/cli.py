"""The ``secmon`` command: demo, verify, query, report, check."""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from ._version import __version__

EXIT_CODES = "Exit codes: 0 success, 1 a finding (tampering, failed checks), 2 usage error."


class _Secmon(click.Group):
    """A group whose errors are one line on stderr (no usage dump, no traceback)."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        try:
            result = super().main(*args, **kwargs)
        except click.UsageError as exc:
            path = exc.ctx.command_path if exc.ctx else "secmon"
            _fail(f"{path}: {exc.format_message()} (see '{path} --help')", 2)
        except click.ClickException as exc:
            _fail(f"secmon: {exc.format_message()}", exc.exit_code)
        except click.Abort:
            _fail("secmon: aborted", 130)
        except BrokenPipeError:
            # The reader of our output went away (e.g. `| head`): not an error. Point stdout
            # at /dev/null so the flush at exit does not fail again.
            with contextlib.suppress(OSError, ValueError):
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(0)
        sys.exit(result if isinstance(result, int) else 0)


def _fail(message: str, code: int) -> None:
    click.echo(message, err=True)
    sys.exit(code)


class InputProblem(click.ClickException):
    """An input that cannot be used (unreadable file, corrupt gzip): exit code 2."""

    exit_code = 2


@click.group(cls=_Secmon, context_settings={"help_option_names": ["-h", "--help"]},
             epilog=EXIT_CODES)
@click.version_option(__version__, prog_name="secmon")
def cli() -> None:
    """Security logging and monitoring for Django, Flask and ASGI apps.

    Start with `secmon demo`; `secmon COMMAND --help` explains each command.
    """


# -- shared options -------------------------------------------------------------------------


def _when(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    from .logread import parse_when

    try:
        return parse_when(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _types(ctx: click.Context, param: click.Parameter, values: Sequence[str]) -> frozenset[str]:
    from .events import VOCABULARY, UnknownEventError, lookup

    names = frozenset(part.strip() for value in values for part in value.split(",") if part.strip())
    for name in sorted(names - VOCABULARY.keys()):
        # Apps may log their own types, so an unknown name is a note, not an error.
        try:
            lookup(name)
        except UnknownEventError as exc:
            click.echo(f"secmon: note: {exc}", err=True)
    return names


def _wheres(ctx: click.Context, param: click.Parameter, values: Sequence[str]) -> tuple[Any, ...]:
    from .logread import Where

    try:
        return tuple(Where.parse(value) for value in values)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _filter_options(function: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("-t", "--type", "types", multiple=True, callback=_types, metavar="TYPE",
                     help="Only these event types (repeat, or separate with commas)."),
        click.option("--since", callback=_when, metavar="WHEN",
                     help="From this time on: 2026-03-01, 2026-03-01T14:30 (UTC unless an "
                          "offset is given), or a duration back from now: 30m, 24h, 7d."),
        click.option("--until", callback=_when, metavar="WHEN",
                     help="Before this time (same forms as --since)."),
        click.option("-w", "--where", "wheres", multiple=True, callback=_wheres,
                     metavar="KEY=VALUE", help="Only events whose field equals (or with != "
                     "differs from) the value; dotted keys reach nested fields. Repeatable."),
        click.option("--level", "min_level",
                     type=click.Choice(["info", "warning", "error", "critical"]),
                     help="Only events at this level or above."),
    ]
    for option in reversed(options):
        function = option(function)
    return function


def _make_filter(types: frozenset[str], since: str | None, until: str | None,
                 wheres: tuple[Any, ...], min_level: str | None, who: str | None = None) -> Any:
    from .logread import Filter

    return Filter(types=types, since=since, until=until, where=wheres, min_level=min_level,
                  who=who)


@contextmanager
def _reading(paths: Sequence[str]) -> Iterator[Callable[[int], None]]:
    """Progress on stderr for large inputs when a person is watching; input errors as one line."""
    from .logread import InputError, total_size
    from .query import PROGRESS_MIN_BYTES

    size = total_size(paths)
    try:
        if size >= PROGRESS_MIN_BYTES and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            columns = (TextColumn("reading"), BarColumn(), DownloadColumn(),
                       TransferSpeedColumn(), TimeRemainingColumn())
            with Progress(*columns, console=Console(stderr=True), transient=True) as progress:
                task = progress.add_task("reading", total=size)
                yield lambda n: progress.advance(task, n)
        else:
            yield lambda n: None
    except InputError as exc:
        raise InputProblem(str(exc)) from None


def _notes(stats: Any) -> None:
    for note in stats.problems():
        click.echo(f"secmon: note: {note}", err=True)


_FILES = click.argument("files", nargs=-1, required=True, metavar="FILE...",
                        type=click.Path(exists=True, dir_okay=False, allow_dash=True))


# -- query ----------------------------------------------------------------------------------


@cli.command(epilog="Exit codes: 0 success, 2 usage error or unreadable input.")
@_FILES
@_filter_options
@click.option("--failed-logins-by", type=click.Choice(["ip", "user"]),
              help="Count failed logins per source IP (with how many users each tried) or "
                   "per user (with how many IPs tried it).")
@click.option("--denials-by", type=click.Choice(["user", "ip"]),
              help="Count access denials per user (with how many resources) or per IP.")
@click.option("--over-time", is_flag=True, help="Count events per type in time buckets.")
@click.option("--bucket", metavar="SIZE",
              help="Bucket size for --over-time: 1m, 5m, 1h, 1d... (default: fits the span).")
@click.option("--timeline", metavar="WHO",
              help="Everything one user or IP did, in time order. WHO is a username, a "
                   "username hash (#3fa2...), a user id or an IP address.")
@click.option("--alerts", is_flag=True,
              help="Detections: brute force, credential stuffing, privilege probing, "
                   "impossible travel... with their evidence.")
@click.option("--count-by", metavar="FIELD", help="Count events per value of any field.")
@click.option("-f", "--format", "output_format", type=click.Choice(["table", "jsonl", "csv"]),
              default="table", show_default=True, help="Output format.")
@click.option("--fields", metavar="A,B,...",
              help="Columns to show for listed events (dotted keys reach nested fields).")
@click.option("-n", "--limit", type=click.IntRange(min=1),
              help="At most this many rows (a table of events shows 100 unless told).")
def query(files: tuple[str, ...], types: frozenset[str], since: str | None, until: str | None,
          wheres: tuple[Any, ...], min_level: str | None, failed_logins_by: str | None,
          denials_by: str | None, over_time: bool, bucket: str | None, timeline: str | None,
          alerts: bool, count_by: str | None, output_format: str, fields: str | None,
          limit: int | None) -> int:
    """Answer questions about secmon's JSON-lines logs.

    FILE... are log files, plain or gzip-compressed (rotated security.log.1.gz), or - for
    standard input. They are streamed, never loaded whole; lines that are not JSON events
    (a torn last line, foreign text) are skipped and counted.

    Without an analysis option, lists the matching events.

    \b
    Examples:
      secmon query logs/security.log* --failed-logins-by ip
      secmon query logs/security.log --denials-by user --since 24h
      secmon query logs/security.log --timeline 203.0.113.9
      secmon query logs/security.log --alerts -f jsonl
      secmon query logs/security.log -t authz_fail -w path=/admin/ -f csv
    """
    from .query import Query

    chosen = [name for name, on in (
        ("failed-logins", failed_logins_by), ("denials", denials_by), ("over-time", over_time),
        ("timeline", timeline), ("alerts", alerts), ("count-by", count_by)) if on]
    if len(chosen) > 1:
        raise click.UsageError(f"choose one analysis, not {' and '.join(chosen)}")
    if bucket is not None and chosen != ["over-time"]:
        raise click.UsageError("--bucket goes with --over-time")
    step = None
    if bucket is not None:
        from .logread import parse_duration

        try:
            step = parse_duration(bucket)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="'--bucket'") from None
    if output_format == "table" and limit is None and not chosen:
        limit = 100
    job = Query(
        paths=files,
        where=_make_filter(types, since, until, wheres, min_level, who=timeline),
        analysis=chosen[0] if chosen else "events",
        by=failed_logins_by or denials_by or count_by,
        fields=[f.strip() for f in fields.split(",") if f.strip()] if fields else None,
        bucket=step,
        limit=limit,
    )
    with _reading(files) as advance:
        job.advance = advance
        result = job.run()
        count = _write(result, output_format)
    if output_format == "table" and count == 0:
        click.echo("no matching events", err=True)
    _notes(job.stats)
    return 0


def _write(result: Any, output_format: str) -> int:
    from .query import render_table, write_csv, write_jsonl

    if output_format == "jsonl":
        count = write_jsonl(result, sys.stdout.buffer)
        sys.stdout.buffer.flush()
        return count
    if output_format == "csv":
        return write_csv(result, sys.stdout)
    from rich.console import Console

    return render_table(result, Console(highlight=False))


# -- verify ---------------------------------------------------------------------------------


@cli.command(epilog="Exit codes: 0 intact, 1 tampered or unanchored, 2 usage error or "
                    "unreadable input.")
@click.argument("files", nargs=-1, type=click.Path(path_type=Path))
@click.option("--checkpoints", multiple=True, type=click.Path(path_type=Path),
              help="A checkpoint file (default: audit.checkpoints beside audit.log, and any "
                   "*.checkpoints in the logs' directory).")
@click.option("--key-id", "key_ids", multiple=True, metavar="ID=KEY",
              help="An audit key by id (repeatable); default SECMON_AUDIT_KEY, "
                   "SECMON_AUDIT_KEY_ID and SECMON_AUDIT_KEYS.")
@click.option("--public-key", type=click.Path(dir_okay=False, path_type=Path),
              help="Ed25519 public key (PEM) that checkpoints must be signed with.")
@click.option("--postgres", metavar="URL", help="Also verify the PostgreSQL audit store.")
@click.option("--table", metavar="NAME", help="Its table (default secmon_audit).")
@click.option("--partial", is_flag=True,
              help="Older files were removed by retention: accept chains that begin mid-way.")
@click.option("--grace", type=click.FloatRange(min=0), default=0.0, metavar="SECONDS",
              help="Accept an unanchored tail younger than this (live writers).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
def verify(files: tuple[Path, ...], checkpoints: tuple[Path, ...], key_ids: tuple[str, ...],
           public_key: Path | None, postgres: str | None, table: str | None, partial: bool,
           grace: float, as_json: bool) -> int:
    """Verify the hash chain of audit logs (plain or .gz, rotated files in any order).

    Names the file, line and seq of every modified, deleted, inserted, duplicated or
    reordered record, a truncated tail, and any part no checkpoint anchors.

    \b
    Example:
      SECMON_AUDIT_KEY=... secmon verify logs/audit.log*
    """
    from .verify import run

    return run(files, checkpoints=checkpoints, key_ids=key_ids, public_key=public_key,
               postgres=postgres, table=table, partial=partial, grace=grace, as_json=as_json,
               echo=click.echo, echo_err=lambda line: click.echo(line, err=True))


# -- report ---------------------------------------------------------------------------------


@cli.command(epilog="Exit codes: 0 report written, 1 report written but the audit chain is "
                    "tampered or unanchored, 2 usage error or unreadable input.")
@_FILES
@_filter_options
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("report.html"), show_default=True, help="The HTML file to write.")
@click.option("--title", default="secmon security report", show_default=True,
              help="The page title.")
@click.option("--settings", "settings_spec", metavar="MODULE:ATTR",
              help="Settings (dict or secmon.Settings) holding the audit keys to verify the "
                   "chain with; by default SECMON_AUDIT_KEY / SECMON_AUDIT_KEYS.")
def report(files: tuple[str, ...], types: frozenset[str], since: str | None, until: str | None,
           wheres: tuple[Any, ...], min_level: str | None, output: Path, title: str,
           settings_spec: str | None) -> int:
    """Write one self-contained HTML report about secmon's logs.

    The page opens without a network: charts are inline SVG. It shows events over time
    by category, detections over time per rule, the top source IPs and users behind
    failed logins and access denials, every detection with its evidence, and the
    audit-chain status of the audit logs among FILE... (verified with the audit keys
    from the settings).

    \b
    Example:
      secmon report logs/security.log* logs/audit.log -o report.html
    """
    from .report import write_report

    settings = _settings(settings_spec) if settings_spec else None
    where = _make_filter(types, since, until, wheres, min_level)
    with _reading(files) as advance:
        try:
            summary, chain = write_report(files, output, where=where, settings=settings,
                                          title=title, advance=advance)
        except OSError as exc:
            raise InputProblem(f"cannot write {output}: {exc.strerror or exc}") from None
    _notes(summary.stats)
    click.echo(f"report written to {output.resolve()}")
    if chain is not None and chain.state != "not verified":
        click.echo(f"audit chain: {chain.state}", err=not chain.ok)
        return 0 if chain.ok else 1
    if chain is not None:
        click.echo(f"secmon: note: audit chain not verified: {chain.detail}", err=True)
    return 0


def _settings(spec: str | None) -> Any:
    from .check import SourceError, find_target, load_settings

    try:
        target = find_target(spec, None)
    except SourceError as exc:
        raise click.BadParameter(str(exc), param_hint="'--settings'") from None
    settings, problems = load_settings(target)
    if settings is None:
        raise click.UsageError(problems[0].detail)
    return settings


# -- check ----------------------------------------------------------------------------------


@cli.command(epilog="Exit codes: 0 all checks pass, 1 a check failed (or warned, with "
                    "--strict), 2 usage error.")
@click.option("--settings", "settings_spec", metavar="MODULE:ATTR",
              help="A dict of secmon settings or a secmon.Settings to check, or a Django "
                   "settings module (mysite.settings) instead of DJANGO_SETTINGS_MODULE.")
@click.option("--app", "app_spec", metavar="MODULE:ATTR",
              help="A Flask or ASGI (Starlette, FastAPI) app to inspect, e.g. myapp.main:app.")
@click.option("--strict", is_flag=True, help="Treat warnings as failures.")
def check(settings_spec: str | None, app_spec: str | None, strict: bool) -> int:
    """Check secmon's configuration, its outputs and how it is wired into the app.

    Settings come from SECMON_* environment variables plus, in this order of preference,
    --settings, the app given with --app (Flask: app.config["SECMON_*"]; ASGI: the
    middleware's settings), or the Django settings named by DJANGO_SETTINGS_MODULE
    (its SECMON dict).

    Checks: the settings are valid; the audit key is set and strong; the log directory is
    writable; every output and alert destination is reachable (Redis, PostgreSQL, syslog,
    webhooks) - a dry run: connections are opened and closed, nothing is sent; the
    framework wiring is in place (Django INSTALLED_APPS and MIDDLEWARE, Flask SecMon,
    ASGI SecMonMiddleware).
    """
    from rich.console import Console
    from rich.table import Table

    from .check import FAIL, WARN, SourceError, find_target, run_checks

    try:
        target = find_target(settings_spec, app_spec)
    except SourceError as exc:
        raise click.UsageError(str(exc)) from None
    results = run_checks(target)
    styles = {"ok": "green", "warn": "yellow", "fail": "bold red", "skip": "dim"}
    table = Table(title="secmon check", title_justify="left", header_style="bold")
    table.add_column("check", no_wrap=True)
    table.add_column("result", no_wrap=True)
    table.add_column("detail", overflow="fold")
    for result in results:
        table.add_row(result.name, f"[{styles[result.status]}]{result.status}[/]", result.detail,
                      )
    Console(highlight=False).print(table)
    bad = {FAIL, WARN} if strict else {FAIL}
    failed = [r for r in results if r.status in bad]
    if failed:
        click.echo(f"{len(failed)} check(s) failed", err=True)
        return 1
    return 0


# -- demo -----------------------------------------------------------------------------------


@cli.command(epilog="Exit codes: 0 the demo ran and its audit chain verified, 1 something "
                    "in it failed.")
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              default=Path("demo-output"), show_default=True,
              help="Where to write the logs and report.html (emptied of old demo files).")
@click.option("--pause/--no-pause", default=None,
              help="Pause between steps so they can be followed (default: when on a terminal).")
def demo(directory: Path, pause: bool | None) -> int:
    """Run the example apps with secmon through a scripted day of attacks.

    No services, no configuration: the Django, Flask and FastAPI example projects run
    in this process; normal logins, a brute-force run, credential stuffing, admin-page
    probing, a disguised upload, a rate-limit flood, impossible travel and a permission
    grant are played against them. Events and alerts are shown as they happen, the audit
    chain is verified, and the logs and report.html are written to --dir.
    """
    missing = _missing_requirements("demo")
    if missing:
        raise click.ClickException(f"demo: the example projects need {', '.join(missing)} "
                                   f'(not installed here): pip install "secmon[demo]"')
    from .demo import DemoError, run_demo

    try:
        return run_demo(directory, pause=sys.stdout.isatty() if pause is None else pause)
    except DemoError as exc:
        raise click.ClickException(f"demo: {exc}") from None
    except ModuleNotFoundError as exc:
        if not exc.name or exc.name.partition(".")[0] == "secmon":
            raise
        raise click.ClickException(f"demo: the example projects import {exc.name} (not "
                                   f'installed here): pip install "secmon[demo]"') from None
    except OSError as exc:
        raise InputProblem(f"demo: cannot use {directory}: {exc.strerror or exc}") from None


_EXTRA_REQUIREMENT = re.compile(
    r"""^([A-Za-z0-9][A-Za-z0-9._-]*)[^;]*;\s*extra\s*==\s*["']([^"']+)["']\s*$""")


def _missing_requirements(extra: str) -> list[str]:
    """The distributions of one of secmon's extras that are not installed, by name."""
    from importlib import metadata

    try:
        requirements = metadata.requires("secmon") or []
    except metadata.PackageNotFoundError:  # run from a bare source tree: nothing to compare
        return []
    missing = []
    for requirement in requirements:
        match = _EXTRA_REQUIREMENT.match(requirement)
        if match is None or match.group(2) != extra:
            continue
        try:
            metadata.distribution(match.group(1))
        except metadata.PackageNotFoundError:
            missing.append(match.group(1))
    return missing


def main() -> None:
    cli(prog_name="secmon")

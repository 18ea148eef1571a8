"""The day at the shop: the steps played against the apps, then the audit trail verified."""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from .apps import DjangoSite, FastAPIShop, FlaskShop, examples_root, load_module
from .clock import ScriptedDay
from .inbox import AlertInbox
from .screen import Screen
from .world import ALICE_PASSWORD, DEMO_AUDIT_KEY, STUFFED, WEBHOOK_SECRET

# What the day must show; the demo fails (exit 1) when one of them did not happen.
EXPECTED = frozenset({
    "user_created", "authn_login_success", "authz_fail", "secmon_privilege_probe",
    "privilege_permissions_changed", "authz_admin", "authn_login_fail", "authn_login_fail_max",
    "secmon_credential_stuffing", "upload_validation", "excess_rate_limit_exceeded",
    "secmon_excess_429", "authn_impossible_travel",
})
FIRST_STEP = "07:00"


def _settings_env(directory: Path, inbox: AlertInbox) -> dict[str, str]:
    """What a user would put in the environment; the apps read it as they always do."""
    return {
        # The Django site keeps its database, cache and logs (LOG_DIR) here.
        "DJANGO_SITE_DATA": str(directory),
        "DJANGO_SETTINGS_MODULE": "mysite.settings",
        # As a production site runs: no debug pages, no tracebacks on the console for a 403.
        "DJANGO_DEBUG": "0",
        # The shops' own settings, so that a value left in the environment changes nothing.
        "SHOP_ALICE_PASSWORD": ALICE_PASSWORD,
        "SHOP_RATELIMIT_STORAGE_URI": "memory://",
        "SECMON_LOG_DIR": str(directory / "logs"),
        "SECMON_AUDIT_KEY": DEMO_AUDIT_KEY,
        "SECMON_ENVIRONMENT": "development",
        "SECMON_USERNAME_MODE": "plain",
        "SECMON_GEO_RESOLVER": "secmon.demo:demo_location",
        "SECMON_ALERTS": orjson.dumps([{"type": "webhook", "name": "demo-webhook",
                                        "url": inbox.url, "secret": WEBHOOK_SECRET}]).decode(),
        "SECMON_CHECKPOINT_INTERVAL": "3600",
    }


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """Exactly these SECMON_* variables (and the others given) while the demo runs."""
    replaced = {name for name in os.environ if name.startswith("SECMON_")} | set(values)
    saved = {name: os.environ.get(name) for name in replaced}
    for name in replaced:
        os.environ.pop(name, None)
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _flush() -> None:
    """Deliver what the process-wide pipeline holds (alerts included) before showing it."""
    from ..pipeline import flush

    flush(timeout=5.0)


def _prepare(directory: Path) -> None:
    """Start from nothing: remove what an earlier demo run left (and nothing else)."""
    directory.mkdir(parents=True, exist_ok=True)
    for name in ("logs", "cache", "tamper-check"):
        shutil.rmtree(directory / name, ignore_errors=True)
    for name in ("db.sqlite3", "alerts.jsonl", "report.html"):
        (directory / name).unlink(missing_ok=True)
    (directory / "logs").mkdir()


def run_demo(directory: Path, pause: bool = False, console: Console | None = None) -> int:
    """Play the day, verify the audit chain, write the report; 0 when all went as shown.

    Raises DemoError when the example projects are missing or do not behave as expected.
    """
    console = console or Console(highlight=False)
    root = examples_root()
    directory = directory.resolve()
    _prepare(directory)
    started = time.monotonic()
    day = ScriptedDay.yesterday(FIRST_STEP)
    console.print(Panel(
        "A day at a small shop that runs three apps - Django, Flask and FastAPI - each with "
        "secmon wired in as its README shows. Requests are played against them in this "
        "process; under each step are the events secmon wrote and the alerts it raised "
        "(\"signed #n\": the event's place in its app's hash-chained audit trail). "
        f"The day is {day.day:%A %d %B %Y}: events carry its times (UTC), a second per "
        "request, and the detection rules measure their windows on the same clock.",
        title="secmon demo", border_style="cyan"))
    from ..testing import capture_events

    with AlertInbox(directory / "alerts.jsonl") as inbox, capture_events() as events, \
            _environment(_settings_env(directory, inbox)), day.running():
        screen = Screen(console, events, inbox, pause, day)
        apps: list[Any] = []
        try:
            _play(root, screen, apps)
        finally:
            _flush()
            for app in apps:
                app.close()
            # The apps are done: their pipelines write their final checkpoints now.
            from ..config import Settings
            from ..pipeline import configure

            configure(Settings.build(env={}, enabled=False))
        screen.show(lambda: None)
    ok = _finish(directory, console, events, inbox, time.monotonic() - started)
    return 0 if ok else 1


def _play(root: Path, screen: Screen, apps: list[Any]) -> None:
    # Django first: its app config makes its settings the process-wide configuration, and
    # the FastAPI example's secmon.configure() at import replaces that; Flask keeps its own.
    django = DjangoSite(root, screen)
    apps.append(django)
    screen.step(FIRST_STEP, django.label, "The site opens: its accounts are created")
    django.open()
    screen.show(_flush)

    screen.step("08:30", django.label, "Alice and the manager log in at the office in Berlin")
    alice = django.login("198.51.100.7", "alice")
    django.login("198.51.100.8", "manager")
    screen.show(_flush)

    screen.step("09:40", django.label,
                "Alice opens customer records she has no permission for, one after another")
    django.probe(alice)
    screen.show(_flush)

    screen.step("10:15", django.label,
                "The admin grants alice portal.view_customer in the Django admin")
    django.grant(django.login("198.51.100.9", "admin"), "alice", "portal.view_customer")
    screen.show(_flush)

    flask = FlaskShop(load_module(root / "flask_app" / "app.py", "secmon_demo_flask_shop"),
                      screen)
    apps.append(flask)
    screen.step("11:02", flask.label, "Brute force: 8 wrong passwords for bob from Singapore")
    flask.brute_force()
    screen.show(flask.flush)

    screen.step("12:20", flask.label,
                f"Credential stuffing: {len(STUFFED)} leaked e-mail/password pairs from one IP")
    flask.stuffing()
    screen.show(flask.flush)

    screen.step("13:05", flask.label,
                "A Windows executable renamed holiday.jpg, uploaded as an avatar")
    flask.disguised_upload()
    screen.show(flask.flush)

    fastapi = FastAPIShop(load_module(root / "fastapi_app" / "main.py",
                                      "secmon_demo_fastapi_shop"), screen)
    apps.append(fastapi)
    screen.step("14:30", fastapi.label, "Alice logs in to the shop API from the office")
    fastapi.run(fastapi.login("198.51.100.7", "alice", ALICE_PASSWORD))
    screen.show(_flush)

    screen.step("14:41", fastapi.label, "A scraper floods the search API (limit: 5 a minute)")
    fastapi.run(fastapi.flood())
    screen.show(_flush)

    screen.step("14:47", fastapi.label,
                "Alice's password is used from Sydney, minutes after her Berlin login")
    fastapi.run(fastapi.login("192.0.2.44", "alice", ALICE_PASSWORD))
    screen.show(_flush)


def _finish(directory: Path, console: Console, events: list[dict[str, Any]],
            inbox: AlertInbox, elapsed: float) -> bool:
    from ..config import Settings
    from ..report import write_report
    from ..verify import verify_files

    logs = directory / "logs"
    audit = logs / "audit.log"
    keys = {"k1": DEMO_AUDIT_KEY.encode()}
    console.print()
    console.rule("[bold]the audit trail")
    verdict = verify_files([audit], keys)
    style = "bold green" if verdict.ok else "bold red"
    console.print(f"secmon verify {audit}")
    lines = verdict.lines()
    for line in lines[:-1]:
        console.print(f"  {escape(line)}")
    console.print(f"  [{style}]{escape(lines[-1])}[/]")
    tampered = _tamper_check(directory, console, keys)

    settings = Settings.build(env={}, audit_key=DEMO_AUDIT_KEY, environment="development")
    write_report([str(logs / "security.log"), str(audit)], directory / "report.html",
                 settings=settings, title="secmon demo - a day at the shop")

    console.print()
    console.rule("[bold]what was written")
    detections = sum(e.get("category") == "intrusion_detection" for e in events)
    described = {
        logs / "security.log": f"every event, one JSON line each ({len(events)} events)",
        audit: "the audit events, hash-chained (HMAC-SHA256), from each app's process chain",
        logs / "audit.checkpoints": "how long each chain was, so a cut-off tail shows",
        directory / "alerts.jsonl": f"the {len(inbox.received)} alerts the webhook received",
        directory / "report.html": "charts, top sources, detections, audit-chain status",
        directory / "db.sqlite3": "the Django site's database",
    }
    table = Table(show_header=False, box=None, padding=(0, 2))
    for path, what in described.items():
        if path.exists():
            table.add_row(escape(str(path)), what)
    console.print(table)
    console.print()
    console.print("[bold]Try:[/]")
    for command in (
        f"secmon query {logs}/security.log --failed-logins-by ip",
        f"secmon query {logs}/security.log --alerts",
        f"secmon query {logs}/security.log --timeline alice",
        f"SECMON_AUDIT_KEY={DEMO_AUDIT_KEY} secmon verify {audit}",
        f"open {directory}/report.html   (any browser; it loads nothing from the network)",
    ):
        console.print(f"  [cyan]{escape(command)}[/]")
    console.print()
    console.print(f"{len(events)} events, {detections} detections, {len(inbox.received)} "
                  f"alerts delivered, in {elapsed:.0f}s.")
    missing = sorted(EXPECTED - {str(e.get("event_type")) for e in events})
    if missing:
        console.print(f"[bold red]The day should also have produced: {', '.join(missing)}[/]")
    return verdict.ok and tampered and not missing


def _tamper_check(directory: Path, console: Console, keys: dict[str, bytes]) -> bool:
    """Change one record in a copy of the audit log; verify must name that record."""
    from ..verify import verify_files

    original = directory / "logs"
    copy_dir = directory / "tamper-check"
    copy_dir.mkdir()
    copy = copy_dir / "audit.log"
    shutil.copy(original / "audit.log", copy)
    shutil.copy(original / "audit.checkpoints", copy_dir / "audit.checkpoints")
    lines = copy.read_bytes().splitlines()
    target = next(i for i, line in enumerate(lines) if b'"privilege_permissions_changed"' in line
                  and b'"portal.view_customer"' in line and b'"actor' not in line[:0])
    record = orjson.loads(lines[target])
    record["changes"] = {"permission": {"added": ["auth.add_user"]}}
    lines[target] = orjson.dumps(record)
    copy.write_bytes(b"\n".join(lines) + b"\n")
    verdict = verify_files([copy], keys)
    console.print()
    console.print(f"Someone rewrites the permission granted on line {target + 1} of a copy "
                  f"({copy}):")
    for line in verdict.lines()[1:]:
        console.print(f"  [red]{escape(line)}[/]")
    return not verdict.ok and any(f.line == target + 1 for f in verdict.findings)

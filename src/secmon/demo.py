"""`secmon demo`: the example apps, wired as their users wire them, through a day of attacks."""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import importlib.util
import io
import ipaddress
import os
import re
import shutil
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import orjson
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

# Not a secret: printed below so that `secmon verify` can be tried on the demo's logs.
DEMO_AUDIT_KEY = "secmon-demo-audit-key-0f3a9c5e7b21d486-not-for-production"
WEBHOOK_SECRET = "secmon-demo-webhook-secret"  # noqa: S105 - the demo's own receiver
SCRAPER_USER_AGENT = "python-requests/2.32 (shop-scraper)"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"

# Documentation address ranges (RFC 5737), placed on the map for the demo.
LOCATIONS: dict[str, tuple[float, float, str, str]] = {
    "198.51.100.0/24": (52.52, 13.40, "DE", "Berlin"),  # the office
    "192.0.2.0/24": (-33.87, 151.21, "AU", "Sydney"),
    "203.0.113.0/25": (1.35, 103.82, "SG", "Singapore"),
    "203.0.113.128/25": (55.75, 37.62, "RU", "Moscow"),
}
_NETWORKS = [(ipaddress.ip_network(net), place) for net, place in LOCATIONS.items()]


def demo_location(ip: str) -> dict[str, Any] | None:
    """The demo's GEO_RESOLVER: where each documentation address range "is"."""
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return None
    for network, (latitude, longitude, country, _) in _NETWORKS:
        if address in network:
            return {"latitude": latitude, "longitude": longitude, "country": country}
    return None


class DemoError(Exception):
    """The demo cannot run here (no example projects, a failed step)."""


# -- alerts: a webhook receiver in this process -----------------------------------------------


class AlertInbox:
    """Receives the alert webhooks secmon sends, checks their signature, keeps them."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.received: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                from .outputs.alerts import SIGNATURE_HEADER, sign

                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                expected = "sha256=" + sign(WEBHOOK_SECRET.encode(), body)
                signed = hmac.compare_digest(self.headers.get(SIGNATURE_HEADER, ""), expected)
                self.send_response(204 if signed else 401)
                self.end_headers()
                if signed:
                    inbox.keep(orjson.loads(body))

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="secmon-demo-webhook")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/alerts"

    def keep(self, alert: dict[str, Any]) -> None:
        with self._lock:
            self.received.append(alert)
            with self.path.open("ab") as handle:
                handle.write(orjson.dumps(alert) + b"\n")

    def __enter__(self) -> AlertInbox:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


# -- the screen ---------------------------------------------------------------------------------


LEVEL_STYLES = {"info": "green", "warning": "yellow", "error": "red", "critical": "bold red"}
SHOWN_REPEATS = 2


@dataclass
class Screen:
    """Prints each step, the requests it made, and the events and alerts they caused."""

    console: Console
    events: list[dict[str, Any]]
    inbox: AlertInbox
    pause: bool
    shown: int = 0
    alerts_shown: int = 0
    requests: Counter[tuple[str, str, int]] = field(default_factory=Counter)
    steps: list[str] = field(default_factory=list)

    def step(self, clock: str, app: str, title: str) -> None:
        self.steps.append(title)
        self.console.print()
        self.console.print(f"[bold cyan]{clock}[/]  [bold]{escape(title)}[/]  [dim]({app})[/]")

    def request(self, method: str, path: str, status: int) -> None:
        # /customers/7/ and /customers/8/ are one line: /customers/<id>/
        shown = re.sub(r"/\d+(?=/|$)", "/<id>", path.split("?")[0])
        self.requests[method, shown, status] += 1

    def show(self, flush: Callable[[], None]) -> None:
        """After a step: what was requested, then every event and alert it caused."""
        flush()
        for (method, path, status), count in self.requests.items():
            times = f" x{count}" if count > 1 else ""
            self.console.print(f"   [dim]{method} {escape(path)}{times} -> {status}[/]")
        self.requests.clear()
        new = self.events[self.shown:]
        self.shown = len(self.events)
        run: list[dict[str, Any]] = []
        for event in [*new, None]:
            if event is not None and run and event.get("event_type") == run[-1].get("event_type"):
                run.append(event)
                continue
            self._print_run(run)
            run = [event] if event is not None else []
        for alert in self.inbox.received[self.alerts_shown:]:
            self.console.print(f"   [bold magenta]-> webhook[/] received the alert "
                               f"[bold]{escape(str(alert.get('rule')))}[/] "
                               f"(severity {escape(str(alert.get('severity')))}, "
                               "signature verified)")
        self.alerts_shown = len(self.inbox.received)
        if self.pause:
            time.sleep(0.8)

    def _print_run(self, run: list[dict[str, Any]]) -> None:
        for event in run[:SHOWN_REPEATS]:
            self._print_event(event)
        if len(run) > SHOWN_REPEATS:
            self.console.print(f"   [dim]... and {len(run) - SHOWN_REPEATS} more "
                               f"{escape(str(run[0].get('event_type')))}[/]")

    def _print_event(self, event: dict[str, Any]) -> None:
        kind = escape(str(event.get("event_type")))
        message = escape(str(event.get("event")))
        if event.get("category") == "intrusion_detection":
            self.console.print(f"   [bold white on red] ALERT [/] [bold red]{kind}[/]: {message}")
            return
        level = str(event.get("level"))
        signed = f" [dim]signed #{event['seq']}[/]" if "seq" in event else ""
        self.console.print(f"   [{LEVEL_STYLES.get(level, '')}]{level:<8}[/] {kind:<30} "
                           f"{message}{signed}")


# -- the example apps ---------------------------------------------------------------------------


def examples_root() -> Path:
    """The example projects: those the wheel ships in the package, or a source checkout's."""
    for candidate in (Path(__file__).resolve().parent / "example_projects",
                      Path(__file__).resolve().parents[2] / "example_projects",
                      Path.cwd() / "example_projects"):
        if candidate.is_dir():
            return candidate
    raise DemoError("the example projects were not found: reinstall secmon, or run "
                    "`make demo` in a clone of the secmon repository")


def load_module(path: Path, name: str) -> ModuleType:
    """Import an example app from its file, with its directory importable for its siblings."""
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise DemoError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module


_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def _csrf(html: str) -> str:
    match = _CSRF.search(html)
    if match is None:
        raise DemoError("the Flask shop's form has no csrf_token")
    return match.group(1) or match.group(2)


SITE_PASSWORD = "demo-site-password-4721"  # noqa: S105 - the demo accounts' password
ALICE_PASSWORD = "alice-wonderland-42"  # noqa: S105 - the shops' demo account


class DjangoSite:
    """The Django example: its users are created, log in, probe, and get a permission."""

    label = "Django site"

    def __init__(self, root: Path, screen: Screen) -> None:
        self.screen = screen
        self.path = str(root / "django_site")
        sys.path.insert(0, self.path)
        import django

        django.setup()

    def open(self) -> None:
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)
        call_command("seed_demo", password=SITE_PASSWORD, stdout=io.StringIO())

    def client(self, ip: str) -> Any:
        from django.test import Client

        return Client(REMOTE_ADDR=ip, HTTP_HOST="localhost", HTTP_USER_AGENT=BROWSER)

    def _call(self, client: Any, method: str, path: str, data: Any = None) -> Any:
        response = client.post(path, data) if method == "POST" else client.get(path)
        self.screen.request(method, path, response.status_code)
        return response

    def login(self, ip: str, username: str) -> Any:
        client = self.client(ip)
        self._call(client, "POST", "/accounts/login/",
                   {"username": username, "password": SITE_PASSWORD})
        return client

    def probe(self, client: Any) -> None:
        self._call(client, "GET", "/customers/")
        for pk in range(1, 12):
            self._call(client, "GET", f"/customers/{pk}/")

    def grant(self, admin: Any, username: str, permission: str) -> None:
        """What the admin does in the Django admin: tick a permission on the user's page."""
        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import Permission

        user = get_user_model().objects.get(username=username)
        app_label, codename = permission.split(".")
        chosen = Permission.objects.get(content_type__app_label=app_label, codename=codename)
        page = f"/admin/auth/user/{user.pk}/change/"
        form = _form_fields(self._call(admin, "GET", page).content.decode())
        form["user_permissions"] = [str(chosen.pk)]
        form["_save"] = "Save"
        self._call(admin, "POST", page, form)

    def close(self) -> None:
        sys.path.remove(self.path)


_INPUT = re.compile(r"<input\b[^>]*>")
_ATTRIBUTE = re.compile(r'([\w-]+)="([^"]*)"')


def _form_fields(html: str) -> dict[str, Any]:
    """The values a browser would submit from a page's inputs (text, hidden, checked boxes)."""
    import html as markup

    fields: dict[str, Any] = {}
    for tag in _INPUT.findall(html):
        attributes = dict(_ATTRIBUTE.findall(tag))
        name, kind = attributes.get("name"), attributes.get("type", "text")
        if not name or kind in ("submit", "button", "file"):
            continue
        if kind in ("checkbox", "radio"):
            if " checked" in tag:
                fields[name] = markup.unescape(attributes.get("value", "on"))
            continue
        fields[name] = markup.unescape(attributes.get("value", ""))
    return fields


STUFFED = [f"{name}@example.com" for name in (
    "jessica.m", "tom.h", "priya.k", "lee.w", "maria.g", "chen.y", "olga.p", "sam.r", "ana.l",
    "ben.t", "fatima.a", "george.b", "hana.s", "ivan.d", "julia.f", "kofi.o", "lena.v",
    "marco.n", "nina.e", "omar.z", "paula.c", "quinn.j", "rosa.u", "sven.i")]


class FlaskShop:
    """The Flask example: brute force, credential stuffing, a disguised upload."""

    label = "Flask shop"

    def __init__(self, module: ModuleType, screen: Screen) -> None:
        self.app = module.app
        self.screen = screen

    def client(self, ip: str, agent: str = BROWSER) -> Any:
        client = self.app.test_client()
        client.environ_base.update(REMOTE_ADDR=ip, HTTP_USER_AGENT=agent)
        return client

    def _login(self, client: Any, token: str, username: str, password: str) -> int:
        response = client.post("/login", data={"csrf_token": token, "username": username,
                                               "password": password})
        self.screen.request("POST", "/login", response.status_code)
        return int(response.status_code)

    def _token(self, client: Any, path: str = "/login") -> str:
        page = client.get(path)
        self.screen.request("GET", path, page.status_code)
        return _csrf(page.get_data(as_text=True))

    def brute_force(self) -> None:
        client = self.client("203.0.113.9")
        token = self._token(client)
        for attempt in ("bob123", "password", "bob2024", "letmein", "Bob!", "qwerty", "bob",
                        "123456"):
            self._login(client, token, "bob", attempt)

    def stuffing(self) -> None:
        client = self.client("203.0.113.77", "python-httpx/0.27")
        token = self._token(client)
        for index, email in enumerate(STUFFED):
            self._login(client, token, email, f"Summer{2020 + index % 5}!")

    def disguised_upload(self) -> None:
        client = self.client("198.51.100.23")
        token = self._token(client)
        self._login(client, token, "alice", ALICE_PASSWORD)
        token = self._token(client, "/avatar")
        executable = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + bytes(54) + b"PE\x00\x00" + bytes(64)
        response = client.post("/avatar", data={
            "csrf_token": token, "avatar": (io.BytesIO(executable), "holiday.jpg",
                                            "image/jpeg")}, content_type="multipart/form-data")
        self.screen.request("POST", "/avatar", response.status_code)

    def flush(self) -> None:
        # This app has a pipeline of its own (secmon was configured before it started).
        self.app.extensions["secmon"].current_pipeline().flush(timeout=5.0)

    def close(self) -> None:
        self.app.extensions["secmon"].close()


class FastAPIShop:
    """The FastAPI example: a normal login, a rate-limit flood, a login from far away."""

    label = "FastAPI shop"

    def __init__(self, module: ModuleType, screen: Screen) -> None:
        self.app = module.app
        self.screen = screen

    @contextlib.asynccontextmanager
    async def client(self, ip: str, agent: str = BROWSER) -> Any:
        import httpx

        transport = httpx.ASGITransport(app=self.app, client=(ip, 51000))
        async with httpx.AsyncClient(transport=transport, base_url="http://fastapi-shop.test",
                                     headers={"user-agent": agent}) as client:
            yield client

    async def _call(self, client: Any, method: str, path: str, **kwargs: Any) -> Any:
        response = await client.request(method, path, **kwargs)
        self.screen.request(method, path, response.status_code)
        return response

    async def login(self, ip: str, username: str, password: str) -> str | None:
        async with self.client(ip) as client:
            response = await self._call(client, "POST", "/token",
                                        data={"username": username, "password": password})
            token = response.json().get("access_token") if response.status_code == 200 else None
            if token:
                await self._call(client, "GET", "/me",
                                 headers={"authorization": f"Bearer {token}"})
            return token

    async def flood(self) -> None:
        async with self.client("203.0.113.200", SCRAPER_USER_AGENT) as client:
            for page in range(30):
                await self._call(client, "GET", f"/search?q=lamp&page={page}")

    def run(self, coroutine: Any) -> None:
        asyncio.run(coroutine)

    def close(self) -> None:
        pass


# -- the day ------------------------------------------------------------------------------------

# What the day must show; the demo fails (exit 1) when one of them did not happen.
EXPECTED = frozenset({
    "user_created", "authn_login_success", "authz_fail", "secmon_privilege_probe",
    "privilege_permissions_changed", "authz_admin", "authn_login_fail", "authn_login_fail_max",
    "secmon_credential_stuffing", "upload_validation", "excess_rate_limit_exceeded",
    "secmon_excess_429", "authn_impossible_travel",
})


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
    import secmon

    secmon.flush(timeout=5.0)


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
    console.print(Panel(
        "A day at a small shop that runs three apps - Django, Flask and FastAPI - each with "
        "secmon wired in as its README shows. Requests are played against them in this "
        "process; under each step are the events secmon wrote and the alerts it raised "
        "(\"signed #n\": the event's place in its app's hash-chained audit trail).",
        title="secmon demo", border_style="cyan"))
    from .testing import capture_events

    with AlertInbox(directory / "alerts.jsonl") as inbox, capture_events() as events, \
            _environment(_settings_env(directory, inbox)):
        screen = Screen(console, events, inbox, pause)
        apps: list[Any] = []
        try:
            _play(root, screen, apps)
        finally:
            _flush()
            for app in apps:
                app.close()
            # The apps are done: their pipelines write their final checkpoints now.
            import secmon

            secmon.configure(secmon.Settings.build(env={}, enabled=False))
        screen.show(lambda: None)
    ok = _finish(directory, console, events, inbox, time.monotonic() - started)
    return 0 if ok else 1


def _play(root: Path, screen: Screen, apps: list[Any]) -> None:
    # Django first: its app config makes its settings the process-wide configuration, and
    # the FastAPI example's secmon.configure() at import replaces that; Flask keeps its own.
    django = DjangoSite(root, screen)
    apps.append(django)
    screen.step("07:00", django.label, "The site opens: its accounts are created")
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
    from .config import Settings
    from .report import write_report
    from .verify import verify_files

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
    from .verify import verify_files

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

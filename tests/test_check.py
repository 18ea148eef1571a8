from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from secmon.check import Target, audit_key, run_checks, spool
from secmon.cli import cli
from secmon.config import Settings

STRONG_KEY = "9f2c4e7a1b3d5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6"
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def module(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Write a uniquely named importable module from source; returns its name."""
    monkeypatch.syspath_prepend(str(tmp_path))
    made: list[str] = []

    def make(source: str) -> str:
        name = f"checked_{uuid.uuid4().hex[:8]}"
        (tmp_path / f"{name}.py").write_text(textwrap.dedent(source))
        made.append(name)
        return name

    yield make
    for name in made:
        sys.modules.pop(name, None)


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, ["check", *args])


def rows(result: Result) -> dict[str, str]:
    """check name -> result word, read from the printed table."""
    found = {}
    for line in result.stdout.splitlines():
        cells = [c.strip() for c in line.strip("│┃ ").split("│")]
        if len(cells) == 3 and cells[0] and cells[1] in ("ok", "warn", "fail", "skip"):
            found[cells[0]] = cells[1]
    return found


def settings_module(module: Any, **settings: Any) -> str:
    name = module(f"SECMON = {settings!r}\n")
    return f"{name}:SECMON"


def test_a_sound_configuration_passes(module: Any, tmp_path: Path) -> None:
    spec = settings_module(module, AUDIT_KEY=STRONG_KEY, LOG_DIR=str(tmp_path / "logs"))
    result = run("--settings", spec)
    assert result.exit_code == 0, result.output
    found = rows(result)
    assert found["settings"] == found["audit key"] == found["log directory"] == "ok"
    assert found["usernames"] == found["detection"] == found["state backend"] == "ok"
    assert found["framework"] == "skip"


@pytest.mark.parametrize(
    ("settings", "status", "words"),
    [
        ({}, "fail", "AUDIT_KEY is not set"),
        ({"AUDIT_KEY": "changeme" * 4}, "fail", "placeholder"),
        ({"AUDIT_KEY": "short", "ENVIRONMENT": "development"}, "warn", "only 5 bytes"),
        ({"ENVIRONMENT": "development"}, "warn", "AUDIT_KEY is not set"),
    ],
)
def test_audit_key_must_be_set_and_strong(settings: dict[str, Any], status: str,
                                          words: str) -> None:
    found = audit_key(Settings.build(settings, env={}))
    assert (found.status, words in found.detail) == (status, True)


def test_a_missing_audit_key_says_how_to_set_it() -> None:
    found = audit_key(Settings.build(env={}))
    assert found.status == "fail"  # production
    assert found.detail == (
        "AUDIT_KEY is not set: audit events are written unsigned, so the audit trail is not "
        "protected against tampering and `secmon verify` cannot check it. Set "
        "SECMON_AUDIT_KEY (or the AUDIT_KEY setting) to a random secret of at least 32 "
        "bytes: python -c 'import secrets; print(secrets.token_hex(32))'")


def test_spool_path_is_reported_and_best_elsewhere(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    assert "set SPOOL_PATH" in spool(Settings.build(env={}, log_dir=logs)).detail
    same = spool(Settings.build(env={}, log_dir=logs, spool_path=tmp_path / "spool"))
    assert same.status == "warn" and "on the file system of the logs" in same.detail
    blocked = tmp_path / "a-file"
    blocked.write_text("x")
    bad = spool(Settings.build(env={}, log_dir=logs, spool_path=blocked / "spool"))
    assert bad.status == "fail" and bad.detail.startswith("SPOOL_PATH: ")
    elsewhere = spool(Settings.build(env={}, log_dir=Path("/dev/shm/secmon-logs"),
                                     spool_path=tmp_path / "spool", spool_max_records=500))
    assert Path("/dev/shm").stat().st_dev != tmp_path.stat().st_dev
    assert elsewhere.status == "ok" and "up to 500 records" in elsewhere.detail


def test_warnings_fail_only_with_strict(module: Any, tmp_path: Path) -> None:
    spec = settings_module(module, ENVIRONMENT="development", LOG_DIR=str(tmp_path))
    assert run("--settings", spec).exit_code == 0
    strict = run("--settings", spec, "--strict")
    assert strict.exit_code == 1
    assert "check(s) failed" in strict.stderr


def test_invalid_settings_fail_naming_the_key(module: Any) -> None:
    result = run("--settings", settings_module(module, MIN_LEVEL="loud"))
    assert result.exit_code == 1
    assert rows(result)["settings"] == "fail"
    assert "MIN_LEVEL" in result.stdout


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:
    monkeypatch.setenv("SECMON_AUDIT_KEY", STRONG_KEY)
    monkeypatch.setenv("SECMON_LOG_DIR", str(tmp_path / "file.txt" / "logs"))
    (tmp_path / "file.txt").write_text("not a directory")
    result = run()
    assert result.exit_code == 1
    assert rows(result)["audit key"] == "ok"
    assert rows(result)["log directory"] == "fail"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("nosuchmodule_xyz:SECMON", "cannot import nosuchmodule_xyz"),
        ("json:NOPE", "has no attribute 'NOPE'"),
        ("json", "expected module:attribute"),
        ("json:dumps", "expected a dict or secmon.Settings"),
    ],
)
def test_bad_settings_option_is_a_usage_error(spec: str, message: str) -> None:
    result = run("--settings", spec)
    assert result.exit_code == 2
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


# -- outputs, as a dry run --------------------------------------------------------------------


@pytest.fixture
def tcp_listener() -> Iterator[tuple[int, list[bytes]]]:
    """A TCP server on loopback that records what each connection sent."""
    server = socket.create_server(("127.0.0.1", 0))
    received: list[bytes] = []

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                conn.settimeout(5)
                chunks = []
                while data := conn.recv(4096):
                    chunks.append(data)
                received.append(b"".join(chunks))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], received
    server.close()
    thread.join(timeout=5)


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[str]]]:
    requests: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            requests.append(self.path)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks/T000/SECRET", requests
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(received: list[bytes], count: int) -> None:
    deadline = time.monotonic() + 5
    while len(received) < count and time.monotonic() < deadline:
        time.sleep(0.02)


def test_reachable_outputs_pass_and_receive_nothing(
    tmp_path: Path, tcp_listener: tuple[int, list[bytes]], webhook: tuple[str, list[str]]
) -> None:
    port, received = tcp_listener
    url, requests = webhook
    settings = Settings.build({
        "AUDIT_KEY": STRONG_KEY, "LOG_DIR": str(tmp_path),
        "OUTPUTS": [{"type": "file", "path": "all.log"},
                    {"type": "syslog", "transport": "tcp", "host": "127.0.0.1", "port": port}],
        "ALERTS": [{"type": "webhook", "url": url, "secret": "s3cret-signing-key"},
                   {"type": "slack", "url": url}],
    }, env={})
    results = {r.name: r for r in run_checks(Target("test", settings))}
    assert results["OUTPUTS[0] file"].status == "ok"
    assert results["OUTPUTS[1] syslog"].status == "ok"
    assert results["ALERTS[0] webhook"].status == "ok"
    assert results["ALERTS[1] slack"].status == "ok"
    assert "SECRET" not in results["ALERTS[0] webhook"].detail  # the URL's secret path
    assert "nothing sent" in results["ALERTS[0] webhook"].detail
    _wait_for(received, 1)
    assert received == [b""]  # syslog: connected, sent nothing
    assert requests == []  # webhooks: no request at all
    assert not (tmp_path / "all.log").exists()


def test_unreachable_outputs_fail(tmp_path: Path) -> None:
    closed = free_port()
    settings = Settings.build({
        "AUDIT_KEY": STRONG_KEY, "LOG_DIR": str(tmp_path),
        "OUTPUTS": [{"type": "syslog", "transport": "tcp", "host": "127.0.0.1", "port": closed},
                    {"type": "syslog", "transport": "unix", "path": str(tmp_path / "nolog")}],
        "ALERTS": [{"type": "slack", "url": f"http://127.0.0.1:{closed}/x"}],
        "STATE_BACKEND": f"redis://127.0.0.1:{closed}/0",
    }, env={})
    results = {r.name: r for r in run_checks(Target("test", settings))}
    assert results["OUTPUTS[0] syslog"].status == "fail"
    assert "refused" in results["OUTPUTS[0] syslog"].detail.lower()
    assert results["OUTPUTS[1] syslog"].status == "fail"
    assert results["ALERTS[0] slack"].status == "fail"
    assert results["state backend"].status == "fail"
    assert "fails open" in results["state backend"].detail


def test_a_bad_output_option_fails_naming_it(module: Any, tmp_path: Path) -> None:
    spec = settings_module(module, AUDIT_KEY=STRONG_KEY, LOG_DIR=str(tmp_path),
                           ALERTS=[{"type": "slack", "url": "ftp://example.invalid/x"}])
    result = run("--settings", spec)
    assert result.exit_code == 1
    assert "ALERTS[0]" in result.stdout


@pytest.fixture
def private_redis() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.mark.redis
def test_redis_state_backend_answers_ping(private_redis: str, tmp_path: Path) -> None:
    settings = Settings.build({"AUDIT_KEY": STRONG_KEY, "LOG_DIR": str(tmp_path),
                               "STATE_BACKEND": private_redis}, env={})
    results = {r.name: r for r in run_checks(Target("test", settings))}
    assert results["state backend"].status == "ok"
    assert "PING answered" in results["state backend"].detail


# -- framework wiring -------------------------------------------------------------------------


FLASK_APP = """
from flask import Flask
{import_line}
app = Flask(__name__)
app.config["SECMON_AUDIT_KEY"] = {key!r}
app.config["SECMON_LOG_DIR"] = {log_dir!r}
{wire}
"""


@pytest.mark.parametrize("wired", [True, False])
def test_flask_wiring(module: Any, tmp_path: Path, wired: bool) -> None:
    name = module(FLASK_APP.format(
        import_line="from secmon.flask import SecMon" if wired else "",
        key=STRONG_KEY, log_dir=str(tmp_path), wire="SecMon(app)" if wired else ""))
    result = run("--app", f"{name}:app")
    assert rows(result)["Flask"] == ("ok" if wired else "fail")
    assert rows(result)["audit key"] == "ok"  # read from app.config
    assert result.exit_code == (0 if wired else 1)


FASTAPI_APP = """
from fastapi import FastAPI
from secmon.asgi import SecMonMiddleware
app = FastAPI()
{wire}
"""


@pytest.mark.parametrize("wire", [
    "app.add_middleware(SecMonMiddleware, settings={{'AUDIT_KEY': {key!r}, 'LOG_DIR': {dir!r}}})",
    "app = SecMonMiddleware(app, settings={{'AUDIT_KEY': {key!r}, 'LOG_DIR': {dir!r}}})",
    "",
])
def test_asgi_wiring(module: Any, tmp_path: Path, wire: str) -> None:
    name = module(FASTAPI_APP.format(wire=wire.format(key=STRONG_KEY, dir=str(tmp_path))))
    result = run("--app", f"{name}:app")
    found = rows(result)
    if wire:
        assert found["ASGI"] == "ok" and found["audit key"] == "ok"
        assert result.exit_code == 0, result.output
    else:
        assert found["ASGI"] == "fail"
        assert result.exit_code == 1


DJANGO_SETTINGS = """
SECRET_KEY = "x" * 50
INSTALLED_APPS = ["django.contrib.auth", "django.contrib.contenttypes"{app}]
MIDDLEWARE = [{middleware}]
DATABASES = {{}}
SECMON = {secmon!r}
"""
_AUTH = '"django.contrib.sessions.middleware.SessionMiddleware", ' \
        '"django.contrib.auth.middleware.AuthenticationMiddleware"'
_WIRED = (', "secmon.django"', _AUTH + ', "secmon.django.SecurityMiddleware"')


def django_project(tmp_path: Path, app: str, middleware: str,
                   secmon: dict[str, Any]) -> tuple[str, dict[str, str]]:
    """A Django settings module in tmp_path: its name, and an environment that finds it."""
    name = f"djsettings_{uuid.uuid4().hex[:8]}"
    (tmp_path / f"{name}.py").write_text(DJANGO_SETTINGS.format(
        app=app, middleware=middleware, secmon=secmon))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SECMON_", "DJANGO_"))}
    env.update(PYTHONPATH=str(tmp_path), COLUMNS="200")
    return name, env


def table(stdout: str) -> dict[str, tuple[str, str]]:
    """check name -> (result word, detail), read from the printed table."""
    found = {}
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.strip("│ ").split("│")]
        if len(cells) == 3:
            found[cells[0]] = (cells[1], cells[2])
    return found


@pytest.mark.parametrize(
    ("app", "middleware", "expected"),
    [
        (*_WIRED, {"Django app": "ok", "Django middleware": "ok"}),
        ("", _AUTH, {"Django app": "fail", "Django middleware": "fail"}),
        (', "secmon.django"', '"secmon.django.SecurityMiddleware", ' + _AUTH,
         {"Django app": "ok", "Django middleware": "warn"}),
    ],
)
@pytest.mark.parametrize("by_option", [False, True])
def test_django_wiring(tmp_path: Path, app: str, middleware: str,
                       expected: dict[str, str], by_option: bool) -> None:
    name, env = django_project(tmp_path, app, middleware,
                               {"AUDIT_KEY": STRONG_KEY, "LOG_DIR": str(tmp_path / "logs")})
    command = [str(Path(sys.executable).parent / "secmon"), "check"]
    if by_option:
        command += ["--settings", name]
    else:
        env["DJANGO_SETTINGS_MODULE"] = name
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)
    found = {check: status for check, (status, _) in table(done.stdout).items()}
    assert {k: found.get(k) for k in expected} == expected, done.stdout + done.stderr
    assert found["audit key"] == "ok"  # read from settings.SECMON
    assert done.returncode == (0 if "fail" not in expected.values() else 1)


def test_django_settings_with_a_misspelled_key(tmp_path: Path) -> None:
    name, env = django_project(tmp_path, *_WIRED, {"AUDIT_KY": STRONG_KEY})
    done = subprocess.run([str(Path(sys.executable).parent / "secmon"), "check",
                           "--settings", name], env=env, capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    found = table(done.stdout)
    assert found["settings"] == (
        "fail", "secmon setting AUDIT_KY: unknown setting; did you mean AUDIT_KEY?")
    # The app still loads, so the wiring is checked too.
    assert (found["Django app"][0], found["Django middleware"][0]) == ("ok", "ok")
    assert "Traceback" not in done.stdout + done.stderr
    assert done.returncode == 1


def test_django_settings_that_do_not_load(tmp_path: Path) -> None:
    name, env = django_project(tmp_path, ', "secmon.django", "no_such_app_xyz"', "", {})
    done = subprocess.run([str(Path(sys.executable).parent / "secmon"), "check",
                           "--settings", name], env=env, capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    found = table(done.stdout)
    problem = "ModuleNotFoundError: No module named 'no_such_app_xyz'"
    assert found["settings"] == ("fail", f"cannot load Django settings {name}: {problem}")
    assert found["Django"] == ("fail", f"cannot load settings: {problem}")  # not "reentrant"
    assert done.returncode == 1


@pytest.mark.postgres
def test_postgres_output_is_reached_without_writing(tmp_path: Path) -> None:
    import psycopg

    dsn = "postgresql://postgres@127.0.0.1:5432/postgres"
    closed = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"
    settings = Settings.build({"AUDIT_KEY": STRONG_KEY, "LOG_DIR": str(tmp_path), "OUTPUTS": [
        {"type": "postgres", "dsn": dsn, "table": "secmon_check_probe"},
        {"type": "postgres", "dsn": closed}]}, env={})
    results = {r.name: r for r in run_checks(Target("test", settings))}
    first, second = results["OUTPUTS[0] postgres"], results["OUTPUTS[1] postgres"]
    assert first.status == "ok" and "connected to 127.0.0.1:5432/postgres" in first.detail
    assert second.status == "fail"
    with psycopg.connect(dsn) as connection:  # a dry run: nothing was created
        found = connection.execute("SELECT to_regclass('secmon_check_probe')").fetchone()
    assert found == (None,)

"""The example projects under their real servers on loopback, and a private Redis to break.

The one place that starts an example: `make load` and the end-to-end tests both use it."""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "example_projects"
PYTHON = sys.executable
# Passwords of the demo accounts for this run (the examples read them from the environment).
PASSWORD = "load-" + secrets.token_hex(10)
FRAMEWORKS = ("django", "flask", "fastapi")
WORKERS = {"django": 4, "flask": 4, "fastapi": 2}
SERVER_NAMES = {"django": "gunicorn", "flask": "gunicorn", "fastapi": "uvicorn"}
# Servers an example can run under besides its default: Django's own development server.
OTHER_SERVERS = {"django": ("runserver",)}


class ServerError(RuntimeError):
    """A server did not start or answer; the message carries the end of its output."""


@dataclass
class ServerConfig:
    """What one server run needs: which example, with or without secmon, and its settings.

    ``app_env`` goes over the example's defaults here (the demo accounts share PASSWORD
    unless it names SHOP_*_PASSWORD), ``secmon_env`` over SECMON_LOG_DIR=``log_dir``.
    ``server`` is SERVER_NAMES[framework] unless one of OTHER_SERVERS is named.
    """

    framework: str
    workdir: Path
    secmon: bool = True
    secmon_env: dict[str, str] = field(default_factory=dict)
    app_env: dict[str, str] = field(default_factory=dict)
    workers: int | None = None
    server: str | None = None

    @property
    def log_dir(self) -> Path:
        """Where the example writes security.log and audit.log."""
        return self.workdir / "logs"


def free_listener() -> socket.socket:
    """A listening loopback socket on a port the OS picked; the server inherits it."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    return listener


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _base_env() -> dict[str, str]:
    # Nothing of the caller's secmon or app settings leaks into a run.
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("SECMON_", "SHOP_", "DJANGO_"))}


def _gunicorn_extra() -> list[str]:
    return ["--no-control-socket"] if int(version("gunicorn").split(".")[0]) >= 27 else []


class Server:
    """One example project under gunicorn (Django, Flask) or uvicorn (FastAPI), or Django's
    ``manage.py runserver`` (one process, no reloader)."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.framework = config.framework
        self.server = config.server or SERVER_NAMES[config.framework]
        known = (SERVER_NAMES[self.framework], *OTHER_SERVERS.get(self.framework, ()))
        if self.server not in known:
            raise ValueError(f"the {self.framework} example does not run under {self.server}")
        self.workers = 1 if self.server == "runserver" else (
            config.workers or WORKERS[config.framework])
        self.output = config.workdir / f"{self.server}.out"
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.env = self._env()

    # -- environment -------------------------------------------------------------------------

    def _env(self) -> dict[str, str]:
        config = self.config
        env = _base_env()
        if self.framework == "django":
            # The site's database and cache, and its logs/ (SECMON["LOG_DIR"] in settings.py).
            env.update(DJANGO_SITE_DATA=str(config.workdir), DJANGO_DEBUG="0",
                       DJANGO_SECRET_KEY=secrets.token_hex(32))
        else:
            env.update(SHOP_SECRET_KEY=secrets.token_hex(32), SHOP_ADMIN_PASSWORD=PASSWORD,
                       SHOP_ALICE_PASSWORD=PASSWORD, SHOP_BOB_PASSWORD=PASSWORD)
        env.update(config.app_env)
        if config.secmon:
            env["SECMON_LOG_DIR"] = str(config.log_dir)
            env.update(config.secmon_env)
        else:
            # The example without secmon: its wiring left out, and the helper calls in the
            # app's own code (secmon.login_failed, ...) switched off.
            env["DJANGO_SECMON" if self.framework == "django" else "SHOP_SECMON"] = "0"
            env["SECMON_ENABLED"] = "false"
        return env

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self, timeout: float = 120.0) -> Server:
        self.config.workdir.mkdir(parents=True, exist_ok=True)
        if self.framework == "django":
            self._django_setup()
        listener = free_listener()
        port = listener.getsockname()[1]
        fd = listener.fileno()
        inherits = self.server != "runserver"  # which binds the port itself
        if not inherits:
            listener.close()
        command, cwd = self._command(fd, port)
        with self.output.open("ab") as sink:
            self.process = subprocess.Popen(
                command, env=self.env, cwd=cwd, stdout=sink, stderr=subprocess.STDOUT,
                pass_fds=(fd,) if inherits else (),
            )
        listener.close()
        self.url = f"http://127.0.0.1:{port}"
        self._wait_until_up(timeout)
        return self

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _command(self, fd: int, port: int) -> tuple[list[str], Path]:
        workers = str(self.workers)
        if self.server == "runserver":
            # Without the reloader the process is the server; it builds its handler as the
            # reloader's child would (get_wsgi_application(), a second django.setup()).
            return [PYTHON, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"
                    ], EXAMPLES / "django_site"
        if self.framework == "django":
            return [PYTHON, "-m", "gunicorn", "--workers", workers, "--bind", f"fd://{fd}",
                    "--graceful-timeout", "30", "--log-level", "warning", *_gunicorn_extra(),
                    "mysite.wsgi:application"], EXAMPLES / "django_site"
        if self.framework == "flask":
            return [PYTHON, "-m", "gunicorn", "--workers", workers, "--bind", f"fd://{fd}",
                    "--chdir", str(EXAMPLES / "flask_app"), "--graceful-timeout", "30",
                    "--log-level", "warning", *_gunicorn_extra(), "app:app"], self.config.workdir
        # Idle connections stay open between phases: the example's bearer tokens live in the
        # worker that issued them, so a session keeps its connection (see profiles.py).
        return [PYTHON, "-m", "uvicorn", "main:app", "--app-dir", str(EXAMPLES / "fastapi_app"),
                "--fd", str(fd), "--workers", workers, "--no-proxy-headers",
                "--timeout-keep-alive", "300", "--log-level", "warning"], self.config.workdir

    def _django_setup(self) -> None:
        self.manage("migrate", "--noinput")
        self.manage("seed_demo", "--password", PASSWORD)

    def manage(self, *args: str) -> None:
        """A ``manage.py`` command of the Django site, in the server's environment."""
        done = subprocess.run([PYTHON, "manage.py", *args], cwd=EXAMPLES / "django_site",
                              env=self.env, capture_output=True, text=True, timeout=300)
        if done.returncode != 0:
            raise ServerError(f"manage.py {' '.join(args)} failed:\n{done.stdout}{done.stderr}")

    @property
    def health_path(self) -> str:
        return "/" if self.framework == "django" else "/health"

    def _wait_until_up(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        assert self.process is not None
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerError(f"{self.name} exited at start:\n{self.tail()}")
            try:
                if httpx.get(self.url + self.health_path, timeout=5).status_code == 200 and (
                    len(self.worker_pids()) >= self.forked_workers
                ):
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        self.stop()
        raise ServerError(f"{self.name} did not come up within {timeout:.0f} s:\n{self.tail()}")

    @property
    def name(self) -> str:
        what = "with secmon" if self.config.secmon else "without secmon"
        return f"{self.framework} under {self.server} ({self.workers} workers, {what})"

    @property
    def forked_workers(self) -> int:
        """How many worker processes the main process forks (uvicorn serves one itself)."""
        if self.server == "runserver" or (self.framework == "fastapi" and self.workers == 1):
            return 0
        return self.workers

    def worker_pids(self) -> list[int]:
        """The worker processes now serving (children of the server's main process)."""
        if self.process is None:
            return []
        pids = []
        for child in _children(self.process.pid):
            try:
                cmdline = Path(f"/proc/{child}/cmdline").read_bytes()
            except OSError:
                continue
            # uvicorn spawns its workers through multiprocessing; skip its resource tracker.
            if b"resource_tracker" not in cmdline:
                pids.append(child)
        return pids

    def kill_worker(self, patience: float = 3.0) -> int:
        """SIGKILL a worker, a busy one if one gets busy within ``patience`` seconds (so that
        the kill lands mid-request); the server's main process starts a new worker."""
        deadline = time.monotonic() + patience
        while True:
            pids = self.worker_pids()
            if not pids:
                raise ServerError(f"{self.name}: no worker to kill")
            before = {pid: _cpu_ticks(pid) for pid in pids}
            time.sleep(0.05)
            busy = {pid: _cpu_ticks(pid) - before[pid] for pid in pids}
            victim = max(pids, key=busy.__getitem__)
            if busy[victim] >= 4 or time.monotonic() > deadline:  # 4 ticks: 40 ms of 50
                os.kill(victim, signal.SIGKILL)
                return victim

    def stop(self, timeout: float = 60.0) -> int | None:
        """Graceful stop (SIGTERM: workers finish, flush and checkpoint); the exit status."""
        process = self.process
        if process is None:
            return None
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                workers = self.worker_pids()  # ours: children of our server, right now
                process.kill()
                for pid in workers:
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                process.wait(timeout=30)
        return process.returncode

    def tail(self, lines: int = 40) -> str:
        try:
            text = self.output.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def secmon_reports(self) -> list[str]:
        """What secmon wrote to the server's stderr (outages, recoveries, internal errors)."""
        try:
            text = self.output.read_text(errors="replace")
        except OSError:
            return []
        return [line for line in text.splitlines() if line.startswith("secmon:")]


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for task in tasks:
        try:
            text = Path(f"/proc/{pid}/task/{task}/children").read_text()
        except OSError:
            continue
        found.extend(int(part) for part in text.split())
    return found


def _cpu_ticks(pid: int) -> int:
    """User plus system CPU time a process has used so far, in clock ticks."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


class PrivateRedis:
    """A redis-server of our own on a free loopback port, to stop and start at will."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        binary = shutil.which("redis-server")
        if binary is None:
            raise ServerError("redis-server is not installed (make services)")
        self.binary = binary

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        with (self.workdir / "redis.out").open("ab") as sink:
            self.process = subprocess.Popen(
                [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--dir", str(self.workdir)],
                stdout=sink, stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
                    conn.sendall(b"PING\r\n")
                    if conn.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                time.sleep(0.05)
        raise ServerError(f"private redis-server on port {self.port} did not start")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.kill()  # an outage, not a shutdown
            process.wait(timeout=30)

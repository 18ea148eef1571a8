"""``secmon check``: is secmon configured well, can it reach its outputs, is it wired in."""

from __future__ import annotations

import importlib
import os
import socket
import ssl
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .config import ConfigError, Settings, from_prefixed
from .integrity import SET_THE_KEY, UNSIGNED

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"
TIMEOUT = 3.0
# Values people paste from examples; a key that is one of these is no secret.
_PLACEHOLDERS = {"changeme", "secret", "password", "test", "example", "dev", "development",
                 "insecure", "audit", "auditkey", "audit_key", "key", "xxx"}


@dataclass(frozen=True)
class Check:
    """One row of the table: what was checked, the verdict, and why."""

    name: str
    status: str
    detail: str


class SourceError(Exception):
    """``--settings`` or ``--app`` does not name something importable and usable."""


# -- where settings come from ---------------------------------------------------------------


def import_object(spec: str, option: str) -> Any:
    """``package.module:attr`` (or ``package.module.attr``) imported; errors name the option."""
    module_name, _, attr = spec.partition(":")
    if not attr and "." in spec:
        module_name, _, attr = spec.rpartition(".")
    if not module_name or not attr:
        raise SourceError(f"{option} {spec!r}: expected module:attribute, e.g. myapp.main:app")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise SourceError(f"{option} {spec!r}: cannot import {module_name} ({exc})") from None
    except Exception as exc:
        raise SourceError(
            f"{option} {spec!r}: importing {module_name} failed "
            f"({type(exc).__name__}: {exc})") from None
    try:
        return getattr(module, attr)
    except AttributeError:
        raise SourceError(f"{option} {spec!r}: {module_name} has no attribute {attr!r}") from None


@dataclass
class Target:
    """What is being checked: the raw settings, where they came from, and the app if any."""

    origin: str
    raw: Settings | Mapping[str, Any] | None = None
    app: Any = None
    django: bool = False


def find_target(settings_spec: str | None, app_spec: str | None) -> Target:
    """What to check, from the options: settings, an app, or a Django settings module."""
    if settings_spec and ":" not in settings_spec and _is_django_settings(settings_spec):
        os.environ["DJANGO_SETTINGS_MODULE"] = settings_spec
        return Target(f"Django settings {settings_spec}", django=True)
    if settings_spec:
        value = import_object(settings_spec, "--settings")
        if isinstance(value, (Settings, Mapping)):
            return Target(f"--settings {settings_spec}", value)
        raise SourceError(f"--settings {settings_spec!r}: expected a dict or secmon.Settings, "
                          f"got {type(value).__name__}")
    if app_spec:
        app = import_object(app_spec, "--app")
        return Target(f"--app {app_spec}", _app_settings(app), app)
    if os.environ.get("DJANGO_SETTINGS_MODULE"):
        return Target(f"Django settings {os.environ['DJANGO_SETTINGS_MODULE']}", django=True)
    return Target("SECMON_* environment variables")


def _is_django_settings(name: str) -> bool:
    """``--settings mysite.settings``: a module (not module:attr) with INSTALLED_APPS."""
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(name)
    except Exception:
        return False  # import_object() then says what is wrong with it
    return hasattr(module, "INSTALLED_APPS")


def _app_settings(app: Any) -> Settings | Mapping[str, Any] | None:
    """The settings an app runs with: Flask's SecMon state or SECMON_* config, ASGI's middleware."""
    config = getattr(app, "config", None)
    if isinstance(config, Mapping) and hasattr(app, "extensions"):  # Flask
        settings = getattr(app.extensions.get("secmon"), "settings", None)
        return settings if isinstance(settings, Settings) else from_prefixed(config)
    found = _asgi_middleware(app)
    pipeline = getattr(found, "pipeline", None)
    if pipeline is not None:
        return pipeline.settings  # type: ignore[no-any-return]
    declared = getattr(found, "kwargs", None)  # Starlette's Middleware(cls, **kwargs)
    if isinstance(declared, Mapping) and declared.get("settings") is not None:
        return declared["settings"]  # type: ignore[no-any-return]
    from .pipeline import current_pipeline

    # Without settings of its own, the middleware follows the process-wide configuration.
    current = current_pipeline()
    return current.settings if current is not None else None


_django_setup_error: list[Exception] = []


def _django_settings() -> tuple[Any, Mapping[str, Any]]:
    import django
    from django.conf import settings

    # A failed django.setup() cannot be run again ("populate() isn't reentrant"): each
    # check that needs the settings reports the first failure.
    if _django_setup_error:
        raise _django_setup_error[0]
    try:
        django.setup()
    except Exception as exc:
        _django_setup_error.append(exc)
        raise
    raw = getattr(settings, "SECMON", {}) or {}
    return settings, raw


def load_settings(target: Target) -> tuple[Settings | None, list[Check]]:
    """Build the Settings the app would get; a bad one is a failed check naming the key."""
    raw = target.raw
    try:
        if target.django:
            _, raw = _django_settings()
        if isinstance(raw, Settings):
            settings = raw
        else:
            settings = Settings.build(raw)
    except ConfigError as exc:
        return None, [Check("settings", FAIL, str(exc))]
    except Exception as exc:
        return None, [Check("settings", FAIL, f"cannot load {target.origin}: "
                                              f"{type(exc).__name__}: {exc}")]
    return settings, [Check("settings", OK, f"valid, from {target.origin} "
                                            f"(environment: {settings.environment})")]


# -- the checks ---------------------------------------------------------------------------


def audit_key(settings: Settings) -> Check:
    key = settings.audit_key
    missing = FAIL if settings.is_production else WARN
    if key is None:
        return Check("audit key", missing, f"AUDIT_KEY is not set: {UNSIGNED}. {SET_THE_KEY}")
    problems = []
    if len(key) < 32:
        problems.append(f"only {len(key)} bytes (use at least 32: secrets.token_hex(32))")
    if key.strip().lower() in {p.encode() for p in _PLACEHOLDERS} or len(set(key)) < 8:
        problems.append("looks like a placeholder, not a random secret")
    if problems:
        return Check("audit key", FAIL if settings.is_production else WARN, "; ".join(problems))
    older = len(settings.audit_keys)
    extra = f", {older} older key(s) for verifying" if older else ""
    return Check("audit key", OK, f"set ({len(key)} bytes, key id {settings.audit_key_id}{extra})")


def usernames(settings: Settings) -> Check:
    mode = settings.username_mode
    if mode == "plain":
        status = WARN if settings.is_production else OK
        return Check("usernames", status, "logged in plain text (USERNAME_MODE=plain)")
    if mode == "hash" and settings.hash_key is None and settings.audit_key is None:
        return Check("usernames", WARN, "hashed without a secret key, so a guessed name can be "
                     "checked against the logs; set HASH_KEY or AUDIT_KEY")
    return Check("usernames", OK, {"hash": "keyed hash", "omit": "not logged"}[mode])


def writable_dir(directory: Path) -> tuple[str, str]:
    existing = directory
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        return FAIL, f"{existing} is not a directory"
    try:
        with tempfile.NamedTemporaryFile(dir=existing, prefix=".secmon-check-"):
            pass
    except OSError as exc:
        return FAIL, f"{existing} is not writable ({exc.strerror or exc})"
    if existing != directory:
        return OK, f"{directory} will be created (in writable {existing})"
    return OK, f"{directory} is writable"


def log_dir(settings: Settings) -> Check:
    if settings.log_dir is None:
        if settings.outputs:
            return Check("log directory", SKIP, "not set; OUTPUTS say where events go")
        return Check("log directory", WARN, "LOG_DIR is not set and there are no OUTPUTS: "
                     "events go to standard output only")
    status, detail = writable_dir(settings.log_dir)
    return Check("log directory", status, detail)


def _existing(path: Path) -> Path:
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _log_directories(settings: Settings) -> list[Path]:
    from .outputs.file import resolve_path

    found = [settings.log_dir] if settings.log_dir is not None else []
    for spec in settings.outputs:
        if spec.get("type") == "file":
            try:
                found.append(resolve_path("output", spec.get("path"), settings).parent)
            except ConfigError:
                continue  # the outputs check names it
    return found


def spool(settings: Settings) -> Check:
    """What each output keeps while it cannot write, and whether SPOOL_PATH is of use."""
    held = (f"each output keeps up to {settings.spool_max_records} records / "
            f"{settings.spool_max_bytes} bytes in memory while it cannot write")
    path = settings.spool_path
    if path is None:
        return Check("spool", OK, f"{held}; past that, and at exit, they are lost: set "
                     "SPOOL_PATH (on another file system) to keep them")
    status, detail = writable_dir(path)
    if status != OK:
        return Check("spool", FAIL, f"SPOOL_PATH: {detail}")
    device = _existing(path).stat().st_dev
    shared = [d for d in _log_directories(settings) if _existing(d).stat().st_dev == device]
    if shared:
        return Check("spool", WARN, f"SPOOL_PATH {path} is on the file system of the logs "
                     f"({shared[0]}): it fills up with them; put it on another one")
    return Check("spool", OK, f"{held}; then in {path} (another file system than the logs'; "
                 f"{detail})")


def _host_port(url: str, default_port: int) -> tuple[str, int]:
    parts = urlsplit(url)
    if not parts.hostname:
        raise ValueError(f"{url!r} has no host")
    return parts.hostname, parts.port or default_port


def tcp(host: str, port: int, tls: bool = False) -> str:
    """Connect (and shake hands for TLS) without sending anything; raises OSError."""
    with socket.create_connection((host, port), timeout=TIMEOUT) as sock:
        if tls:
            context = ssl.create_default_context()
            with context.wrap_socket(sock, server_hostname=host):
                return f"{host}:{port} accepts TLS connections"
    return f"{host}:{port} accepts connections"


def _reach_url(url: str) -> str:
    scheme = urlsplit(url).scheme
    host, port = _host_port(url, 443 if scheme == "https" else 80)
    # Only scheme and host are shown: webhook URLs carry their secret in the path.
    return tcp(host, port, tls=scheme == "https").replace(f"{host}:{port}", f"{scheme}://{host}")


def _reach_syslog(spec: Mapping[str, Any]) -> str:
    transport = spec.get("transport", "udp")
    if transport == "unix":
        path = str(spec.get("path", "/dev/log"))
        kind = socket.SOCK_STREAM if spec.get("socket_type") == "stream" else socket.SOCK_DGRAM
        with socket.socket(socket.AF_UNIX, kind) as sock:
            sock.settimeout(TIMEOUT)
            sock.connect(path)
        return f"{path} accepts connections"
    host, port = str(spec.get("host", "127.0.0.1")), int(spec.get("port", 514))
    if transport == "tcp":
        return tcp(host, port)
    socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)
    return f"{host}:{port} resolves (over UDP a listener cannot be confirmed)"


def _reach_postgres(spec: Mapping[str, Any]) -> str:
    import psycopg

    dsn = spec.get("dsn") or spec.get("conninfo") or spec.get("url")
    if not isinstance(dsn, str):
        raise ValueError("no dsn given")
    with psycopg.connect(dsn, connect_timeout=int(TIMEOUT)) as connection:
        connection.execute("SELECT 1")
        info = connection.info
        return f"connected to {info.host}:{info.port}/{info.dbname}"


def _reach_redis(url: str) -> str:
    import redis

    client = redis.Redis.from_url(url, socket_timeout=TIMEOUT, socket_connect_timeout=TIMEOUT)
    try:
        client.ping()
        pool = client.connection_pool.connection_kwargs
        return f"PING answered by {pool.get('host', pool.get('path'))}:{pool.get('port', '')}"
    finally:
        client.close()


def _file_output(spec: Mapping[str, Any], settings: Settings) -> str:
    from .outputs.file import resolve_path

    path = resolve_path("output", spec.get("path"), settings)
    status, detail = writable_dir(path.parent)
    if status != OK:
        raise OSError(detail)
    return f"{path} can be written"


def reach_output(spec: Mapping[str, Any], settings: Settings) -> str:
    """Reach one output's destination without delivering anything; raises on failure."""
    kind = spec.get("type")
    if kind in ("stdout", "stderr", "logging"):
        return f"writes to {kind}"
    if kind == "file":
        return _file_output(spec, settings)
    if kind == "syslog":
        return _reach_syslog(spec)
    if kind == "postgres":
        return _reach_postgres(spec)
    if kind in ("webhook", "slack"):
        return _reach_url(str(spec.get("url")))
    if kind == "pagerduty":
        from .outputs.alerts import PAGERDUTY_URL

        return _reach_url(str(spec.get("url") or PAGERDUTY_URL))
    raise ValueError(f"unknown output type {kind!r}")


def _build(group: str, key: str, spec: Mapping[str, Any], settings: Settings) -> None:
    """Build the output as secmon would (validating every option), then release it unused."""
    if group == "ALERTS":
        from .outputs.alerts import build_alert

        build_alert(key, spec, settings).close()
    else:
        from .outputs import build

        build(key, spec, settings).close()


def outputs(settings: Settings) -> Iterator[Check]:
    for group, specs in (("OUTPUTS", settings.outputs), ("ALERTS", settings.alerts)):
        for index, spec in enumerate(specs):
            key = f"{group}[{index}]"
            name = f"{key} {spec.get('name') or spec.get('type')}"
            try:
                _build(group, key, spec, settings)
            except ConfigError as exc:
                yield Check(name, FAIL, str(exc))
                continue
            try:
                yield Check(name, OK, reach_output(spec, settings) + " (dry run: nothing sent)")
            except Exception as exc:
                yield Check(name, FAIL, _reason(exc))


def detection(settings: Settings) -> Check:
    from .detect.engine import build_rules

    try:
        rules = build_rules(settings)
    except ConfigError as exc:
        return Check("detection", FAIL, str(exc))
    for rule in rules:
        resolver = getattr(rule, "resolver", None)
        if resolver is not None:
            resolver.close()
    if not rules:
        return Check("detection", WARN, "every rule is off: no brute force, stuffing or "
                     "probing alerts")
    return Check("detection", OK, f"{len(rules)} rules on: " + ", ".join(r.name for r in rules))


def state_backend(settings: Settings) -> Check:
    url = settings.state_backend
    if url.startswith("memory"):
        return Check("state backend", OK, "in-process memory: counters are per worker; use "
                     "redis:// to share them between workers and hosts")
    if url.startswith(("redis://", "rediss://", "unix://")):
        try:
            return Check("state backend", OK, _reach_redis(url))
        except Exception as exc:
            return Check("state backend", FAIL, f"Redis unreachable: {_reason(exc)} "
                         "(detection fails open: requests go on, rules see nothing)")
    return Check("state backend", FAIL, f"unknown STATE_BACKEND scheme in {url.split('://')[0]!r}")


def files(settings: Settings) -> Iterator[Check]:
    for label, path in (("GeoIP database", settings.geoip_database),
                        ("checkpoint signing key", settings.checkpoint_signing_key)):
        if path is None:
            continue
        if path.is_file() and os.access(path, os.R_OK):
            yield Check(label, OK, f"{path} is readable")
        else:
            yield Check(label, FAIL, f"{path} is missing or unreadable")
    for label, value in (("GEO_RESOLVER", settings.geo_resolver),
                         ("LOCKOUT_HOOK", settings.lockout_hook)):
        if isinstance(value, str):
            try:
                import_object(value, label)
                yield Check(label, OK, f"{value} imports")
            except SourceError as exc:
                yield Check(label, FAIL, str(exc))


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return f"timed out after {TIMEOUT:g}s"
    if isinstance(exc, socket.gaierror):
        return f"name does not resolve ({exc.strerror})"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return first


# -- framework wiring ---------------------------------------------------------------------


def django_wiring() -> Iterator[Check]:
    try:
        settings, _ = _django_settings()
    except Exception as exc:
        yield Check("Django", FAIL, f"cannot load settings: {type(exc).__name__}: {exc}")
        return
    apps = list(getattr(settings, "INSTALLED_APPS", ()))
    middleware = list(getattr(settings, "MIDDLEWARE", ()))
    if "secmon.django" in apps or any(str(a).startswith("secmon.django.") for a in apps):
        yield Check("Django app", OK, "secmon.django is in INSTALLED_APPS")
    else:
        yield Check("Django app", FAIL, 'add "secmon.django" to INSTALLED_APPS')
    ours = [i for i, m in enumerate(middleware) if str(m).startswith("secmon.django")]
    auth = [i for i, m in enumerate(middleware) if str(m).endswith(".AuthenticationMiddleware")]
    if not ours:
        yield Check("Django middleware", FAIL,
                    'add "secmon.django.SecurityMiddleware" to MIDDLEWARE')
    elif auth and ours[0] < auth[0]:
        yield Check("Django middleware", WARN, "SecurityMiddleware comes before "
                    "AuthenticationMiddleware: events cannot name the user; move it after")
    else:
        yield Check("Django middleware", OK, f"{middleware[ours[0]]} is in MIDDLEWARE")


def _asgi_middleware(app: Any) -> Any:
    """The SecMonMiddleware instance or declaration in an ASGI app's stack, if any."""
    try:
        from .asgi import SecMonMiddleware
    except ImportError:
        return None
    seen = 0
    current = app
    while current is not None and seen < 50:
        seen += 1
        if isinstance(current, SecMonMiddleware):
            return current
        for entry in getattr(current, "user_middleware", ()) or ():
            if getattr(entry, "cls", None) is SecMonMiddleware:
                return entry
        current = getattr(current, "app", None)
    return None


def app_wiring(app: Any) -> Iterator[Check]:
    extensions = getattr(app, "extensions", None)
    if isinstance(extensions, Mapping) and hasattr(app, "config"):
        if "secmon" in extensions:
            yield Check("Flask", OK, "SecMon is initialised on the app")
        else:
            yield Check("Flask", FAIL, "SecMon(app) (or SecMon().init_app(app)) was not called")
        return
    if _asgi_middleware(app) is not None:
        yield Check("ASGI", OK, "SecMonMiddleware is in the middleware stack")
    elif callable(app):
        yield Check("ASGI", FAIL, "SecMonMiddleware is not in the middleware stack "
                    "(app.add_middleware(SecMonMiddleware))")
    else:
        yield Check("app", FAIL, f"not a Flask or ASGI application: {type(app).__name__}")


def wiring(target: Target) -> Iterator[Check]:
    if target.django:
        yield from django_wiring()
    elif target.app is not None:
        yield from app_wiring(target.app)
    else:
        yield Check("framework", SKIP, "no app to inspect: set DJANGO_SETTINGS_MODULE or pass "
                    "--app module:app")


def run_checks(target: Target) -> list[Check]:
    settings, results = load_settings(target)
    if settings is not None:
        steps: list[Callable[[Settings], Check | Iterator[Check]]] = [
            audit_key, usernames, log_dir, outputs, spool, detection, state_backend, files]
        for step in steps:
            produced = step(settings)
            results.extend([produced] if isinstance(produced, Check) else produced)
    results.extend(wiring(target))
    return results

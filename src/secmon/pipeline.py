"""The structlog processor chain behind ``emit()``, and routing of finished events to outputs."""

from __future__ import annotations

import atexit
import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, cast

import structlog
from structlog.typing import EventDict

from . import context as _context
from . import outputs as _outputs
from .clock import utc_timestamp
from .config import Settings
from .errors import ErrorReporter, write_stderr_line
from .events import LEVEL_RANK, EventSpec, lookup
from .redact import Redactor, UsernameHasher

if TYPE_CHECKING:
    from .detect import Engine

_STDLIB_LEVELS = {
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}

# Captures opened by secmon.testing.capture_events(); every pipeline feeds them. While one
# opened with outputs=False is also in `withheld`, events go to the captures alone: no
# output, no audit signature (the chain goes on where it was), no detection.
captures: list[list[dict[str, Any]]] = []
withheld: list[list[dict[str, Any]]] = []

# Context fields secmon derived itself (parsed IP addresses): nothing in them to sanitize.
_RESOLVED_FIELDS = frozenset({"source_ip", "peer_ip"})


class Pipeline:
    """One configured instance of secmon: settings, redactor, outputs, signer, detection.

    ``secmon.configure()`` builds one and makes it current; framework adapters
    may hold their own (several Flask apps in one process) and bind it to the
    request context so events of that request go through it.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.min_rank = LEVEL_RANK[settings.min_level]
        self.counters: Counter[str] = Counter()
        self.redactor = Redactor.from_settings(settings, on_error=self._sanitize_failed)
        self.errors = ErrorReporter(
            self.counters, emit=self.emit, clean=self.redactor.sanitize_str
        )
        self._app = self.redactor.sanitize_str(settings.app_name)
        usernames = UsernameHasher.from_settings(settings)
        self.hash_key = usernames.key
        # The keyed hash that stands for a username (16 hex chars; stable across workers).
        self.hash_username: Callable[[Any], str] = usernames.hash
        specs = settings.outputs or _outputs.default_specs(settings)
        self.outputs = [
            _outputs.build(f"OUTPUTS[{index}]", spec, settings) for index, spec in enumerate(specs)
        ]
        for output in self.outputs:
            output.attach(self.emit, self.errors.report)
        # Imported here, not at the top: `import secmon` stays light for the command line.
        from .integrity import build_signer, report_unsigned

        self.signer = build_signer(settings, self.outputs, self.errors.report)
        self.engine = self._detection(settings)
        self._router = _Router(self)
        self._logger: Any = structlog.wrap_logger(
            self._router,
            processors=[self._build_event, self._sanitize, self._finish],
            # Detection needs every event, whatever MIN_LEVEL keeps out of the outputs.
            wrapper_class=structlog.make_filtering_bound_logger(
                logging.INFO if self.engine is not None else _STDLIB_LEVELS[settings.min_level]
            ),
            cache_logger_on_first_use=True,
        ).bind()
        report_unsigned(self.settings, self.emit)

    # -- the public entry point ---------------------------------------------------------

    def emit(
        self,
        event_type: str,
        /,
        *,
        level: str | None = None,
        message: str | None = None,
        **fields: Any,
    ) -> None:
        """Log one security event. Unknown names raise; everything else is contained."""
        spec = lookup(event_type)
        if not self.settings.enabled:
            return
        try:
            audit = bool(fields.pop("_audit", spec.audit))
            if level is None or level not in LEVEL_RANK:
                level = "warning" if level == "warn" else spec.level
            if "event" in fields:
                message = fields.pop("event")
            ctx = _context.current()
            if ctx is not None:
                ctx.emitted.add(spec.name)
            getattr(self._logger, level)(message, _spec=spec, _audit=audit, **fields)
        except Exception as exc:
            self.report_error("emit", exc)

    def emit_once(self, event_type: str, /, **fields: Any) -> None:
        """Emit unless the current request already has an event of that type.

        One denial, one event: an application hook (``secmon.access_denied`` before
        raising) is more specific than what the exception or the status says later.
        """
        ctx = _context.current()
        if ctx is not None and event_type in ctx.emitted:
            return
        self.emit(event_type, **fields)

    def signal(self, name: str, **fields: Any) -> None:
        """Feed detection something that is not an event of its own (e.g. one 404)."""
        engine = self.engine
        if engine is None or not self.settings.enabled or withheld:
            return
        try:
            ctx = _context.current()
            if ctx is not None:
                # No event is written: ask for the user only if a rule counts by user.
                user = engine.signal_needs_user(name)
                fields = {**ctx.fields(self.settings, user=user), **fields}
            engine.signal(name, fields)
        except Exception as exc:
            self.report_error("detection", exc)

    # -- processors (structlog signature: logger, method_name, event_dict) --------------

    def _build_event(self, _: Any, method_name: str, raw: EventDict) -> EventDict:
        spec: EventSpec = raw.pop("_spec")
        audit = raw.pop("_audit", spec.audit)
        message = raw.pop("event", None)
        # What secmon made itself goes in as is; what came from the app or the request
        # ("_body") is sanitized next, and overrides in place what it names again.
        event: dict[str, Any] = {
            "timestamp": utc_timestamp(),
            "level": method_name,
            "event_type": spec.name,
            "category": spec.category,
            "outcome": spec.outcome,
            "event": None,
            "app": self._app,
        }
        body: dict[str, Any] = {}
        ctx = _context.current()
        if ctx is not None:
            for key, value in ctx.fields(self.settings).items():
                if key in _RESOLVED_FIELDS:
                    event[key] = value
                else:
                    body[key] = value
        if message is not None:
            body["event"] = message
        for key, value in raw.items():
            # None means "not given": it must not blank out what the context knows.
            if value is not None:
                body[key] = value
        username = body.pop("username", None)
        if username is not None and username != "":
            mode = self.settings.username_mode
            if mode == "plain":
                body["username"] = username
            elif mode == "hash":
                event["username_hash"] = self.hash_username(username)
        event["_spec"], event["_audit"], event["_body"] = spec, audit, body
        return event

    def _sanitize(self, _: Any, __: str, event: EventDict) -> EventDict:
        body = event.pop("_body")
        if body:
            event.update(self.redactor.sanitize_mapping(body))
        return event

    def _finish(self, _: Any, __: str, event: EventDict) -> tuple[tuple[Any, ...], dict[str, Any]]:
        spec = event.pop("_spec")
        audit = event.pop("_audit")
        if not event.get("event"):
            event["event"] = describe(spec, event)
        return (event, spec, audit), {}

    # -- helpers ------------------------------------------------------------------------

    def _detection(self, settings: Settings) -> Engine | None:
        """The engine for ``DETECTION`` / ``STATE_BACKEND`` / ``ALERTS``; None if every rule
        is off."""
        from .detect import DetectionEngine, build_rules
        from .detect.options import load_callable

        rules = build_rules(settings)
        if not rules:
            return None
        alerts = []
        if settings.alerts:  # their module brings httpx, a fifth of a second to import
            from .outputs.alerts import build_alert

            alerts = [
                build_alert(f"ALERTS[{index}]", spec, settings)
                for index, spec in enumerate(settings.alerts)
            ]
        return DetectionEngine(
            settings,
            rules,
            alerts,
            emit=self.emit,
            report_error=self.errors.report,
            hash_username=self.hash_username,
            redactor=self.redactor,
            lockout_hook=load_callable("LOCKOUT_HOOK", settings.lockout_hook),
        )

    def sanitize(self, obj: Any) -> Any:
        return self.redactor.sanitize(obj)

    def report_error(self, where: str, exc: BaseException) -> None:
        """Count a failure inside secmon; tell about each kind once. Never raises."""
        self.errors.report(where, exc)

    def _sanitize_failed(self, where: str, exc: BaseException) -> None:
        self.counters["sanitize_errors"] += 1
        self.report_error(f"sanitize.{where}", exc)

    def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = dict(self.counters)
        for output in self.outputs:
            for name, value in output.stats().items():
                result[f"output.{output.name}.{name}"] = value
        if self.engine is not None:
            result.update(self.engine.stats())
        return result

    def flush(self, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        if self.engine is not None:
            self.engine.flush(max(0.0, deadline - time.monotonic()))
        for output in self.outputs:
            try:
                output.flush(max(0.0, deadline - time.monotonic()))
            except Exception as exc:
                self.report_error(f"output.{output.name}", exc)

    def settle(self, timeout: float = 5.0) -> None:
        """Checkpoint the audit chain and deliver what is queued; the pipeline stays usable.

        For servers that end their workers without running ``atexit`` (uvicorn re-raises
        SIGTERM once the app has shut down): adapters call this at the app's shutdown.
        What the outputs could not deliver goes to ``SPOOL_PATH`` meanwhile.
        """
        if self.signer is not None:
            try:
                self.signer.checkpoint("shutdown")
            except Exception as exc:
                self.report_error("integrity", exc)
        self.flush(timeout)
        # What could not be delivered goes to SPOOL_PATH (the process may end any moment).
        for output in self.outputs:
            try:
                output.settle()
            except Exception as exc:
                self.report_error(f"output.{output.name}", exc)
        if self.engine is not None:
            self.engine.settle()

    def close(self, timeout: float = 5.0) -> None:
        """Flush, write final checkpoints, release outputs. The pipeline must not be used after."""
        self.flush(timeout)
        for part in (self.engine, self.signer):
            if part is not None:
                try:
                    part.close()
                except Exception as exc:
                    self.report_error("close", exc)
        for output in self.outputs:
            try:
                output.close()
            except Exception as exc:
                self.report_error(f"output.{output.name}", exc)


class _Router:
    """The structlog "logger" at the end of the chain: signs audit events, fans out to outputs."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline

    def route(self, event: dict[str, Any], spec: EventSpec, audit: bool) -> None:
        pipeline = self.pipeline
        if withheld:
            if LEVEL_RANK[event["level"]] >= pipeline.min_rank:
                for captured in captures:
                    captured.append(event)
            return
        if LEVEL_RANK[event["level"]] >= pipeline.min_rank:
            self._deliver(event, spec, audit)
        pipeline.counters["events"] += 1
        if pipeline.engine is not None and not spec.detection:
            try:
                pipeline.engine.observe(event, spec)
            except Exception as exc:
                pipeline.report_error("detection", exc)

    def _deliver(self, event: dict[str, Any], spec: EventSpec, audit: bool) -> None:
        signer = self.pipeline.signer
        if audit and signer is not None:
            # Sign and write under one lock so the file order is the chain order.
            with signer.lock:
                try:
                    signer.sign(event)
                except Exception as exc:
                    self.pipeline.report_error("integrity", exc)
                self._write(event, spec, audit)
        else:
            self._write(event, spec, audit)
        for captured in captures:
            captured.append(event)

    def _write(self, event: dict[str, Any], spec: EventSpec, audit: bool) -> None:
        rendered: dict[int, bytes] = {}
        for output in self.pipeline.outputs:
            try:
                if output.accepts(event, spec, audit):
                    output.handle(event, rendered)
            except Exception as exc:
                self.pipeline.report_error(f"output.{output.name}", exc)

    info = warning = error = critical = msg = route


def describe(spec: EventSpec, event: Mapping[str, Any]) -> str:
    """The human message: "login failed for user id 42 from 203.0.113.9 (reason: ...)"."""
    parts = [spec.summary]
    if event.get("user_id") is not None:
        parts.append(f"for user id {event['user_id']}")
    elif event.get("username") is not None:
        parts.append(f"for user {event['username']}")
    elif event.get("username_hash") is not None:
        parts.append(f"for user #{event['username_hash']}")
    if event.get("resource_type") is not None:
        resource = f"{event['resource_type']}"
        if event.get("resource_id") is not None:
            resource += f" {event['resource_id']}"
        parts.append(f"on {resource}")
    if event.get("source_ip"):
        parts.append(f"from {event['source_ip']}")
    text = " ".join(parts)
    if event.get("reason"):
        text += f" (reason: {event['reason']})"
    return text


# -- the process-wide current pipeline -----------------------------------------------------

_current: Pipeline | None = None
_lock = threading.RLock()
_atexit_registered = False


def configure(settings: Settings | Mapping[str, Any] | None = None, /, **kwargs: Any) -> Pipeline:
    """Build a pipeline from settings and make it current; the previous one is closed.

    Invalid settings raise :class:`secmon.config.ConfigError` naming the key, and the
    previous pipeline stays in place.
    """
    global _current, _atexit_registered
    new = Pipeline(Settings.build(settings, **kwargs))
    with _lock:
        old, _current = _current, new
        if not _atexit_registered:
            atexit.register(_at_exit)
            _atexit_registered = True
    if old is not None:
        old.close(timeout=2.0)
    return new


def get_pipeline() -> Pipeline:
    """The pipeline for the current request (if an adapter bound one), else the process one."""
    ctx = _context.current()
    if ctx is not None and ctx.pipeline is not None:
        return cast(Pipeline, ctx.pipeline)
    pipeline = _current
    if pipeline is None:
        with _lock:
            if _current is None:
                _configure_lazily()
            pipeline = _current
    assert pipeline is not None
    return pipeline


def current_pipeline() -> Pipeline | None:
    """The process-wide pipeline, without creating one."""
    return _current


def _configure_lazily() -> None:
    global _current, _atexit_registered
    try:
        _current = Pipeline(Settings.build())
    except Exception as exc:
        # Bad SECMON_* environment at first use: say so, keep the app running on defaults.
        write_stderr_line(f"secmon: {exc}; using default settings")
        _current = Pipeline(Settings.build(env={}))
    if not _atexit_registered:
        atexit.register(_at_exit)
        _atexit_registered = True


def _at_exit() -> None:
    pipeline = _current
    if pipeline is not None:
        pipeline.close(timeout=5.0)


def emit(event_type: str, /, **fields: Any) -> None:
    """Log one security event named from the vocabulary, with the request context added."""
    get_pipeline().emit(event_type, **fields)


def emit_once(event_type: str, /, **fields: Any) -> None:
    """:func:`emit`, unless the current request already has an event of that type."""
    get_pipeline().emit_once(event_type, **fields)


def flush(timeout: float = 5.0) -> None:
    """Deliver what is queued (network outputs, alerts) within ``timeout`` seconds."""
    pipeline = _current
    if pipeline is not None:
        pipeline.flush(timeout)


def sanitize(obj: Any) -> Any:
    """The redacted, log-safe copy of ``obj`` that secmon would write."""
    return get_pipeline().sanitize(obj)


def stats() -> dict[str, Any]:
    """secmon's own counters: events, errors by component, output deliveries, detection."""
    return get_pipeline().stats()

"""Per-app state (``app.extensions["secmon"]``) and emitting on an app's behalf."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from ..pipeline import Pipeline, get_pipeline

if TYPE_CHECKING:
    from flask import Flask

    from ..config import Settings
    from ..context import UserLoader

F = TypeVar("F", bound=Callable[..., Any])


@dataclass(eq=False)
class FlaskState:
    """One app's secmon state, at ``app.extensions["secmon"]``.

    ``pipeline`` is the app's own pipeline, or None when the app's events go to the
    process-wide one (see :class:`secmon.flask.SecMon` for which apps get their own).
    ``integrations`` names the optional extensions whose signals are connected.
    """

    settings: Settings
    pipeline: Pipeline | None
    user_loader: UserLoader | None = None
    integrations: list[str] = field(default_factory=list)

    def current_pipeline(self) -> Pipeline:
        return self.pipeline if self.pipeline is not None else get_pipeline()

    def close(self, timeout: float = 5.0) -> None:
        """Flush and close the app's own pipeline (the process-wide one is left alone)."""
        if self.pipeline is not None:
            self.pipeline.close(timeout)


def state_of(app: Flask) -> FlaskState | None:
    state = app.extensions.get("secmon")
    return state if isinstance(state, FlaskState) else None


def pipeline_for(app: Flask) -> Pipeline:
    """The pipeline this app's events go to, inside or outside a request."""
    state = state_of(app)
    return state.current_pipeline() if state is not None else get_pipeline()


def emit_for(app: Flask, event_type: str, **fields: Any) -> None:
    """Emit through the app's pipeline (signals also fire outside requests, e.g. in the CLI)."""
    pipeline_for(app).emit(event_type, **fields)


def emit_once(app: Flask, event_type: str, **fields: Any) -> None:
    """Emit through the app's pipeline unless this request already has that event type."""
    pipeline_for(app).emit_once(event_type, **fields)


def guarded(where: str) -> Callable[[F], F]:
    """Run a signal receiver so that a failure inside secmon never reaches the sender.

    Blinker re-raises a receiver's exception in the code that sent the signal, which
    would be the app's login or logout; here it is counted and reported instead.
    """

    def decorate(receiver: F) -> F:
        @functools.wraps(receiver)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            try:
                return receiver(*args, **kwargs)
            except Exception as exc:
                app = args[0] if args else None
                try:
                    pipeline = pipeline_for(app) if app is not None else get_pipeline()
                except Exception:
                    pipeline = get_pipeline()
                pipeline.report_error(where, exc)
                return None

        return wrapper  # type: ignore[return-value]

    return decorate

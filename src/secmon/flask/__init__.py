"""Flask adapter: ``SecMon(app)`` turns a Flask app's security-relevant moments into events."""

try:
    import flask  # noqa: F401
except ImportError as exc:  # pragma: no cover - exercised only without Flask installed
    raise ImportError(
        "secmon.flask needs Flask; install it with: pip install 'secmon[flask]'"
    ) from exc

from .extension import SecMon, SecMonMiddleware
from .state import FlaskState

__all__ = ["FlaskState", "SecMon", "SecMonMiddleware"]

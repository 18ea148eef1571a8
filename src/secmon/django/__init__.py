"""secmon for Django: add ``"secmon.django"`` to INSTALLED_APPS and its SecurityMiddleware."""

from __future__ import annotations

try:
    import django  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "secmon.django needs Django; install it with: pip install 'secmon[django]'"
    ) from exc

from .middleware import SecurityMiddleware

__all__ = ["SecurityMiddleware"]

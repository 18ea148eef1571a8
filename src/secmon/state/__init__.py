"""State backends for detection counters: memory (one process) and Redis (a fleet)."""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol
from urllib.parse import urlsplit

from ..config import ConfigError

if TYPE_CHECKING:
    from ..config import Settings

# What one update returns, by operation:
#   Hit     -> (count in the window after this hit, whether ``member`` was new)
#   Take    -> count in the window; the key is gone afterwards
#   Replace -> (previous value, seconds since it was stored) or None
#   Claim   -> (True, ttl) for the first claimer within ``ttl``, else (False, seconds
#              until the holder's claim runs out)


class Hit(NamedTuple):
    """Record one occurrence in the sliding window ``key`` and count what the window holds.

    With ``member`` None every hit counts; with a member, the window counts distinct
    members (a repeated member only refreshes its time). At most ``cap`` entries are
    kept per key (the oldest go first), so counts saturate at ``cap``.
    """

    key: str
    window: float
    member: bytes | None = None
    cap: int = 10_000


class Take(NamedTuple):
    """Count the window ``key`` and delete it (e.g. failures before a successful login)."""

    key: str
    window: float


class Replace(NamedTuple):
    """Store ``value`` under ``key`` for ``ttl`` seconds; return what it replaced and its age."""

    key: str
    value: bytes
    ttl: float


class Claim(NamedTuple):
    """Take ``key`` for ``ttl`` seconds if nobody holds it (alert deduplication)."""

    key: str
    ttl: float


Op = Hit | Take | Replace | Claim

# The detection engine is told when shared state is lost and when it is back.
StatusCallback = Callable[[bool, str], None]


class State(Protocol):
    """A counter store. ``run`` applies updates in order; each one is atomic on its own."""

    name: str
    shared: bool  # whether other processes see the same counters

    def run(self, ops: Sequence[Op]) -> list[Any]: ...

    def stats(self) -> dict[str, Any]: ...

    def close(self) -> None: ...


def reset_after_fork(owner: object, reset: Callable[[], None]) -> None:
    """Run ``reset`` in a forked child before any thread can (gunicorn forks after configure).

    Locks held and sockets opened by the parent are not the child's to use. Only a weak
    reference to ``owner`` is kept, so reconfiguring does not keep old states alive.
    """
    ref = weakref.ref(owner)
    method = reset.__name__

    def hook() -> None:
        target = ref()
        if target is not None:
            getattr(target, method)()

    os.register_at_fork(after_in_child=hook)


def build_state(settings: Settings, on_status: StatusCallback) -> State:
    """The backend named by ``STATE_BACKEND`` (``memory://`` or ``redis://host:port/db``)."""
    url = settings.state_backend.strip()
    scheme = urlsplit(url).scheme.lower()
    if scheme == "memory":
        from .memory import MemoryState

        return MemoryState(max_keys=settings.state_memory_max_keys)
    if scheme in ("redis", "rediss", "unix"):
        try:
            from .redis import RedisState
        except ImportError:
            raise ConfigError(
                "STATE_BACKEND", "the Redis backend needs redis-py: pip install 'secmon[redis]'"
            ) from None
        return RedisState(
            url,
            timeout=settings.state_timeout,
            prefix=f"secmon:{settings.app_name}:",
            max_keys=settings.state_memory_max_keys,
            on_status=on_status,
        )
    raise ConfigError(
        "STATE_BACKEND",
        f"unknown backend scheme {scheme!r} (use memory:// or redis://host:port/db)",
    )


__all__ = ["Claim", "Hit", "Op", "Replace", "State", "StatusCallback", "Take", "build_state"]

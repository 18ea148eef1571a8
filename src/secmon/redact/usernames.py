"""Usernames as keyed hashes: stable across workers so detection can correlate, not readable."""

from __future__ import annotations

import hashlib
import hmac
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..config import Settings

_CACHE_SIZE = 4096


class UsernameHasher:
    """The keyed hash that stands for a username (16 hex chars), keyed once."""

    def __init__(self, key: bytes) -> None:
        self.key = key
        self._hmac = hmac.new(key, digestmod=hashlib.sha256)
        self._cache: dict[str, str] = {}

    @classmethod
    def from_settings(cls, settings: Settings) -> UsernameHasher:
        return cls(hash_key(settings))

    def hash(self, username: Any) -> str:
        """The keyed hash that stands for a username (16 hex chars; stable across workers)."""
        text = str(username)
        cached = self._cache.get(text)
        if cached is not None:
            return cached
        mac = self._hmac.copy()
        mac.update(text.encode("utf-8", "replace"))
        digest = mac.hexdigest()[:16]
        if len(self._cache) >= _CACHE_SIZE:
            # A stuffing run brings millions of usernames: start over rather than grow.
            self._cache.clear()
        self._cache[text] = digest
        return digest


def hash_key(settings: Settings) -> bytes:
    """``HASH_KEY``, else a key derived from ``AUDIT_KEY``, else one from the app name."""
    if settings.hash_key:
        return settings.hash_key
    if settings.audit_key:
        return hmac.new(settings.audit_key, b"secmon username hash", hashlib.sha256).digest()
    # No secret configured: still stable across workers so detection can correlate,
    # but only pseudonymous. `secmon check` warns about it in production.
    return hashlib.sha256(b"secmon username hash:" + settings.app_name.encode()).digest()

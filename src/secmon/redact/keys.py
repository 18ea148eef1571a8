"""Sensitive keys: the names whose values are secret, however an app spells them."""

from __future__ import annotations

import re
from collections.abc import Iterable

# Matched anywhere in the normalized key ("user_password" -> "userpassword").
_SUBSTRING_KEYS = (
    "password", "passwd", "passphrase", "secret", "token", "apikey", "accesskey", "privatekey",
    "privkey", "authorization", "cookie", "session", "csrf", "xsrf", "creditcard", "cardnumber",
    "ccnumber", "securitycode", "pincode", "mfacode", "recoverycode", "backupcode",
    "credential", "signature",
)
# Matched only as a whole segment: "pin" but not "spinner", "auth" but not "author".
_SEGMENT_KEYS = frozenset({
    "pass", "pwd", "pw", "ssn", "pin", "otp", "totp", "hotp", "auth", "cvv", "cvc", "ccv",
    "iban", "sig", "jwt",
})
_KEY_SEGMENT = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+")
_KEY_SEPARATORS = re.compile(r"[\W_]+")


class SensitiveKeys:
    """The denylist, extended by the app's own names (``REDACT_KEYS``)."""

    __slots__ = ("_segments", "_substrings")

    def __init__(self, extra_keys: Iterable[str] = ()) -> None:
        substrings = list(_SUBSTRING_KEYS)
        segments = set(_SEGMENT_KEYS)
        for key in extra_keys:
            joined = _KEY_SEPARATORS.sub("", key.lower())
            if len(joined) <= 4 and len(_KEY_SEGMENT.findall(key)) == 1:
                segments.add(joined)
            elif joined:
                substrings.append(joined)
        self._substrings = re.compile("|".join(map(re.escape, substrings)))
        self._segments = frozenset(segments)

    def match(self, key: str) -> bool:
        """Whether values under ``key`` are secret."""
        if self._substrings.search(_KEY_SEPARATORS.sub("", key.lower())) is not None:
            return True
        return not self._segments.isdisjoint(part.lower() for part in _KEY_SEGMENT.findall(key))

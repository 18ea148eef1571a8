"""Settings: one typed, immutable object built from keywords, a dict, framework config or env."""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from .events import ATTACK_TYPES, LEVELS

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

ENVIRONMENTS = ("production", "development", "test")
USERNAME_MODES = ("hash", "plain", "omit")
ENV_PREFIX = "SECMON_"
UNKNOWN_SETTING = "unknown setting"


class ConfigError(ValueError):
    """A setting is missing, unknown or invalid; the message names the key.

    ``suggestion`` is the closest valid name or value to a misspelled one, if any.
    """

    def __init__(self, key: str, problem: str, *, suggestion: str | None = None) -> None:
        self.key = key
        self.problem = problem
        self.suggestion = suggestion
        hint = f"; did you mean {suggestion}?" if suggestion else ""
        super().__init__(f"secmon setting {key}: {problem}{hint}")


def _closest(word: str, candidates: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(word, list(candidates), n=1)
    return close[0] if close else None


# --- converters: (key, raw value) -> typed value, raising ConfigError ---------------------


def _str(key: str, value: Any) -> str:
    if isinstance(value, Path):
        return str(value)
    if not isinstance(value, str):
        raise ConfigError(key, f"expected a string, got {type(value).__name__}")
    return value


def _opt_str(key: str, value: Any) -> str | None:
    return None if value is None or value == "" else _str(key, value)


def _bool(key: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("1", "true", "yes", "on"):
        return True
    if isinstance(value, str) and value.strip().lower() in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(key, f"expected true or false, got {value!r}")


def _positive_int(key: str, value: Any) -> int:
    try:
        number = int(value) if isinstance(value, (int, str)) and value is not True else None
    except ValueError:
        number = None
    if number is None or isinstance(value, bool) or number <= 0:
        raise ConfigError(key, f"expected a positive integer, got {value!r}")
    return number


def _positive_float(key: str, value: Any) -> float:
    try:
        number = float(value) if not isinstance(value, bool) else -1.0
    except (TypeError, ValueError):
        number = -1.0
    if not number > 0:
        raise ConfigError(key, f"expected a positive number of seconds, got {value!r}")
    return number


def _choice(*allowed: str) -> Callable[[str, Any], str]:
    def convert(key: str, value: Any) -> str:
        text = _str(key, value).strip().lower()
        if text == "warn":
            text = "warning"
        if text not in allowed:
            raise ConfigError(key, f"expected one of {', '.join(allowed)}, got {value!r}",
                              suggestion=_closest(text, allowed))
        return text

    return convert


_SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def _byte_size(key: str, value: Any) -> int:
    """A positive number of bytes: ``16777216``, ``"16MB"``, ``"512 KiB"``."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    if isinstance(value, str):
        match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([kmg]?)(?:i?b)?\s*", value, re.IGNORECASE)
        if match and float(match[1]) > 0:
            return max(1, int(float(match[1]) * _SIZE_UNITS[match[2].lower()]))
    raise ConfigError(key, f"expected a size in bytes such as 16777216 or '16MB', got {value!r}")


def _path(key: str, value: Any) -> Path | None:
    if value is None or value == "":
        return None
    if not isinstance(value, (str, os.PathLike)):
        raise ConfigError(key, f"expected a path, got {type(value).__name__}")
    return Path(value)


def _secret(key: str, value: Any) -> bytes | None:
    if value is None or value == "":
        return None
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    raise ConfigError(key, "expected a string or bytes")


def _split(value: Any) -> list[Any]:
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            import orjson

            parsed = orjson.loads(text)
            return list(parsed)
        return [part.strip() for part in text.split(",") if part.strip()]
    if isinstance(value, Iterable) and not isinstance(value, (bytes, Mapping)):
        return list(value)
    raise TypeError


def _str_tuple(key: str, value: Any) -> tuple[str, ...]:
    try:
        items = _split(value)
    except (TypeError, ValueError):
        raise ConfigError(key, "expected a list of strings") from None
    for item in items:
        if not isinstance(item, str) or not item:
            raise ConfigError(key, f"expected a list of non-empty strings, got item {item!r}")
    return tuple(items)


def _patterns(key: str, value: Any) -> tuple[re.Pattern[str], ...]:
    if isinstance(value, (list, tuple)) and all(isinstance(p, re.Pattern) for p in value):
        return tuple(value)
    compiled = []
    for text in _str_tuple(key, value):
        try:
            compiled.append(re.compile(text))
        except re.error as exc:
            raise ConfigError(key, f"invalid regular expression {text!r}: {exc}") from None
    return tuple(compiled)


def _networks(key: str, value: Any) -> tuple[IPNetwork, ...]:
    if isinstance(value, (list, tuple)) and all(
        isinstance(n, (ipaddress.IPv4Network, ipaddress.IPv6Network)) for n in value
    ):
        return tuple(value)
    networks = []
    for text in _str_tuple(key, value):
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            raise ConfigError(key, f"{text!r} is not an IP address or network") from None
    return tuple(networks)


def _header(key: str, value: Any) -> str | None:
    text = _opt_str(key, value)
    if text is None:
        return None
    if not re.fullmatch(r"[A-Za-z0-9-]{1,64}", text):
        raise ConfigError(key, f"{text!r} is not an HTTP header name")
    return text.lower()


def _mapping(key: str, value: Any) -> Mapping[str, Any]:
    if isinstance(value, str):
        import orjson

        try:
            value = orjson.loads(value) if value.strip() else {}
        except orjson.JSONDecodeError:
            raise ConfigError(key, "expected a JSON object") from None
    if not isinstance(value, Mapping):
        raise ConfigError(key, f"expected a mapping, got {type(value).__name__}")
    for name in value:
        if not isinstance(name, str):
            raise ConfigError(key, f"keys must be strings, got {name!r}")
    return dict(value)


def _secret_map(key: str, value: Any) -> Mapping[str, bytes]:
    result: dict[str, bytes] = {}
    for name, secret in _mapping(key, value).items():
        converted = _secret(f"{key}[{name!r}]", secret)
        if converted is None:
            raise ConfigError(key, f"key id {name!r} has an empty key")
        result[name] = converted
    return result


def _specs(key: str, value: Any) -> tuple[Mapping[str, Any], ...]:
    try:
        items = _split(value) if value is not None else []
    except (TypeError, ValueError):
        raise ConfigError(key, "expected a list of output definitions (dicts)") from None
    specs = []
    for index, item in enumerate(items):
        if isinstance(item, str):
            item = {"type": item}
        if not isinstance(item, Mapping) or not isinstance(item.get("type"), str):
            raise ConfigError(f"{key}[{index}]", "expected a dict with a 'type' key")
        specs.append(dict(item))
    return tuple(specs)


def _callable_or_path(key: str, value: Any) -> Any:
    if value is None or callable(value):
        return value
    if isinstance(value, str) and re.fullmatch(r"[\w.]+[.:]\w+", value):
        return value
    raise ConfigError(key, "expected a callable or a dotted path 'package.module.name'")


def _attack_kinds(key: str, value: Any) -> Mapping[str, bool]:
    """Switches per attack kind: ``{"ssrf": False}`` turns one off; a list names those on."""
    if isinstance(value, Mapping) or (isinstance(value, str) and value.strip().startswith("{")):
        switches = {
            name: _bool(f"{key}[{name!r}]", on) for name, on in _mapping(key, value).items()
        }
    else:
        chosen = dict.fromkeys(_str_tuple(key, value), True)
        switches = {**dict.fromkeys(ATTACK_TYPES, False), **chosen}
    for name in switches:
        if name not in ATTACK_TYPES:
            close = difflib.get_close_matches(name, ATTACK_TYPES, 1)
            hint = f"did you mean {close[0]}? " if close else ""
            raise ConfigError(key, f"unknown attack kind {name!r}; {hint}"
                                   f"known: {', '.join(ATTACK_TYPES)}")
    return {**dict.fromkeys(ATTACK_TYPES, True), **switches}


@dataclass(frozen=True, slots=True)
class Settings:
    """Every secmon setting. Build with :meth:`Settings.build`, never mutate."""

    # Identity of the application in events.
    app_name: str = "app"
    environment: str = "production"
    enabled: bool = True
    # Where events go. With LOG_DIR and no OUTPUTS: security.log (all) + audit.log (audit).
    log_dir: Path | None = None
    outputs: tuple[Mapping[str, Any], ...] = ()
    min_level: str = "info"
    format: str = "json"
    # Who: how attempted usernames appear (a keyed hash by default).
    username_mode: str = "hash"
    hash_key: bytes | None = field(default=None, repr=False)
    # Redaction.
    redact_keys: tuple[str, ...] = ()
    redact_patterns: tuple[re.Pattern[str], ...] = ()
    max_string_length: int = 4096
    max_depth: int = 8
    max_items: int = 200
    # Request context.
    trusted_proxies: tuple[IPNetwork, ...] = ()
    request_id_header: str | None = None
    client_ip_header: str = "x-forwarded-for"
    upload_max_bytes: int = 10 * 1024 * 1024
    # Detection and state.
    state_backend: str = field(default="memory://", repr=False)  # may hold a password
    state_timeout: float = 0.05
    state_memory_max_keys: int = 100_000
    detection: Mapping[str, Any] = field(default_factory=dict)
    alert_throttle: float = 600.0
    alerts: tuple[Mapping[str, Any], ...] = field(default=(), repr=False)  # URLs are secrets
    geoip_database: Path | None = None
    geo_resolver: Any = None
    lockout_hook: Any = None
    # Attack detection in what requests carry (alert-only).
    attack_detection: bool = True
    attack_kinds: Mapping[str, bool] = field(
        default_factory=lambda: dict.fromkeys(ATTACK_TYPES, True)
    )
    attack_body_max_bytes: int = 64 * 1024
    # Integrity.
    audit_key: bytes | None = field(default=None, repr=False)
    audit_key_id: str = "k1"
    audit_keys: Mapping[str, bytes] = field(default_factory=dict, repr=False)
    checkpoint_every: int = 1000
    checkpoint_interval: float = 60.0
    checkpoint_signing_key: Path | None = None
    # What each output keeps while it cannot write (in memory; then in SPOOL_PATH, if set).
    spool_max_records: int = 10_000
    spool_max_bytes: int = 16 * 1024 * 1024
    spool_path: Path | None = None

    @classmethod
    def build(
        cls,
        source: Mapping[str, Any] | Settings | None = None,
        /,
        *,
        env: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> Settings:
        """Merge, lowest first: environment ``SECMON_*``, ``source`` (a dict), keywords.

        Keys are accepted as ``AUDIT_KEY``, ``audit_key`` or ``SECMON_AUDIT_KEY``.
        """
        if isinstance(source, Settings):
            return source.with_changes(**kwargs) if kwargs else source
        raw: dict[str, tuple[str, Any]] = {}
        environ = os.environ if env is None else env
        for name, value in environ.items():
            if name.startswith(ENV_PREFIX):
                raw[_normalize(name)] = (name, value)
        for origin in (source or {}, kwargs):
            if not isinstance(origin, Mapping):
                kind = type(origin).__name__
                raise ConfigError("SECMON", f"expected a dict of settings, got {kind}")
            for name, value in origin.items():
                if not isinstance(name, str):
                    raise ConfigError(repr(name), "setting names must be strings")
                raw[_normalize(name)] = (name, value)
        values = {}
        known = {f.name for f in fields(cls)}
        for attr, (given_name, value) in raw.items():
            if attr not in known:
                close = _closest(attr, known)
                raise ConfigError(given_name, UNKNOWN_SETTING,
                                  suggestion=close and _spelled_like(given_name, close))
            values[attr] = _CONVERTERS[attr](attr.upper(), value)
        settings = cls(**values)
        settings._check()
        return settings

    def with_changes(self, **changes: Any) -> Settings:
        """A validated copy with some settings replaced."""
        current = {f.name: getattr(self, f.name) for f in fields(self)}
        return Settings.build({**current, **changes}, env={})

    def _check(self) -> None:
        if self.environment == "production" and self.audit_key is not None and len(
            self.audit_key
        ) < 32:
            raise ConfigError(
                "AUDIT_KEY", "must be at least 32 bytes in production (try: secrets.token_hex(32))"
            )
        if self.max_string_length < 64:
            raise ConfigError("MAX_STRING_LENGTH", "must be at least 64")
        if self.audit_key_id in self.audit_keys and self.audit_key is not None and (
            self.audit_keys[self.audit_key_id] != self.audit_key
        ):
            raise ConfigError(
                "AUDIT_KEYS", f"key id {self.audit_key_id!r} is also AUDIT_KEY_ID with another key"
            )

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    def public_dict(self) -> dict[str, Any]:
        """Settings safe to show: secrets appear as set / not set."""
        shown: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in _SECRET_FIELDS:
                value = "(set)" if value else "(not set)"
            elif f.name == "state_backend":
                value = re.sub(r"//[^/@]*@", "//(credentials)@", value)
            elif f.name == "alerts":
                value = tuple(
                    {k: "(set)" if k in _ALERT_SECRETS else v for k, v in spec.items()}
                    for spec in value
                )
            shown[f.name.upper()] = value
        return shown


_SECRET_FIELDS = {"hash_key", "audit_key", "audit_keys"}
_ALERT_SECRETS = {"url", "routing_key", "secret"}


def _spelled_like(given: str, attr: str) -> str:
    """``attr`` as the user would write it, going by ``given``: log_dir, SECMON_LOG_DIR."""
    given = given.strip()
    if given.upper().startswith(ENV_PREFIX):
        return given[: len(ENV_PREFIX)] + attr.upper()
    return attr if given.islower() else attr.upper()


def _normalize(name: str) -> str:
    name = name.strip()
    if name.upper().startswith(ENV_PREFIX):
        name = name[len(ENV_PREFIX) :]
    return name.lower()


_CONVERTERS: dict[str, Callable[[str, Any], Any]] = {
    "app_name": _str,
    "environment": _choice(*ENVIRONMENTS),
    "enabled": _bool,
    "log_dir": _path,
    "outputs": _specs,
    "min_level": _choice(*LEVELS),
    "format": _str,
    "username_mode": _choice(*USERNAME_MODES),
    "hash_key": _secret,
    "redact_keys": _str_tuple,
    "redact_patterns": _patterns,
    "max_string_length": _positive_int,
    "max_depth": _positive_int,
    "max_items": _positive_int,
    "trusted_proxies": _networks,
    "request_id_header": _header,
    "client_ip_header": _choice("x-forwarded-for", "forwarded", "x-real-ip"),
    "upload_max_bytes": _positive_int,
    "state_backend": _str,
    "state_timeout": _positive_float,
    "state_memory_max_keys": _positive_int,
    "detection": _mapping,
    "alert_throttle": _positive_float,
    "alerts": _specs,
    "geoip_database": _path,
    "geo_resolver": _callable_or_path,
    "lockout_hook": _callable_or_path,
    "attack_detection": _bool,
    "attack_kinds": _attack_kinds,
    "attack_body_max_bytes": _positive_int,
    "audit_key": _secret,
    "audit_key_id": _str,
    "audit_keys": _secret_map,
    "checkpoint_every": _positive_int,
    "checkpoint_interval": _positive_float,
    "checkpoint_signing_key": _path,
    "spool_max_records": _positive_int,
    "spool_max_bytes": _byte_size,
    "spool_path": _path,
}


def from_prefixed(config: Mapping[str, Any], prefix: str = ENV_PREFIX) -> dict[str, Any]:
    """The ``SECMON_*`` entries of a framework config mapping (Flask ``app.config``)."""
    return {
        name[len(prefix) :]: value
        for name, value in config.items()
        if isinstance(name, str) and name.startswith(prefix)
    }

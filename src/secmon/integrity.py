"""HMAC hash chain over audit events: sign, checkpoints, key ids.

Every audit event is signed into the chain of the process that wrote it:

- ``chain`` names the writer: ``host:pid:start:nonce``. A chain belongs to one process
  life; a forked child (a gunicorn worker) starts its own chain at its first audit event,
  and so does a reconfigured pipeline.
- ``seq`` counts from 1 within a chain; ``prev`` is the ``mac`` of record ``seq - 1``
  (``GENESIS`` for seq 1); ``key_id`` names the key; ``mac`` is
  HMAC-SHA256(key, canonical(record without ``mac``)), hex.
- The canonical form is the final event dict serialized by orjson with sorted keys. It is
  what the JSON renderer writes, re-serialized, so a verifier rebuilds it from any output
  that keeps the fields (JSON lines, the PostgreSQL ``jsonb`` column).

Key validity: a chain is signed with one key from its first record to its last. Keys
come only from settings (``AUDIT_KEY`` / ``AUDIT_KEY_ID``; ``AUDIT_KEYS`` holds retired
ids for verification), so a new key means a reconfigured or restarted process, which
starts a new chain. Every checkpoint states the chain's key id too. A verifier therefore
takes a chain's key id from its checkpoints (or, without any, from its first signed
record) and fails any record of that chain signed with another id, older or newer: a
record re-signed with a later key is not valid at its position.

Checkpoints: every ``CHECKPOINT_EVERY`` records, every ``CHECKPOINT_INTERVAL`` seconds
when there is something new, and at clean shutdown, the chain's head (chain, seq, mac,
key id, time) is appended to each checkpoint sink the audit outputs offer (a
``*.checkpoints`` file beside an audit log, a table beside the PostgreSQL store). A
checkpoint is written only for records already handed to the outputs. With
``CHECKPOINT_SIGNING_KEY`` (an Ed25519 private key, PEM) each checkpoint carries a
signature that a verifier checks with the public key alone and cannot forge.

Without ``AUDIT_KEY`` nothing is signed, in any environment: a key nobody holds would
make a chain nobody can verify. In production a pipeline says so once, as a
``sys_monitor_disabled`` event, and ``secmon check`` and Django's system checks fail or
warn about it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import socket
import threading
import weakref
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from secrets import token_hex
from typing import TYPE_CHECKING, Any, Protocol

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from .config import ConfigError
from .errors import ReportError
from .formats.json import render_json

if TYPE_CHECKING:
    from .config import Settings

GENESIS = "0" * 64
CHAIN_FIELDS = ("chain", "seq", "prev", "key_id", "mac")
CHECKPOINT_TYPE = "secmon_checkpoint"


def utc_now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# -- the record MAC -------------------------------------------------------------------------


def canonical(record: Mapping[str, Any]) -> bytes:
    """The bytes a record's MAC covers: the record without ``mac``, keys sorted."""
    body = {key: value for key, value in record.items() if key != "mac"}
    return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)


def record_mac(key: bytes, record: Mapping[str, Any]) -> str:
    return hmac.new(key, canonical(record), hashlib.sha256).hexdigest()


class Mac:
    """HMAC-SHA256 under one key, keyed once: each record costs a copy, not a key setup."""

    __slots__ = ("_keyed",)

    def __init__(self, key: bytes) -> None:
        self._keyed = hmac.new(key, digestmod=hashlib.sha256)

    def __call__(self, body: bytes) -> str:
        mac = self._keyed.copy()
        mac.update(body)
        return mac.hexdigest()


def mac_matches(key: bytes, record: Mapping[str, Any]) -> bool:
    mac = record.get("mac")
    if not isinstance(mac, str):
        return False
    try:
        expected = record_mac(key, record)
    except TypeError:
        return False
    return hmac.compare_digest(mac, expected)


def _json_safe(event: dict[str, Any]) -> None:
    # Rare: values orjson cannot sort-serialize (non-str keys, huge ints). Sign exactly what
    # the JSON renderer will write, parsed back, so the verifier sees the same values.
    for key in CHAIN_FIELDS:
        event.pop(key, None)
    safe = orjson.loads(render_json(event))
    event.clear()
    event.update(safe)


# -- checkpoints ----------------------------------------------------------------------------


def checkpoint_payload(checkpoint: Mapping[str, Any]) -> bytes:
    """The bytes a checkpoint signature covers: the checkpoint without ``sig``."""
    return orjson.dumps(
        {key: value for key, value in checkpoint.items() if key != "sig"},
        option=orjson.OPT_SORT_KEYS,
    )


def checkpoint_signature_ok(checkpoint: Mapping[str, Any], public_key: Ed25519PublicKey) -> bool:
    sig = checkpoint.get("sig")
    if not isinstance(sig, str):
        return False
    try:
        public_key.verify(base64.b64decode(sig, validate=True), checkpoint_payload(checkpoint))
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def load_signing_key(path: Path) -> Ed25519PrivateKey:
    """The Ed25519 private key for checkpoints; problems raise ConfigError."""
    key_name = "CHECKPOINT_SIGNING_KEY"
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(key_name, f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise ConfigError(
            key_name, f"{path} is not an unencrypted PEM private key ({exc})"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(key_name, f"{path} holds a {type(key).__name__}, not an Ed25519 key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """An Ed25519 public key (PEM); a private key file is accepted and its public half used."""
    data = path.read_bytes()
    key: Any
    try:
        key = serialization.load_pem_public_key(data)
    except ValueError:
        key = serialization.load_pem_private_key(data, password=None).public_key()
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path} holds a {type(key).__name__}, not an Ed25519 key")
    return key


class CheckpointSink(Protocol):
    """Where checkpoints go; ``key`` identifies it so two outputs sharing one are written once."""

    @property
    def key(self) -> object: ...

    def write_checkpoint(self, checkpoint: dict[str, Any]) -> None: ...


class CheckpointFile:
    """Checkpoints as JSON lines appended to a file (one ``write`` each, like the logs)."""

    def __init__(self, path: Path, mode: int = 0o640) -> None:
        self.path = path
        self.mode = mode
        self._fd: int | None = None
        self._pid = -1

    @property
    def key(self) -> object:
        return ("file", str(self.path))

    def write_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if self._fd is None or self._pid != os.getpid():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
            self._fd, self._pid = os.open(self.path, flags, self.mode), os.getpid()
        data = orjson.dumps(checkpoint) + b"\n"
        if os.write(self._fd, data) != len(data):
            raise OSError(f"short write to {self.path}")

    def close(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)
        self._fd = None


# -- the signer -----------------------------------------------------------------------------


class Signer(Protocol):
    lock: threading.Lock

    def sign(self, event: dict[str, Any]) -> None: ...

    def checkpoint(self, reason: str = "manual") -> None: ...

    def close(self) -> None: ...


class ChainSigner:
    """Signs audit events into this process's chain and writes its checkpoints.

    The pipeline calls :meth:`sign` and then writes the event to every output while
    holding :attr:`lock`, so the order in each output is the chain order.
    """

    def __init__(
        self,
        key_id: str,
        key: bytes,
        *,
        sinks: list[CheckpointSink] | None = None,
        every: int = 1000,
        interval: float = 60.0,
        signing_key: Ed25519PrivateKey | None = None,
        on_error: ReportError | None = None,
    ) -> None:
        self.key_id = key_id
        self._mac = Mac(key)
        self.sinks = list(sinks or [])
        self.every = every
        self.interval = interval
        self._signing_key = signing_key
        self._on_error = on_error
        self.lock = threading.Lock()
        self.chain: str | None = None
        self.seq = 0
        self.head = GENESIS
        self._checkpointed = 0
        self._pid = -1
        self._closed = False
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None
        ref = weakref.ref(self)

        def after_fork() -> None:
            signer = ref()
            if signer is not None:
                signer._forked()

        os.register_at_fork(after_in_child=after_fork)

    def __repr__(self) -> str:
        return f"<ChainSigner key_id={self.key_id!r} chain={self.chain!r} seq={self.seq}>"

    def sign(self, event: dict[str, Any]) -> None:
        """Add ``chain``, ``seq``, ``prev``, ``key_id`` and ``mac`` to ``event`` (in place)."""
        if self._pid != os.getpid():
            self._start_chain()
        if self.seq - self._checkpointed >= self.every:
            # Checkpoint the head before this record: that one is already in the outputs.
            self._checkpoint("count")
        event["chain"] = self.chain
        event["seq"] = self.seq + 1
        event["prev"] = self.head
        event["key_id"] = self.key_id
        event.pop("mac", None)
        try:
            body = orjson.dumps(event, option=orjson.OPT_SORT_KEYS)
        except TypeError:
            _json_safe(event)
            event.update(chain=self.chain, seq=self.seq + 1, prev=self.head, key_id=self.key_id)
            body = orjson.dumps(event, option=orjson.OPT_SORT_KEYS)
        mac = self._mac(body)
        event["mac"] = mac
        self.seq += 1
        self.head = mac

    def checkpoint(self, reason: str = "manual") -> None:
        """Write a checkpoint now if records were signed since the last one."""
        with self.lock:
            if self._pid == os.getpid() and self.seq > self._checkpointed:
                self._checkpoint(reason)

    def close(self) -> None:
        """Final checkpoint of this process's chain; stops the interval timer."""
        self._stop.set()
        ticker = self._ticker
        if ticker is not None and ticker is not threading.current_thread():
            ticker.join(timeout=1.0)
        with self.lock:
            if self._pid == os.getpid() and self.seq > self._checkpointed:
                self._checkpoint("close")
            self._closed = True
            for sink in self.sinks:
                if isinstance(sink, CheckpointFile):
                    sink.close()

    # -- internals ------------------------------------------------------------------------

    def _start_chain(self) -> None:
        self._pid = os.getpid()
        start = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
        self.chain = f"{socket.gethostname()}:{self._pid}:{start}:{token_hex(4)}"
        self.seq = 0
        self.head = GENESIS
        self._checkpointed = 0
        if not self._closed and self.interval and self.sinks:
            self._stop = threading.Event()
            self._ticker = threading.Thread(
                target=_tick, args=(weakref.ref(self), self._stop, self.interval),
                name="secmon-checkpoints", daemon=True,
            )
            self._ticker.start()

    def _forked(self) -> None:
        # The parent's chain, lock state and timer thread are not the child's.
        self.lock = threading.Lock()
        self._pid = -1
        self.chain = None
        self._ticker = None
        self._stop = threading.Event()

    def _checkpoint(self, reason: str) -> None:
        self._checkpointed = self.seq
        if not self.sinks:
            return
        checkpoint: dict[str, Any] = {
            "type": CHECKPOINT_TYPE,
            "chain": self.chain,
            "seq": self.seq,
            "mac": self.head,
            "key_id": self.key_id,
            "time": utc_now(),
            "reason": reason,
        }
        if self._signing_key is not None:
            signature = self._signing_key.sign(checkpoint_payload(checkpoint))
            checkpoint["sig"] = base64.b64encode(signature).decode()
        for sink in self.sinks:
            try:
                sink.write_checkpoint(dict(checkpoint))
            except Exception as exc:
                if self._on_error is not None:
                    self._on_error("integrity.checkpoint", exc)


def _tick(ref: weakref.ref[ChainSigner], stop: threading.Event, interval: float) -> None:
    while not stop.wait(interval):
        signer = ref()
        if signer is None:
            return
        signer.checkpoint("interval")
        del signer


def build_signer(
    settings: Settings, outputs: Sequence[object], on_error: ReportError
) -> ChainSigner | None:
    """The signer for ``outputs``, or None when no ``AUDIT_KEY`` is configured.

    Checkpoints go to every sink the outputs offer (``checkpoint_sink``).
    """
    if settings.audit_key is None:
        return None
    signing_key = None
    if settings.checkpoint_signing_key is not None:
        _refuse_key_in_log_dirs(settings.checkpoint_signing_key, settings, outputs)
        signing_key = load_signing_key(settings.checkpoint_signing_key)
    sinks: dict[object, CheckpointSink] = {}
    for output in outputs:
        sink: CheckpointSink | None = getattr(output, "checkpoint_sink", None)
        if sink is not None:
            sinks.setdefault(sink.key, sink)
    return ChainSigner(
        settings.audit_key_id,
        settings.audit_key,
        sinks=list(sinks.values()),
        every=settings.checkpoint_every,
        interval=settings.checkpoint_interval,
        signing_key=signing_key,
        on_error=on_error,
    )


# What a missing AUDIT_KEY means, and what to do: in the event, `secmon check`, Django's check.
UNSIGNED = ("audit events are written unsigned, so the audit trail is not protected against "
            "tampering and `secmon verify` cannot check it")
SET_THE_KEY = ("Set SECMON_AUDIT_KEY (or the AUDIT_KEY setting) to a random secret of at "
               "least 32 bytes: python -c 'import secrets; print(secrets.token_hex(32))'")


def report_unsigned(settings: Settings, emit: Callable[..., None]) -> None:
    """In production without ``AUDIT_KEY``: one event saying the trail is not protected."""
    if settings.audit_key is None and settings.is_production and settings.enabled:
        emit("sys_monitor_disabled", message=f"AUDIT_KEY is not set: {UNSIGNED}. "
                      f"{SET_THE_KEY}", monitor="audit-trail", reason="no_audit_key")


def _refuse_key_in_log_dirs(key_path: Path, settings: Settings, outputs: Sequence[object]) -> None:
    # Whoever can edit the logs must not find the key that signs their checkpoints there.
    directories = [settings.log_dir] if settings.log_dir is not None else []
    for output in outputs:
        path = getattr(output, "path", None)
        if isinstance(path, Path):
            directories.append(path.parent)
    resolved = key_path.resolve()
    for directory in directories:
        if resolved.is_relative_to(directory.resolve()):
            raise ConfigError(
                "CHECKPOINT_SIGNING_KEY", f"{key_path} is inside the log directory {directory}"
            )

"""Redaction of secrets (by key and by value) and log-injection neutralizing for all secmon logs."""

from .injection import neutralize
from .markers import REDACTED
from .redactor import Redactor, sanitize
from .usernames import UsernameHasher

__all__ = ["REDACTED", "Redactor", "UsernameHasher", "neutralize", "sanitize"]

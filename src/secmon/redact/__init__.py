"""Redaction of secrets (by key and by value) and log-injection neutralizing for all secmon logs."""

from .redactor import REDACTED, Redactor, neutralize, sanitize
from .usernames import UsernameHasher

__all__ = ["REDACTED", "Redactor", "UsernameHasher", "neutralize", "sanitize"]

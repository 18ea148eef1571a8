"""An inspector with secmon's default redaction, and a helper to inspect one value."""

from __future__ import annotations

from typing import Any

import pytest

from secmon.attacks import Finding, Inspector
from secmon.redact import Redactor


@pytest.fixture
def inspector() -> Inspector:
    return Inspector(Redactor())


def inspect(inspector: Inspector, case: dict[str, Any]) -> list[Finding]:
    """Inspect a corpus case: ``headers`` is a dict turned into the getter adapters pass."""
    case = dict(case)
    headers = case.pop("headers", {})
    return inspector.inspect(header=headers.get, **case)

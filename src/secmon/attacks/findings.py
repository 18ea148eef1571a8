"""What request inspection reports: one finding per attack kind and request location."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

Confidence = Literal["high", "medium", "low"]

CONFIDENCES: tuple[Confidence, ...] = ("low", "medium", "high")
CONFIDENCE_RANK: dict[str, int] = {name: rank for rank, name in enumerate(CONFIDENCES)}


class Hit(NamedTuple):
    """A detector's answer: which rule matched, how sure it is, and where in the text."""

    rule_id: str
    confidence: Confidence
    start: int
    end: int


@dataclass(frozen=True, slots=True)
class Finding:
    """One attack seen in one place of a request.

    ``location`` names the place: ``path``, ``query.q``, ``body.user.name``,
    ``header.user-agent``, ``cookie``. ``fragment`` is the matched text with some
    context, already truncated and sanitized (``[REDACTED]`` under a secret key):
    never the raw payload.
    """

    type: str
    location: str
    rule_id: str
    confidence: Confidence
    fragment: str

    @property
    def event_type(self) -> str:
        """The OWASP vocabulary name to log this finding under."""
        return "malicious_attack_tool" if self.type == "attack_tool" else "malicious_extraneous"

    def attack(self) -> dict[str, str]:
        """The ``attack`` object of the event."""
        return {
            "type": self.type,
            "location": self.location,
            "rule_id": self.rule_id,
            "confidence": self.confidence,
            "fragment": self.fragment,
        }

    def event_fields(self) -> dict[str, Any]:
        """Keyword arguments for ``emit(finding.event_type, **finding.event_fields())``."""
        what = self.type.replace("_", " ")
        return {
            "attack": self.attack(),
            "reason": f"{what} in {self.location} ({self.rule_id})",
        }

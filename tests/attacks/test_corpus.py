"""Detection and false-positive rates over the attack and benign corpora."""

from __future__ import annotations

from collections import Counter

from secmon.attacks import ATTACK_TYPES, Inspector

from .benign import requests
from .conftest import inspect
from .payloads import corpus

MIN_DETECTION = 0.95
MAX_FALSE_POSITIVES = 0.005


def detection(inspector: Inspector) -> tuple[Counter[str], Counter[str], list[str]]:
    """(detected per type, payloads per type, the payloads missed)."""
    found: Counter[str] = Counter()
    total: Counter[str] = Counter()
    missed = []
    for kind, case in corpus():
        total[kind] += 1
        if any(finding.type == kind for finding in inspect(inspector, case)):
            found[kind] += 1
        else:
            missed.append(f"{kind}: {case}")
    return found, total, missed


def false_positives(inspector: Inspector) -> tuple[int, list[str]]:
    """(benign requests, descriptions of those with a finding)."""
    cases = requests()
    flagged = []
    for case in cases:
        findings = inspect(inspector, case)
        if findings:
            flagged.append(f"{[(f.location, f.rule_id) for f in findings]} in {case}")
    return len(cases), flagged


def test_corpora_are_large_enough() -> None:
    assert len(requests()) >= 500
    cases = corpus()
    assert len(cases) >= 300
    assert {kind for kind, _ in cases} == set(ATTACK_TYPES)


def test_attack_corpus_is_detected(inspector: Inspector) -> None:
    found, total, missed = detection(inspector)
    rate = sum(found.values()) / sum(total.values())
    assert rate >= MIN_DETECTION, "\n".join(missed)
    for kind in total:  # no kind is carried by the others
        assert found[kind] / total[kind] >= 0.9, (kind, found[kind], total[kind])


def test_benign_corpus_raises_almost_nothing(inspector: Inspector) -> None:
    count, flagged = false_positives(inspector)
    assert len(flagged) / count <= MAX_FALSE_POSITIVES, "\n".join(flagged)


def test_each_kind_can_be_switched_off() -> None:
    for kind in ATTACK_TYPES:
        inspector = Inspector(__import__("secmon.redact").redact.Redactor(),
                              kinds=[k for k in ATTACK_TYPES if k != kind])
        for expected, case in corpus():
            if expected == kind:
                assert all(f.type != kind for f in inspect(inspector, case)), case

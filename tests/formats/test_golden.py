"""Golden files: one event of each category rendered in each SIEM format.

Run with UPDATE_GOLDEN=1 to rewrite them after an intended change, then review the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from secmon import __version__, formats

from . import ecs_schema, ocsf_schema
from .cef_parser import parse as parse_cef
from .samples import SAMPLES

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
VERSION = "<secmon version>"
CASES = [(name, category) for name in ("ecs", "ocsf", "cef") for category in SAMPLES]


def _golden_path(name: str, category: str) -> Path:
    return GOLDEN / name / f"{category}.{'cef' if name == 'cef' else 'json'}"


@pytest.mark.parametrize(("name", "category"), CASES)
def test_matches_golden_file(name: str, category: str) -> None:
    rendered = formats.get(name)(SAMPLES[category])
    assert b"\n" not in rendered
    path = _golden_path(name, category)
    # secmon's own version appears in the output; the golden files hold a placeholder.
    if name == "cef":
        header = rendered.decode().split("|", 4)
        assert header[3] == __version__
        actual = "|".join([*header[:3], VERSION, header[4]]) + "\n"
    else:
        document = json.loads(rendered)
        if name == "ocsf":
            assert document["metadata"]["product"]["version"] == __version__
            document["metadata"]["product"]["version"] = VERSION
        actual = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(actual)
    assert actual == path.read_text(), f"{path} differs (UPDATE_GOLDEN=1 to rewrite)"


@pytest.mark.parametrize("category", SAMPLES)
def test_golden_ecs_files_are_valid_ecs(category: str) -> None:
    assert ecs_schema.problems(json.loads(_golden_path("ecs", category).read_text())) == []


@pytest.mark.parametrize("category", SAMPLES)
def test_golden_ocsf_files_are_valid_ocsf(category: str) -> None:
    document = json.loads(_golden_path("ocsf", category).read_text())
    assert ocsf_schema.problems(document) == []


@pytest.mark.parametrize("category", SAMPLES)
def test_golden_cef_files_parse(category: str) -> None:
    header, extension = parse_cef(_golden_path("cef", category).read_text().rstrip("\n"))
    assert header[4] == SAMPLES[category]["event_type"]
    assert extension["msg"] == SAMPLES[category]["event"]

"""The import contracts in pyproject.toml: secmon imports one way, and lint-imports says so."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint_imports(package_parent: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    """lint-imports with secmon's contract over the secmon package found in ``package_parent``."""
    env = {**os.environ, "PYTHONPATH": str(package_parent)}
    return subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", str(PYPROJECT)],
        cwd=cwd, env=env, capture_output=True, text=True, timeout=120,
    )


def test_secmon_keeps_its_layers(tmp_path: Path) -> None:
    result = lint_imports(ROOT / "src", tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "secmon layers KEPT" in result.stdout
    assert "no import cycles inside a package KEPT" in result.stdout


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """A copy of the package to break; lint-imports reads it instead of the real one."""
    shutil.copytree(ROOT / "src" / "secmon", tmp_path / "secmon",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


UPWARD = [
    # A lower layer importing a higher one, at the top of a module.
    ("outputs/health.py", "from ..pipeline import Pipeline\n",
     "secmon.outputs is not allowed to import secmon.pipeline"),
    # Only for type checking: still an upward dependency, so still refused.
    ("events.py", "from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n"
                  "    from .config import Settings\n",
     "secmon.events is not allowed to import secmon.config"),
    # Inside a function, as lazy imports are.
    ("detect/rule.py", "def _later() -> None:\n    from ..cli import main\n",
     "secmon.detect is not allowed to import secmon.cli"),
    # The core importing a framework adapter.
    ("web.py", "from .flask import SecMon\n",
     "secmon.web is not allowed to import secmon.flask"),
    # Modules of one layer are independent of each other.
    ("outputs/base.py", "from ..detect import Engine\n",
     "secmon.outputs is not allowed to import secmon.detect"),
]


@pytest.mark.parametrize(("module", "source", "message"), UPWARD,
                         ids=[case[0] for case in UPWARD])
def test_an_upward_import_breaks_the_contract(
    copy: Path, module: str, source: str, message: str
) -> None:
    target = copy / "secmon" / module
    target.write_text(target.read_text() + "\n" + source)
    result = lint_imports(copy, copy)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "secmon layers BROKEN" in result.stdout
    assert message in result.stdout


def test_an_import_cycle_inside_a_package_breaks_the_contract(copy: Path) -> None:
    # detect.rule imports detect.options; the reverse would make the two a cycle.
    target = copy / "secmon" / "detect" / "options.py"
    target.write_text(target.read_text() + "\n\ndef _later() -> None:\n"
                      "    from .rule import Rule\n")
    result = lint_imports(copy, copy)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "no import cycles inside a package BROKEN" in result.stdout
    assert "No cycles are allowed in secmon.detect" in result.stdout


def test_a_module_outside_the_contract_breaks_it(copy: Path) -> None:
    # Every module has a declared place: a new one must be put in a layer.
    (copy / "secmon" / "spool.py").write_text('"""Somewhere to put records."""\n')
    result = lint_imports(copy, copy)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "secmon.spool" in result.stdout

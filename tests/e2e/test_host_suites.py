"""Flask-Login's own test suite, run with ``SecMon(app)`` on every app it builds.

The suite is the one of the installed Flask-Login release, from its source distribution
on PyPI (cached between runs). It runs twice in a fresh interpreter, without and with
secmon, and every test must end the same way: an extension's own tests are the most
thorough statement of what it does, and secmon must not change any of it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import xml.etree.ElementTree as ET
from importlib.metadata import version
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

SHIMS = Path(__file__).parent / "shims"


@pytest.fixture(scope="module")
def flask_login_suite(pytestconfig: pytest.Config) -> Path:
    """The unpacked sdist of the installed Flask-Login (its tests ship in it)."""
    release = version("flask-login")
    assert pytestconfig.cache is not None
    cache = pytestconfig.cache.mkdir(f"flask-login-{release}-sdist")
    unpacked = cache / "src"
    if not (unpacked / "tests").is_dir():
        done = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
             "--no-binary", ":all:", f"flask-login=={release}", "-d", str(cache)],
            capture_output=True, text=True, timeout=300,
        )
        assert done.returncode == 0, f"pip download flask-login=={release}:\n{done.stderr}"
        [archive] = [path for path in cache.iterdir() if path.name.endswith(".tar.gz")]
        with tarfile.open(archive) as tar:
            tar.extractall(cache, filter="data")
        [root] = [path for path in cache.iterdir()
                  if path.is_dir() and path.name.lower().startswith("flask")]
        root.rename(unpacked)
    return unpacked


def run_suite(root: Path, tmp_path: Path, *, with_secmon: bool) -> tuple[dict[str, str], int]:
    """Each test's outcome (by node id), and how many apps got SecMon."""
    report, count = tmp_path / "report.xml", tmp_path / "apps"
    env = {**os.environ, "SECMON_LOG_DIR": str(tmp_path / "logs"),
           "SECMON_ENVIRONMENT": "test", "SHIM_APP_COUNT_FILE": str(count)}
    command = [sys.executable, "-m", "pytest", "tests", "-q", "-p", "no:cacheprovider",
               f"--junitxml={report}", f"--basetemp={tmp_path / 'basetemp'}"]
    if with_secmon:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SHIMS), env.get("PYTHONPATH")]))
        command[5:5] = ["-p", "secmon_on_every_flask_app"]
    done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True,
                          timeout=300)
    assert report.exists(), f"the suite did not run:\n{done.stdout}\n{done.stderr}"
    outcomes = {}
    for case in ET.parse(report).iter("testcase"):
        kinds = [child.tag for child in case if child.tag in {"failure", "error", "skipped"}]
        outcomes[f"{case.get('classname')}::{case.get('name')}"] = (kinds[0] if kinds
                                                                     else "passed")
    return outcomes, int(count.read_text()) if count.exists() else 0


def test_flask_login_suite_passes_the_same_with_secmon(
    flask_login_suite: Path, tmp_path: Path
) -> None:
    baseline, _ = run_suite(flask_login_suite, tmp_path / "without", with_secmon=False)
    assert len(baseline) > 100
    assert set(baseline.values()) <= {"passed", "skipped"}, "the suite fails without secmon"

    outcomes, wired = run_suite(flask_login_suite, tmp_path / "with", with_secmon=True)

    assert wired > 100  # every app the suite built had secmon
    changed = {name: (baseline.get(name), outcome) for name, outcome in outcomes.items()
               if baseline.get(name) != outcome}
    assert changed == {}
    assert outcomes.keys() == baseline.keys()

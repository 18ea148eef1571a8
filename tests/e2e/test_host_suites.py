"""Extensions' and frameworks' own test suites, run with secmon on every app they build.

Flask-Login's suite runs with ``SecMon(app)`` on each Flask app, Starlette's with
``SecMonMiddleware`` around each app its test client drives. Each suite is the one of the
installed release, from its source distribution on PyPI (cached between runs), and runs
twice in a fresh interpreter, without and with secmon: every test must end the same way.
A project's own tests are the most thorough statement of what it does, and secmon must
not change any of it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

SHIMS = Path(__file__).parent / "shims"


@dataclass(frozen=True)
class Suite:
    distribution: str
    shim: str  # the plugin module in shims/ that puts secmon on every app
    minimum_tests: int
    minimum_apps: int


SUITES = {
    "flask-login": Suite("flask-login", "secmon_on_every_flask_app", 100, 100),
    "starlette": Suite("starlette", "secmon_on_every_asgi_app", 1000, 1000),
}


@pytest.fixture(scope="module", params=sorted(SUITES))
def suite(request: pytest.FixtureRequest, pytestconfig: pytest.Config) -> tuple[Suite, Path]:
    """The suite and its unpacked sdist (the tests ship in it)."""
    suite = SUITES[request.param]
    release = version(suite.distribution)
    assert pytestconfig.cache is not None
    cache = pytestconfig.cache.mkdir(f"{suite.distribution}-{release}-sdist")
    unpacked = cache / "src"
    if not (unpacked / "tests").is_dir():
        done = subprocess.run(
            [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
             "--no-binary", ":all:", f"{suite.distribution}=={release}", "-d", str(cache)],
            capture_output=True, text=True, timeout=300,
        )
        assert done.returncode == 0, f"pip download {suite.distribution}:\n{done.stderr}"
        [archive] = [path for path in cache.iterdir() if path.name.endswith(".tar.gz")]
        with tarfile.open(archive) as tar:
            tar.extractall(cache, filter="data")
        [root] = [path for path in cache.iterdir() if path.is_dir() and path.name != "src"]
        root.rename(unpacked)
    return suite, unpacked


def run_suite(suite: Suite, root: Path, workdir: Path, *,
              with_secmon: bool) -> tuple[dict[str, str], int]:
    """Each test's outcome (by node id), and how many apps got secmon."""
    workdir.mkdir(parents=True)
    report, count = workdir / "report.xml", workdir / "apps"
    env = {name: value for name, value in os.environ.items() if not name.startswith("SECMON_")}
    env |= {"SECMON_LOG_DIR": str(workdir / "logs"), "SECMON_ENVIRONMENT": "test",
            "SHIM_APP_COUNT_FILE": str(count)}
    command = [sys.executable, "-m", "pytest", "tests", "-q", "-p", "no:cacheprovider",
               "--continue-on-collection-errors",
               f"--junitxml={report}", f"--basetemp={workdir / 'basetemp'}"]
    if with_secmon:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SHIMS), env.get("PYTHONPATH")]))
        command += ["-p", suite.shim]
    done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True,
                          timeout=600)
    assert report.exists(), f"the suite did not run:\n{done.stdout}\n{done.stderr}"
    outcomes = {}
    for case in ET.parse(report).iter("testcase"):
        ends = [child for child in case if child.tag in {"failure", "error", "skipped"}]
        outcome = "passed"
        if ends:  # "failure: AssertionError: ..." (the first line says enough to compare)
            outcome = f"{ends[0].tag}: {(ends[0].get('message') or '').splitlines()[:1]}"
        outcomes[f"{case.get('classname')}::{case.get('name')}"] = outcome
    return outcomes, int(count.read_text()) if count.exists() else 0


@pytest.fixture
def workdir() -> Iterator[Path]:
    # Not tmp_path: concurrent pytest runs of the same user prune each other's numbered
    # temporary directories, and a suite runs for a minute.
    with tempfile.TemporaryDirectory(prefix="secmon-host-suite-") as path:
        yield Path(path)


def test_the_suite_ends_the_same_with_secmon(suite: tuple[Suite, Path], workdir: Path) -> None:
    spec, root = suite
    # Without secmon some tests may fail here (e.g. permission checks when run as root,
    # optional dependencies absent): they must fail the same way with it.
    baseline, _ = run_suite(spec, root, workdir / "without", with_secmon=False)
    assert sum(outcome == "passed" for outcome in baseline.values()) > spec.minimum_tests

    outcomes, wired = run_suite(spec, root, workdir / "with", with_secmon=True)

    assert wired > spec.minimum_apps  # the apps the suite built had secmon
    changed = {name: (baseline.get(name), outcome) for name, outcome in outcomes.items()
               if _kind(baseline.get(name)) != _kind(outcome)}
    assert changed == {}
    assert outcomes.keys() == baseline.keys()


def _kind(outcome: str | None) -> str | None:
    return outcome.partition(":")[0] if outcome else outcome

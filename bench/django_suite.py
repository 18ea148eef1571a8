"""Django's own test suite without and with secmon: the cost, and that no result changes.

    .venv/bin/python bench/django_suite.py [LABEL ...] [--rounds N] [--callgrind]

The installed Django's source distribution (its tests ship in it) is downloaded once into
``.cache/``. A copy of its ``runtests.py`` adds ``secmon.django`` to the apps and
``SecurityMiddleware`` to the middleware every test project gets; both runners then run
the labels (default: auth_tests admin_views csrf_tests sessions_tests file_uploads) in
one process each, alternately, and the report gives each test's outcome changes (there
must be none) and the cost: CPU time (user + sys, the fastest round), or with
``--callgrind`` the instructions executed (exact on a busy machine, some 50 times slower).
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import subprocess
import sys
import tarfile
import tempfile
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".cache"
DEFAULT_LABELS = ["auth_tests", "admin_views", "csrf_tests", "sessions_tests", "file_uploads"]
# "test_login (auth_tests.test_views.LoginTest.test_login) ... ok", a docstring line between
_OUTCOME = re.compile(r"^(\w+) \(([\w.]+)\)(?:\n.*?)? \.\.\. "
                      r"(ok|FAIL|ERROR|skipped|expected failure|unexpected success)", re.MULTILINE)


def django_tests() -> Path:
    """``tests/`` of the installed Django's sdist, with ``runtests_secmon.py`` beside it."""
    release = version("django")
    unpacked = CACHE / f"django-{release}"
    tests = unpacked / "tests"
    if not tests.is_dir():
        CACHE.mkdir(exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
                        "--no-binary", ":all:", f"django=={release}", "-d", str(CACHE)],
                       check=True)
        with tarfile.open(CACHE / f"django-{release}.tar.gz") as tar:
            tar.extractall(CACHE, filter="data")
    runner = tests / "runtests_secmon.py"
    if not runner.exists():
        source = (tests / "runtests.py").read_text()
        source = source.replace('    "django.contrib.staticfiles",\n]',
                                '    "django.contrib.staticfiles",\n    "secmon.django",\n]', 1)
        source = source.replace(
            '    "django.contrib.messages.middleware.MessageMiddleware",\n]',
            '    "django.contrib.messages.middleware.MessageMiddleware",\n'
            '    "secmon.django.SecurityMiddleware",\n]', 1)
        assert source.count("secmon.django") == 2, "runtests.py changed its lists"
        runner.write_text(source)
    return tests


def run(tests: Path, runner: str, labels: list[str], *,
        callgrind: bool) -> tuple[float, dict[str, str]]:
    """The cost of one run (CPU seconds or instructions) and each test's outcome."""
    with tempfile.TemporaryDirectory() as logs:
        env = {name: value for name, value in os.environ.items()
               if not name.startswith("SECMON_")}
        env["SECMON_LOG_DIR"] = logs
        command = [sys.executable, runner, *labels, "--parallel", "1", "-v", "2"]
        if callgrind:
            out = Path(logs) / "callgrind.out"
            command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", *command]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run(command, cwd=tests, env=env, capture_output=True, text=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    report = done.stderr
    outcomes = {case: result for _, case, result in _OUTCOME.findall(report)}
    if callgrind:
        collected = re.search(r"Collected : (\d+)", report)
        assert collected, report[-2000:]
        return float(collected.group(1)), outcomes
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("labels", nargs="*", default=DEFAULT_LABELS)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--callgrind", action="store_true")
    args = parser.parse_args()
    tests = django_tests()
    costs: dict[str, list[float]] = {"runtests.py": [], "runtests_secmon.py": []}
    outcomes: dict[str, dict[str, str]] = {}
    for _ in range(1 if args.callgrind else args.rounds):
        for runner in costs:
            cost, outcomes[runner] = run(tests, runner, args.labels, callgrind=args.callgrind)
            costs[runner].append(cost)
    without, with_secmon = outcomes["runtests.py"], outcomes["runtests_secmon.py"]
    changed = {name: (without.get(name), with_secmon.get(name))
               for name in without.keys() | with_secmon.keys()
               if without.get(name) != with_secmon.get(name)}
    unit = "instructions" if args.callgrind else "s CPU"
    base, secmon = min(costs["runtests.py"]), min(costs["runtests_secmon.py"])
    print(f"Django {version('django')}: {' '.join(args.labels)}: {len(without)} tests")
    print(f"  without secmon: {base:,.2f} {unit}")
    print(f"  with secmon:    {secmon:,.2f} {unit}  ({secmon / base:.3f}x)")
    print(f"  outcomes changed by secmon: {len(changed)}")
    for name, (old, new) in sorted(changed.items()):
        print(f"    {name}: {old} -> {new}")
    sys.exit(1 if changed else 0)


if __name__ == "__main__":
    main()

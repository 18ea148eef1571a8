"""Instructions per request, counted by valgrind's callgrind: each adapter bare and with secmon.

Wall-clock ratios move with whatever else the machine runs; the number of instructions a
request executes does not. Each variant runs in its own process under callgrind: the app
is built, warmed up (first-request setup, caches), then a fixed number of requests runs
between two markers, and only what runs between them is counted. The markers are two
cheap system calls nothing else makes, ``os.getppid()`` (callgrind zeroes its counters on
entering it) and ``os.getpgrp()`` (callgrind writes the counts out on entering it), so
interpreter start-up, imports and the warm-up never reach the figure.

An adapter takes part with two names in its bench module: ``INSTRUCTIONS``, the figures
as ``(name, variant, baseline name, baseline variant, target)``, and ``workload(variant)``,
which builds that variant's app and returns a function that sends it ``n`` requests.
Adding an adapter is one line in ``ADAPTERS``.

The same code counted twice gives the same number to the instruction, but a change that
does nothing can still move a count a little: dict and set layouts, and with them probe
lengths and the moments the garbage collector runs, follow string hashes. So the A/A
control counts the first baseline variant again under another hash seed (every count
uses a fixed seed): its distance from 1.000x is the resolution of these figures.

``python -m bench.bench_instructions MODULE VARIANT N`` is what runs under callgrind.
"""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .common import Result

ADAPTERS = (
    "bench.bench_asgi",
    "bench.bench_flask",
    "bench.bench_django",
)
# Counts do not vary between runs (beyond a few parts in ten thousand): one run is enough.
RUNS = 1
REQUESTS = 1_000
QUICK_REQUESTS = 100
WARM_UP = 200
CONTROL_SEED = 1
ROOT = Path(__file__).resolve().parent.parent
UNIT = "instructions/request"
Figure = tuple[str, str, str, str, str]


def count(module: str, variant: str, requests: int, hash_seed: int = 0) -> float:
    """Instructions per request of ``variant``, from one process under callgrind."""
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise RuntimeError("valgrind not found: instruction counts need it "
                           "(Debian: apt-get install valgrind)")
    with tempfile.TemporaryDirectory(prefix="secmon-callgrind-") as tmp:
        out = Path(tmp) / "callgrind.out"
        command = [
            valgrind, "--tool=callgrind", f"--callgrind-out-file={out}",
            "--zero-before=os_getppid*", "--dump-before=os_getpgrp*",
            sys.executable, "-m", "bench.bench_instructions", module, variant, str(requests),
        ]
        # A fixed hash seed: the same dict and set layouts, so the same work, in every run.
        env = {**os.environ, "PYTHONHASHSEED": str(hash_seed)}
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                              timeout=1800, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{module} {variant} under callgrind failed:\n{done.stderr[-3000:]}")
        dump = Path(f"{out}.1")  # written on entering os.getpgrp(): the measured requests
        if not dump.exists():
            raise RuntimeError("callgrind wrote no dump at the end marker: this Python's "
                               "os_getppid/os_getpgrp symbols are not visible to valgrind")
        for line in dump.read_text().splitlines():
            if line.startswith("summary:"):
                return int(line.split()[1]) / requests
    raise RuntimeError(f"no summary line in {dump}")


def _figures(module: str) -> Sequence[Figure]:
    figures: Sequence[Figure] = importlib.import_module(module).INSTRUCTIONS
    return figures


def run(quick: bool = False) -> list[Result]:
    requests = QUICK_REQUESTS if quick else REQUESTS
    jobs: list[tuple[str, str, int]] = []  # (module, variant, hash seed)
    for module in ADAPTERS:
        for _, variant, _, baseline, _ in _figures(module):
            jobs += [job for job in ((module, variant, 0), (module, baseline, 0))
                     if job not in jobs]
        jobs.append((module, _figures(module)[0][3], CONTROL_SEED))
    # Each count runs in its own process, so they may share the cores without moving.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        measured = pool.map(lambda job: count(job[0], job[1], requests, job[2]), jobs)
        counts = dict(zip(jobs, measured, strict=True))
    results = []
    for module in ADAPTERS:
        group = module.rsplit("_", 1)[1]
        figures = _figures(module)
        for name, variant, baseline_name, baseline, target in figures:
            results.append(Result(group, name, counts[module, variant, 0], UNIT, baseline_name,
                                  counts[module, baseline, 0], target=target, better="lower"))
        _, _, baseline_name, baseline, _ = figures[0]
        results.append(Result(group, f"A/A control: {baseline_name}, another hash seed",
                              counts[module, baseline, CONTROL_SEED], UNIT, baseline_name,
                              counts[module, baseline, 0], target="(1.000x ± resolution)",
                              better="lower", control=True))
    return results


def _child(module: str, variant: str, requests: int) -> None:
    send: Callable[[int], None] = importlib.import_module(module).workload(variant)
    send(WARM_UP)
    os.getppid()  # callgrind: zero the counters
    send(requests)
    os.getpgrp()  # callgrind: write out what the requests cost


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2], int(sys.argv[3]))

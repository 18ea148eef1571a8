"""`secmon report` in a fresh virtualenv holding only what `pip install "secmon[django]"` brings."""

from __future__ import annotations

import subprocess
import sys
import venv
from pathlib import Path

import pytest

from tests.sample_logs import events, write_log

ROOT = Path(__file__).resolve().parents[2]


def run(*args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=600,
                          cwd=cwd)


@pytest.mark.e2e
def test_report_works_after_installing_a_framework_extra_only(tmp_path: Path) -> None:
    built = run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w",
                tmp_path / "dist", ROOT)
    assert built.returncode == 0, built.stderr
    [wheel] = (tmp_path / "dist").glob("secmon-*.whl")
    venv.create(tmp_path / "venv", with_pip=True)
    bin_dir = tmp_path / "venv" / "bin"
    # `report` as well: requirements files that name the old extra keep installing.
    installed = run(bin_dir / "python", "-m", "pip", "install", "--quiet",
                    f"secmon[django,report] @ {wheel.as_uri()}")
    assert installed.returncode == 0, installed.stderr
    assert "does not provide the extra" not in installed.stderr
    present = run(bin_dir / "python", "-m", "pip", "list", "--format=freeze").stdout.lower()
    assert "django==" in present
    assert "jinja2" not in present and "matplotlib" not in present

    log = write_log(tmp_path / "security.log", events())
    out = tmp_path / "report.html"
    done = run(bin_dir / "secmon", "report", log, "-o", out, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"report written to {out}" in done.stdout
    assert out.read_text().count('<svg class="chart"') == 4

"""`secmon demo` as a user of the package runs it: the wheel, a fresh venv, one extra."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

from ..conftest import read_lines

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
INSTALL_TIMEOUT = 600  # pip resolving and unpacking [all] on a busy machine


def user_env() -> dict[str, str]:
    """The environment of a user's shell: none of this suite's settings or interpreters."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("SECMON_", "DJANGO_", "PYTHON", "VIRTUAL_ENV"))
            } | {"COLUMNS": "160"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "--wheel-dir", str(out), str(ROOT)], check=True, capture_output=True,
                   timeout=INSTALL_TIMEOUT)
    [built] = out.glob("secmon-*.whl")
    return built


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """A fresh venv with the wheel and one extra ("" for none): its bin directory."""
    venvs: dict[str, Path] = {}

    def install(extra: str) -> Path:
        if extra not in venvs:
            venv = tmp_path_factory.mktemp(f"venv-{extra or 'bare'}")
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True,
                           capture_output=True, timeout=INSTALL_TIMEOUT)
            requirement = f"secmon{f'[{extra}]' if extra else ''} @ {wheel.as_uri()}"
            done = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install",
                                   "--quiet", requirement], capture_output=True, text=True,
                                  timeout=INSTALL_TIMEOUT, env=user_env())
            assert done.returncode == 0, done.stderr
            venvs[extra] = venv / "bin"
        return venvs[extra]

    return install


def secmon_demo(bin_dir: Path, where: Path) -> subprocess.CompletedProcess[str]:
    # Run away from any checkout: the example projects can only come from the package.
    where.mkdir(exist_ok=True)
    return subprocess.run([str(bin_dir / "secmon"), "demo", "--no-pause"], cwd=where,
                          capture_output=True, text=True, timeout=300, env=user_env())


def test_the_wheel_ships_the_example_projects(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    for path in ("example_projects/django_site/portal/views.py",
                 "example_projects/django_site/portal/templates/registration/login.html",
                 "example_projects/flask_app/app.py",
                 "example_projects/flask_app/templates/base.html",
                 "example_projects/fastapi_app/main.py"):
        assert f"secmon/{path}" in names, path
    assert not [name for name in names if "__pycache__" in name or name.endswith(".sqlite3")]


@pytest.mark.parametrize("extra", ["demo", "all"])
def test_secmon_demo_runs_from_a_fresh_install(installed: Callable[[str], Path], tmp_path: Path,
                                               extra: str) -> None:
    done = secmon_demo(installed(extra), tmp_path / "home")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert "INTACT" in done.stdout and "alerts delivered" in done.stdout
    written = tmp_path / "home" / "demo-output"
    assert {e["app"] for e in read_lines(written / "logs" / "security.log")} == {
        "django_site", "flask-shop", "fastapi-shop"}
    assert (written / "report.html").exists()


def test_without_the_demo_extra_one_line_names_what_to_install(
        installed: Callable[[str], Path], tmp_path: Path) -> None:
    done = secmon_demo(installed(""), tmp_path)
    assert done.returncode == 1 and done.stdout == ""
    [line] = done.stderr.splitlines()
    assert line.startswith("secmon: demo: the example projects need ")
    assert line.endswith('(not installed here): pip install "secmon[demo]"')
    for package in ("django", "django-ratelimit", "flask-login", "fastapi", "slowapi"):
        assert f" {package}," in line or f" {package} (" in line, package


def test_a_module_gone_from_a_demo_install_is_one_line(installed: Callable[[str], Path],
                                                       tmp_path: Path) -> None:
    # wtforms comes with Flask-WTF; removed, it is missing at import, not in secmon's list.
    bin_dir = installed("demo")
    pip = [str(bin_dir / "python"), "-m", "pip", "--quiet"]
    version = subprocess.run([*pip[:-1], "show", "wtforms"], capture_output=True, text=True,
                             check=True).stdout.split("Version: ")[1].split()[0]
    subprocess.run([*pip, "uninstall", "--yes", "wtforms"], check=True, capture_output=True)
    try:
        done = secmon_demo(bin_dir, tmp_path)
    finally:
        subprocess.run([*pip, "install", "--no-deps", f"wtforms=={version}"], check=True,
                       capture_output=True, env=user_env(), timeout=INSTALL_TIMEOUT)
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.splitlines()[-1] == ('secmon: demo: the example projects import wtforms '
                                            '(not installed here): pip install "secmon[demo]"')

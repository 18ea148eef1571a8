"""What a newcomer meets: a fresh clone, the README's two commands, and a bare machine.

The clone is made from this checkout's committed state (HEAD), so uncommitted changes to the
README or the Makefile are not what these tests read: they see what `git clone` gives.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# What the README asks a newcomer to bring ("Python 3.10+ and make"); the services step
# installs python3 itself on Debian, as root.
PREREQUISITES = {"make", "python3"}
# Words of the shell itself, not programs on disk.
SHELL_BUILTINS = {"cd", "command", "echo", "exit", "export", "false", "printf", "set", "test",
                  "true", "[", ":"}
SEPARATORS = {"||", "&&", ";", "|", "&", "(", ")", "{", "}", "!"}
# Everything the shell or make would otherwise take from the environment this suite runs in.
INHERITED = ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "PYTHON", "VENV", "SERVICES", "PYTEST_ARGS",
             "VIRTUAL_ENV")


def newcomer_env(**extra: str) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in INHERITED} | extra


@pytest.fixture(scope="module")
def clone(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (ROOT / ".git").exists() or shutil.which("git") is None:
        pytest.skip("not a git checkout (or no git): there is no repository to clone")
    target = tmp_path_factory.mktemp("newcomer") / "secmon"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(target)], check=True,
                   capture_output=True, timeout=120)
    return target


def readme_commands(readme: str) -> list[str]:
    """The commands of the README's "Two commands" block, without their comments."""
    block = re.search(r"^## Two commands\n\n```sh\n(.*?)^```", readme, re.MULTILINE | re.DOTALL)
    assert block, "the README has no '## Two commands' block"
    return [line.split("#")[0].strip() for line in block.group(1).splitlines() if line.strip()]


def dry_run(clone: Path, target: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["make", "-n", target], cwd=clone, capture_output=True, text=True,
                          env=newcomer_env(), timeout=60)


def simple_commands(script: str) -> Iterator[list[str]]:
    """Each simple command of a shell script (program and arguments), in order."""
    for line in script.splitlines():
        lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
        lexer.whitespace_split = True
        command: list[str] = []
        for word in [*lexer, ";"]:
            if word in SEPARATORS:
                if command:
                    yield command
                command = []
            elif command or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*=", word):
                command.append(word)


def debian_package(path: str) -> str | None:
    """The installed package that ships ``path`` (either side of the /usr merge)."""
    for candidate in dict.fromkeys((path, path.removeprefix("/usr"), "/usr" + path)):
        done = subprocess.run(["dpkg-query", "-S", candidate], capture_output=True, text=True)
        for line in done.stdout.splitlines():
            if not line.startswith("diversion by"):
                return line.rsplit(": ", 1)[0].split(", ")[0].split(":")[0]
    return None


def on_every_debian(package: str | None) -> bool:
    """Whether a minimal Debian (debootstrap's minbase) has the package: Priority required."""
    if package is None:
        return False
    done = subprocess.run(["dpkg-query", "-W", "-f", "${Priority} ${Essential}", package],
                          capture_output=True, text=True, check=True)
    priority, essential = done.stdout.split()
    return priority == "required" or essential == "yes"


def providers(path: str) -> list[str]:
    """The files that may stand behind a program: itself, or each choice of its alternative
    (awk is mawk on a minimal Debian, whatever this machine chose)."""
    link = os.readlink(path) if os.path.islink(path) else ""
    if not link.startswith("/etc/alternatives/"):
        return [path]
    done = subprocess.run(["update-alternatives", "--list", Path(link).name],
                          capture_output=True, text=True)
    return done.stdout.split()


def missing_on_a_fresh_machine(clone: Path, steps: str) -> list[str]:
    """What the steps run that neither a fresh Debian, the clone nor an earlier step has."""
    made: list[Path] = []  # virtual environments the steps create: their bin/ is theirs
    lacking = []
    for program, *args in simple_commands(steps):
        if "/" in program:
            path = clone / program
            if any(path.is_relative_to(venv) for venv in made):
                continue
            if not path.is_file():
                lacking.append(f"{program} (not in a fresh clone)")
            elif not path.stat().st_mode & stat.S_IXUSR:
                lacking.append(f"{program} (not executable in a fresh clone)")
            else:
                first = path.read_bytes().partition(b"\n")[0].decode(errors="replace")
                interpreter = first.removeprefix("#!").split()[:1] if first[:2] == "#!" else []
                if not any(on_every_debian(debian_package(file))
                           for name in interpreter for file in providers(name)):
                    lacking.append(f"{program} (runs with {interpreter or 'no #! line'})")
        elif program not in SHELL_BUILTINS and program not in PREREQUISITES:
            found = shutil.which(program)
            packages = [debian_package(file) for file in providers(found)] if found else []
            if not any(on_every_debian(package) for package in packages):
                lacking.append(f"{program} ({', '.join(map(str, packages)) or 'not found'})")
        if args[:2] == ["-m", "venv"] and len(args) > 2:
            made.append(clone / args[2])
    return lacking


def test_the_readme_gives_the_two_commands_of_the_makefile(clone: Path) -> None:
    assert readme_commands((clone / "README.md").read_text()) == ["make demo", "make test"]
    for target in ("demo", "test"):
        done = dry_run(clone, target)
        assert done.returncode == 0, done.stderr


def test_every_make_command_the_readme_names_is_a_target(clone: Path) -> None:
    named = set(re.findall(r"\bmake ([a-z][\w-]*)", (clone / "README.md").read_text()))
    assert {"demo", "test", "test-fast", "lint", "bench"} <= named
    for target in sorted(named):
        assert dry_run(clone, target).returncode == 0, f"the README names `make {target}`"


def test_ci_runs_what_the_readme_says_and_nothing_else(clone: Path) -> None:
    script = (clone / ".ci" / "run").read_text()
    steps = [line.strip() for line in script.splitlines()
             if line.strip() and not line.startswith("#")
             and not line.startswith(("set ", "cd "))]
    assert steps == ["make test"]


@pytest.mark.skipif(shutil.which("dpkg-query") is None,
                    reason="knows what a fresh Debian has, from dpkg's priorities")
@pytest.mark.parametrize("target", ["demo", "test"])
def test_make_runs_nothing_a_fresh_machine_lacks(clone: Path, target: str) -> None:
    done = dry_run(clone, target)
    assert done.returncode == 0, done.stderr
    assert "-m venv .venv" in done.stdout  # a fresh clone: the whole way from nothing
    assert missing_on_a_fresh_machine(clone, done.stdout) == [], done.stdout


def test_make_test_brings_the_services_up_before_anything_else(clone: Path) -> None:
    steps = dry_run(clone, "test").stdout.splitlines()
    assert steps[0] == "scripts/services.sh redis postgresql rsyslog chromium"
    assert steps[-1].startswith(".venv/bin/python -m pytest")


def test_make_test_fast_brings_up_only_what_its_tests_use(clone: Path) -> None:
    assert dry_run(clone, "test-fast").stdout.splitlines()[0] == (
        "scripts/services.sh redis postgresql")


# -- the services step on a machine that lacks something ------------------------------------


@pytest.fixture
def without_chromium() -> Iterator[Path]:
    """A PATH directory with every program this machine has but chromium and apt-get.

    World-readable, so that an unprivileged user can run from it too.
    """
    bin_dir = Path(tempfile.mkdtemp(prefix="secmon-path-"))
    try:
        for directory in os.environ["PATH"].split(os.pathsep):
            if not os.path.isdir(directory):
                continue
            for entry in os.scandir(directory):
                hidden = entry.name in ("chromium", "chromium-browser", "apt-get")
                if not hidden and not (bin_dir / entry.name).exists() and os.access(
                        entry.path, os.X_OK):
                    (bin_dir / entry.name).symlink_to(entry.path)
        shutil.copy(ROOT / "scripts" / "services.sh", bin_dir / "services.sh")
        bin_dir.chmod(0o755)
        yield bin_dir
    finally:
        shutil.rmtree(bin_dir)


def run_services(path: Path, *args: str,
                 user: str | None = None) -> subprocess.CompletedProcess[str]:
    command = [str(path / "services.sh"), *args]
    if user is not None:
        command = ["setpriv", f"--reuid={user}", f"--regid={user}", "--clear-groups", *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=60,
                          env=newcomer_env(PATH=str(path)))


def test_with_everything_there_the_services_step_says_nothing() -> None:
    done = subprocess.run([str(ROOT / "scripts" / "services.sh")], capture_output=True,
                          text=True, timeout=60, env=newcomer_env())
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")


def test_without_a_package_manager_one_line_names_what_to_install(
        without_chromium: Path) -> None:
    done = run_services(without_chromium)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr == ("services: not installed: chromium (Debian package names); "
                           "install them with this system's package manager\n")


@pytest.mark.skipif(os.geteuid() != 0, reason="runs the step as another user, from root")
def test_not_as_root_one_line_gives_the_command_that_installs(without_chromium: Path) -> None:
    # With apt-get back on the PATH, as a user who cannot use it.
    (without_chromium / "apt-get").symlink_to(shutil.which("apt-get") or "/usr/bin/apt-get")
    done = run_services(without_chromium, "redis", "chromium", user="65534")  # nobody
    assert done.returncode == 1 and done.stdout == ""
    [line] = done.stderr.splitlines()
    assert re.fullmatch(r"services: not installed: chromium; install with: "
                        r"(sudo )?apt-get install chromium", line), line


def test_an_unknown_service_is_one_line() -> None:
    done = subprocess.run([str(ROOT / "scripts" / "services.sh"), "mongodb"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr == ("services: unknown service 'mongodb' (venv, redis, postgresql, "
                           "rsyslog, chromium, valgrind)\n")


def test_make_test_stops_at_the_services_step_before_any_test(
        clone: Path, without_chromium: Path) -> None:
    done = subprocess.run(["make", "test"], cwd=clone, capture_output=True, text=True,
                          timeout=120, env=newcomer_env(PATH=str(without_chromium)))
    assert done.returncode != 0
    assert done.stdout == ""
    ours, makes = done.stderr.splitlines()
    assert ours.startswith("services: not installed: chromium")
    assert "services] Error 1" in makes
    assert not (clone / ".venv").exists()  # stopped before setting anything up


def test_an_interpreter_that_is_not_there_is_one_line() -> None:
    done = subprocess.run([str(ROOT / "scripts" / "services.sh"), "venv"], capture_output=True,
                          text=True, timeout=60, env=newcomer_env(PYTHON="python3.99"))
    assert done.returncode == 1
    assert done.stderr == "services: python3.99 not found: install Python 3.10+, or unset PYTHON\n"

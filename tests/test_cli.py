from __future__ import annotations

import csv
import io
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from click.testing import CliRunner, Result

from secmon.cli import cli

from .sample_logs import events, write_log

SECMON = str(Path(sys.executable).parent / "secmon")


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return write_log(tmp_path / "security.log", events(), torn=True)


def invoke(*args: str, input: bytes | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=input)


def one_line_error(result: Result, code: int, words: str) -> None:
    assert result.exit_code == code, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert words in lines[0]
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("command", "words"),
    [
        ([], "Exit codes: 0 success, 1 a finding"),
        (["query"], "--failed-logins-by"),
        (["query"], "Exit codes: 0 success, 2 usage error"),
        (["report"], "self-contained HTML"),
        (["report"], "Exit codes"),
        (["check"], "dry run"),
        (["check"], "1 a check failed"),
        (["demo"], "scripted day"),
        (["demo"], "Exit codes"),
    ],
)
def test_every_command_explains_itself(command: list[str], words: str) -> None:
    result = invoke(*command, "--help")
    assert result.exit_code == 0
    assert words in " ".join(result.stdout.split())


def test_version() -> None:
    from secmon import __version__

    assert __version__ in invoke("--version").stdout


# -- query ------------------------------------------------------------------------------------


def test_query_table_of_failed_logins(log: Path) -> None:
    result = invoke("query", str(log), "--failed-logins-by", "ip")
    assert result.exit_code == 0
    assert "failed logins by source IP" in result.stdout
    assert "203.0.113.50" in result.stdout and "203.0.113.9" in result.stdout


def test_query_reports_torn_lines_without_failing(log: Path) -> None:
    result = invoke("query", str(log), "--count-by", "level")
    assert result.exit_code == 0
    assert "skipped 1 line(s) that are not JSON events" in result.stderr


def test_query_jsonl_and_csv(log: Path) -> None:
    result = invoke("query", str(log), "-t", "authz_fail", "-f", "jsonl")
    lines = [orjson.loads(line) for line in result.stdout_bytes.splitlines()]
    assert [e["path"] for e in lines] == ["/admin/", "/admin/users", "/admin/audit", "/admin/keys"]
    result = invoke("query", str(log), "--denials-by", "user", "-f", "csv")
    assert list(csv.reader(io.StringIO(result.stdout))) == [
        ["user", "denials", "resources", "first", "last"],
        ["mallory", "4", "4", "2026-03-02 12:00:00", "2026-03-02 12:03:00"]]


def test_query_filters_combine(log: Path) -> None:
    result = invoke("query", str(log), "--since", "2026-03-02T09:05", "--until", "2026-03-02T10:01",
                    "-w", "reason=bad password", "--fields", "time,username", "-f", "csv")
    assert result.stdout.splitlines() == ["time,username", "2026-03-02 09:05:00,bob",
                                          "2026-03-02 09:06:00,bob", "2026-03-02 09:07:00,bob"]


def test_query_reads_standard_input(log: Path) -> None:
    result = invoke("query", "-", "--count-by", "level", "-f", "csv", input=log.read_bytes())
    assert result.stdout.splitlines()[1].startswith("warning,")


def test_query_over_time_and_alerts(log: Path) -> None:
    result = invoke("query", str(log), "--over-time", "--bucket", "1h", "-f", "csv")
    assert result.stdout.splitlines()[0].startswith("time,authn_login_fail,")
    result = invoke("query", str(log), "--alerts", "-f", "jsonl")
    assert [orjson.loads(x)["event_type"] for x in result.stdout.splitlines()] == [
        "authn_login_fail_max", "secmon_credential_stuffing"]


def test_query_without_matches_says_so(log: Path) -> None:
    result = invoke("query", str(log), "--timeline", "nobody")
    assert result.exit_code == 0
    assert "no matching events" in result.stderr


def test_query_unknown_type_is_a_hint_not_an_error(log: Path) -> None:
    result = invoke("query", str(log), "-t", "authn_login_fial")
    assert result.exit_code == 0
    assert "did you mean authn_login_fail" in result.stderr


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["query", "missing.log"], "'missing.log' does not exist"),
        (["query"], "Missing argument 'FILE...'"),
        (["query", "{log}", "--since", "yesterday"], "duration back from now"),
        (["query", "{log}", "--until", "2026-02-30"], "Invalid value for '--until'"),
        (["query", "{log}", "-w", "novalue"], "key=value"),
        (["query", "{log}", "--bucket", "1h"], "--bucket goes with --over-time"),
        (["query", "{log}", "--over-time", "--bucket", "soon"], "not a duration"),
        (["query", "{log}", "--alerts", "--over-time"], "choose one analysis"),
        (["query", "{log}", "-f", "xml"], "'xml' is not one of"),
        (["query", "{log}", "--limit", "0"], "--limit"),
        (["query", "{corrupt}"], "not a readable gzip file"),
        (["report", "{log}", "--settings", "nope_no_module:X"], "cannot import"),
        (["report", "{log}", "--since", "soon"], "--since"),
        (["check", "--app", "nope_no_module:app"], "cannot import"),
        (["report", "{log}", "-o", "{tmp}/no/such/dir/report.html"], "cannot write"),
        (["demo", "--dir", "{log}"], "is a file"),
        (["nonsense"], "No such command 'nonsense'"),
    ],
)
def test_user_mistakes_are_one_line_with_exit_2(log: Path, tmp_path: Path, args: list[str],
                                                words: str) -> None:
    corrupt = tmp_path / "security.log.1.gz"
    corrupt.write_bytes(b"\x1f\x8b\x08\x00" + b"\xff" * 64)
    filled = [a.format(log=log, corrupt=corrupt, tmp=tmp_path) for a in args]
    one_line_error(invoke(*filled), 2, words)


def test_the_installed_command_reports_errors_without_traceback(tmp_path: Path) -> None:
    done = subprocess.run([SECMON, "query", str(tmp_path / "nope.log.gz")], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        f"secmon query: Invalid value for 'FILE...': File '{tmp_path / 'nope.log.gz'}' does "
        "not exist. (see 'secmon query --help')"]


def test_a_closed_pipe_is_not_an_error(tmp_path: Path) -> None:
    log = write_log(tmp_path / "security.log", events() * 400)
    done = subprocess.run(f"'{SECMON}' query '{log}' -f jsonl | head -n 1", shell=True,
                          capture_output=True, text=True, timeout=120)
    assert len(done.stdout.splitlines()) == 1
    assert "Traceback" not in done.stderr and "Error" not in done.stderr


# -- report -----------------------------------------------------------------------------------


def test_report_command_writes_the_page(log: Path, tmp_path: Path) -> None:
    out = tmp_path / "out" / "report.html"
    out.parent.mkdir()
    result = invoke("report", str(log), "-o", str(out), "--title", "Shop, March 2nd")
    assert result.exit_code == 0, result.output
    assert f"report written to {out}" in result.stdout
    page = out.read_text()
    assert "<title>Shop, March 2nd</title>" in page
    assert page.count('<svg class="chart"') == 4


@pytest.mark.parametrize("missing", ["matplotlib", "jinja2", "markupsafe"])
def test_report_needs_no_extra(log: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                               missing: str) -> None:
    for name in [name for name in sys.modules if name.startswith("secmon.report")]:
        monkeypatch.delitem(sys.modules, name)  # imported afresh, without the missing one
    monkeypatch.setitem(sys.modules, missing, None)  # as if not installed
    result = invoke("report", str(log), "-o", str(tmp_path / "r.html"))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "r.html").read_text().count('<svg class="chart"') == 4


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("terminal", [True, False])
def test_progress_bar_on_a_terminal_only(log: Path, monkeypatch: pytest.MonkeyPatch,
                                         terminal: bool) -> None:
    import secmon.query
    from secmon.cli import _reading
    from secmon.query import Query

    stderr = _Terminal() if terminal else io.StringIO()
    monkeypatch.setattr(sys, "stderr", stderr)
    monkeypatch.setenv("TERM", "xterm-256color")  # rich draws nothing on TERM=dumb (some CIs)
    monkeypatch.setattr(secmon.query, "PROGRESS_MIN_BYTES", 1)
    job = Query([str(log)], analysis="failed-logins", by="ip")
    with _reading([str(log)]) as advance:
        job.advance = advance
        list(job.run().rows)
    shown = stderr.getvalue()
    assert ("reading" in shown) == terminal
    assert (f"{log.stat().st_size / 1000:.1f}" in shown) == terminal  # all of it was read

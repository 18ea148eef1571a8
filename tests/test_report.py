from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import orjson
import pytest

import secmon
from secmon.context import RequestContext, request_context
from secmon.logread import Filter
from secmon.report import audit_status, summarize, write_report

from .sample_logs import events, write_log

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
AUDIT_KEY = "3b1e9c0d7a5f42e68c1d0b9a7e6f5d4c3b2a1908f7e6d5c4"


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return write_log(tmp_path / "security.log", events(), torn=True)


@pytest.fixture
def signed_logs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """security.log + audit.log (hash-chained, checkpointed) written by secmon itself."""
    directory = tmp_path / "logs"
    pipeline = secmon.configure(log_dir=directory, audit_key=AUDIT_KEY, environment="test",
                                username_mode="plain")
    for _ in range(6):
        with request_context(RequestContext(method="POST", path="/login", peer="203.0.113.9")):
            secmon.login_failed(username="bob", reason="bad password")
    with request_context(RequestContext(method="POST", path="/login", peer="198.51.100.7")):
        secmon.login_succeeded(user_id=1, username="alice")
    secmon.audit("privilege_permissions_changed", actor_id=1, resource_type="user",
                 resource_id=7, changes={"groups": {"added": ["admins"]}})
    pipeline.close()
    monkeypatch.setenv("SECMON_AUDIT_KEY", AUDIT_KEY)
    return directory


class _Page(HTMLParser):
    """Collects what a self-contained page must not have: scripts and fetched resources."""

    def __init__(self) -> None:
        super().__init__()
        self.charts: list[str] = []
        self.scripts = 0
        self.remote: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "svg" and "chart" in (found.get("class") or ""):
            self.charts.append(found.get("data-chart") or "")
        if tag == "script":
            self.scripts += 1
        for name in ("src", "href", "xlink:href"):
            value = found.get(name) or ""
            if value and not value.startswith(("#", "data:")):
                self.remote.append(value)


def parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


def test_report_has_its_charts_and_tables(log: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    summary, chain = write_report([str(log)], out)
    html = out.read_text()
    page = parse(html)
    assert page.charts == ["timeline", "top_ips", "top_users", "detections"]
    assert page.scripts == 0 and page.remote == []
    assert summary.stats.bad_lines == 1 and "skipped 1 line(s)" in html
    assert chain is not None and chain.state == "not verified"  # a sample chain, no key
    # top sources and users, with their counts
    assert re.search(r"<code>203\.0\.113\.50</code></td><td class=\"num\">20<", html)
    assert re.search(r"<code>mallory</code></td><td class=\"num\">4<", html)
    # each detection with its evidence
    assert "secmon_credential_stuffing" in html and "&#34;distinct_users&#34;: 20" in html
    assert "authn_login_fail_max" in html and "&#34;threshold&#34;: 5" in html


def test_charts_are_matplotlib_svg_with_the_data(log: Path) -> None:
    from secmon.report import timeline_chart, top_chart

    summary = summarize([str(log)])
    svg = top_chart("top_ips", "Top", summary.failures_by_ip, summary.denials_by_ip)
    assert svg is not None and svg.startswith('<svg class="chart" data-chart="top_ips"')
    assert 'id="top_ips-figure_1"' in svg  # matplotlib's structure, ids kept apart per chart
    for ip in ("203.0.113.50", "203.0.113.9", "192.0.2.33"):
        assert f">{ip}<" in svg  # axis labels are text, not paths
    timeline = timeline_chart(summary)
    assert timeline is not None
    for category in ("authentication", "web", "iam", "intrusion_detection"):
        assert f">{category}<" in timeline


def test_hostile_values_in_logs_are_escaped(tmp_path: Path) -> None:
    hostile = [dict(e) for e in events()]
    for event in hostile:
        if event["event_type"] == "authz_fail":
            event["username"] = "<script>alert(1)</script>$x^2$"
        if event["event_type"] == "secmon_credential_stuffing":
            event["note"] = '</pre><img src="http://evil.example/x.png">'
    path = write_log(tmp_path / "hostile.log", hostile)
    out = tmp_path / "report.html"
    write_report([str(path)], out)
    html = out.read_text()
    page = parse(html)
    assert page.scripts == 0 and page.remote == []
    assert "&lt;script&gt;alert(1)&lt;/script&gt;$x^2$" in html  # mathtext left alone too


def test_empty_input_still_makes_a_page(tmp_path: Path) -> None:
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    out = tmp_path / "report.html"
    summary, chain = write_report([str(empty)], out)
    assert chain is None and summary.stats.matched == 0
    html = out.read_text()
    assert parse(html).charts == []
    assert "No timestamped events." in html and "No detections in these logs." in html


def test_filters_apply_to_the_report(log: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    summary, _ = write_report([str(log)], out, where=Filter(since="2026-03-02T10:00:00.000000Z"))
    assert summary.types["authn_login_fail"] == 20
    assert "203.0.113.9" not in [key for key, _ in summary.failures_by_ip.top()]


def test_audit_chain_intact_is_shown(signed_logs: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    summary, chain = write_report(
        [str(signed_logs / "security.log"), str(signed_logs / "audit.log")], out)
    assert chain is not None and chain.state == "intact", chain
    # audit records are in both files: each is counted once
    assert summary.types["authn_login_fail"] == 6
    assert summary.types["privilege_permissions_changed"] == 1
    html = out.read_text()
    assert 'class="state state-intact">INTACT</span>' in html


def test_the_audit_log_is_verified_whatever_the_filter(signed_logs: Path, tmp_path: Path) -> None:
    logs = [str(signed_logs / "security.log"), str(signed_logs / "audit.log")]
    summary, chain = write_report(logs, tmp_path / "r.html",
                                  where=Filter(types=frozenset({"authn_login_fail_max"})))
    assert summary.audit_files == [str(signed_logs / "audit.log")]  # the pure audit log
    assert chain is not None and chain.state == "intact"
    assert summary.types == {"authn_login_fail_max": 1}


def test_audit_chain_tampering_is_shown(signed_logs: Path, tmp_path: Path) -> None:
    audit = signed_logs / "audit.log"
    lines = audit.read_bytes().splitlines()
    record = orjson.loads(lines[2])
    record["username"] = "someone-else"
    lines[2] = orjson.dumps(record)
    audit.write_bytes(b"\n".join(lines) + b"\n")
    chain = audit_status([str(audit)], None)
    assert chain.state == "tampered"
    assert any("audit.log:3" in problem for problem in chain.problems)
    out = tmp_path / "report.html"
    write_report([str(audit)], out)
    assert "state-tampered" in out.read_text()


def test_report_exit_code_says_whether_the_chain_holds(signed_logs: Path,
                                                       tmp_path: Path) -> None:
    from click.testing import CliRunner

    from secmon.cli import cli

    audit = str(signed_logs / "audit.log")
    ok = CliRunner().invoke(cli, ["report", audit, "-o", str(tmp_path / "a.html")])
    assert ok.exit_code == 0 and "audit chain: intact" in ok.stdout
    (signed_logs / "audit.log").write_bytes(
        b"\n".join((signed_logs / "audit.log").read_bytes().splitlines()[1:]) + b"\n")
    bad = CliRunner().invoke(cli, ["report", audit, "-o", str(tmp_path / "b.html")])
    assert bad.exit_code == 1 and "audit chain: tampered" in bad.stderr
    assert (tmp_path / "b.html").exists()


def test_templates_ship_in_the_package() -> None:
    from importlib.resources import files

    assert (files("secmon") / "templates" / "report.html.j2").is_file()


# -- in a real browser ------------------------------------------------------------------------


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--enable-logging=stderr", "--v=0"]


def chromium(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        pytest.fail("chromium is not installed: run `make services` (Debian) to install it")
    profile = tmp_path / "chromium-profile"
    return subprocess.run([binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=120)


def console_errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines()
            if "CONSOLE" in line and ("Uncaught" in line or "ERROR" in line or
                                      "Refused" in line or "Failed to load" in line)]


@pytest.mark.e2e
def test_console_error_detection_works(tmp_path: Path) -> None:
    broken = tmp_path / "broken.html"
    broken.write_text("<html><body><script>undefinedThing.call()</script></body></html>")
    done = chromium(tmp_path, "--dump-dom", broken.as_uri())
    assert console_errors(done.stderr), done.stderr


@pytest.mark.e2e
def test_report_renders_in_chromium(signed_logs: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    write_report([str(signed_logs / "security.log"), str(signed_logs / "audit.log")], out)
    dom = chromium(tmp_path, "--dump-dom", "--virtual-time-budget=2000", out.as_uri())
    assert dom.returncode == 0, dom.stderr
    rendered = parse(dom.stdout)
    assert rendered.charts == ["timeline", "top_ips", "top_users", "detections"]
    assert dom.stdout.count("<path") > 20  # the bars and axes were parsed as SVG shapes
    assert "INTACT" in dom.stdout
    assert console_errors(dom.stderr) == []
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "report.png"
    shot.unlink(missing_ok=True)
    done = chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2200",
                    "--hide-scrollbars", out.as_uri())
    assert done.returncode == 0, done.stderr
    assert console_errors(done.stderr) == []
    # The charts were painted: their bar colours cover real areas of the screenshot.
    from PIL import Image

    from secmon.report import CATEGORY_COLORS, FAILURE_COLOR

    with Image.open(shot) as image:
        colours = image.convert("RGB").getcolors(maxcolors=1 << 20) or []
    painted = {f"#{r:02x}{g:02x}{b:02x}": n for n, (r, g, b) in colours}
    for colour in (FAILURE_COLOR, CATEGORY_COLORS["authentication"],
                   CATEGORY_COLORS["intrusion_detection"]):
        assert painted.get(colour, 0) > 200, colour

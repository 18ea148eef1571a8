from __future__ import annotations

import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from xml.etree import ElementTree

import orjson
import pytest

import secmon
from secmon.context import RequestContext, request_context
from secmon.logread import Filter
from secmon.report import (
    audit_status,
    rules_chart,
    summarize,
    time_grid,
    timeline_chart,
    top_chart,
    write_report,
)
from secmon.report.svg import TimeScale, compact, count_ticks

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
    assert page.charts == ["timeline", "top_ips", "top_users", "rules"]
    assert page.scripts == 0 and page.remote == []
    assert summary.stats.bad_lines == 1 and "skipped 1 line(s)" in html
    assert chain is not None and chain.state == "not verified"  # a sample chain, no key
    # top sources and users, with their counts
    assert re.search(r"<code>203\.0\.113\.50</code></td><td class=\"num\">20<", html)
    assert re.search(r"<code>mallory</code></td><td class=\"num\">4<", html)
    # each detection with its evidence
    assert "secmon_credential_stuffing" in html and "&quot;distinct_users&quot;: 20" in html
    assert "authn_login_fail_max" in html and "&quot;threshold&quot;: 5" in html


SVG = "{http://www.w3.org/2000/svg}"


def svg_tree(markup: str) -> ElementTree.Element:
    """A chart as XML: it must be well-formed SVG on its own, not only inside the page."""
    root = ElementTree.fromstring(markup)
    assert root.tag == f"{SVG}svg"
    return root


def bars(root: ElementTree.Element) -> dict[str, tuple[float, float]]:
    """Each bar's tooltip -> (x, height)."""
    found = {}
    for rect in root.iter(f"{SVG}rect"):
        tip = rect.find(f"{SVG}title")
        if tip is not None and tip.text:
            found[tip.text] = (float(rect.get("x", "0")), float(rect.get("height", "0")))
    return found


def texts(root: ElementTree.Element) -> list[str]:
    return [t.text or "" for t in root.iter(f"{SVG}text")]


def test_charts_are_svg_drawn_from_the_data(log: Path) -> None:
    summary = summarize([str(log)])
    top = svg_tree(top_chart("top_ips", "Top", summary.failures_by_ip,
                             summary.denials_by_ip) or "")
    assert top.get("data-chart") == "top_ips" and top.get("class") == "chart"
    labels = texts(top)
    for ip in ("203.0.113.50", "203.0.113.9", "192.0.2.33"):
        assert ip in labels  # axis labels are text, not paths
    drawn = bars(top)
    assert set(drawn) == {"203.0.113.50: 20 failed logins", "203.0.113.9: 8 failed logins",
                          "192.0.2.33: 4 access denials"}
    # bar lengths are proportional to the counts
    assert drawn["203.0.113.50: 20 failed logins"][1] == drawn["203.0.113.9: 8 failed logins"][1]
    grid = time_grid(summary)
    assert grid is not None and grid.step == 300  # 08:00-13:00 in 5 minutes
    timeline = svg_tree(timeline_chart(grid))
    labels = texts(timeline)
    for category in ("authentication", "web", "iam", "intrusion_detection"):
        assert category in labels
    assert {"08:00", "13:00", "2026-03-02", "events", "time (UTC)"} <= set(labels)
    assert "2026-03-02 09:00-09:05 UTC: 5 authentication" in bars(timeline)


@pytest.mark.parametrize(("top", "ticks"), [
    (0, [0, 1]), (1, [0, 1]), (7, [0, 2, 4, 6, 8]), (24, [0, 5, 10, 15, 20, 25]),
    (17_800, [0, 5000, 10_000, 15_000, 20_000]),
])
def test_count_axes_have_round_ticks(top: int, ticks: list[int]) -> None:
    assert count_ticks(top) == ticks


def test_large_counts_are_labelled_short() -> None:
    assert [compact(n) for n in (950, 9500, 20_000, 125_000, 1_500_000)] == \
        ["950", "9500", "20k", "125k", "1.5M"]


@pytest.mark.parametrize(("span", "step", "first", "count"), [
    (8, 1, 0, 9),  # seconds
    (7 * 3600 + 47 * 60, 3600, 0, 8),  # the demo's day: hours
    (7 * 86400, 86400, 17 * 3600, 7),  # a week: days, from the first midnight
])
def test_time_ticks_fall_on_round_times(span: int, step: int, first: int, count: int) -> None:
    start = 1772434800.0  # 2026-03-02 07:00 UTC
    scale = TimeScale(start, start + span, 0, 100)
    tick_step, ticks = scale.ticks()
    assert tick_step == step and len(ticks) == count
    assert ticks[0] == start + first and all(t % step == 0 for t in ticks)
    assert scale.x(start) == 0 and scale.x(start + span) == 100


def test_detections_over_time_one_row_per_rule(log: Path) -> None:
    records = events()
    [stuffing] = [e for e in records if e["event_type"] == "secmon_credential_stuffing"]
    later = {**stuffing, "timestamp": "2026-03-02T12:10:00.000000Z"}  # the same rule again
    summary = summarize([str(write_log(log.parent / "more.log", [*records, later]))])
    grid = time_grid(summary)
    assert grid is not None
    assert grid.rules == {
        "authn_login_fail_max": [0] * 13 + [1] + [0] * 47,
        "secmon_credential_stuffing": [0] * 25 + [1] + [0] * 24 + [1] + [0] * 10,
    }
    chart = rules_chart(grid)
    assert chart is not None
    root = svg_tree(chart)
    drawn = bars(root)
    assert set(drawn) == {"2026-03-02 09:05-09:10 UTC: 1 authn_login_fail_max",
                          "2026-03-02 10:05-10:10 UTC: 1 secmon_credential_stuffing",
                          "2026-03-02 12:10-12:15 UTC: 1 secmon_credential_stuffing"}
    labels = texts(root)
    # the rule with more detections first, each with its total
    assert labels.index("secmon_credential_stuffing") < labels.index("authn_login_fail_max")
    assert "2 detections" in labels and "1 detection" in labels
    # both time charts share their axis: a bucket is at the same x in each
    timeline = bars(svg_tree(timeline_chart(grid)))
    assert drawn["2026-03-02 09:05-09:10 UTC: 1 authn_login_fail_max"][0] == \
        timeline["2026-03-02 09:05-09:10 UTC: 3 authentication"][0]


def test_any_number_of_names_folds_into_other(tmp_path: Path) -> None:
    # A foreign log may name any number of categories and detections.
    records = [{"timestamp": f"2026-03-02T10:{i % 60:02d}:00.000000Z", "level": "warning",
                "event_type": f"rule_{i:02d}", "category": f"kind_{i % 20:02d}"}
               for i in range(200)]
    records += [{"timestamp": "2026-03-02T11:00:00.000000Z", "level": "critical",
                 "event_type": f"detected_{i:02d}", "category": "intrusion_detection"}
                for i in range(15)]
    summary = summarize([str(write_log(tmp_path / "foreign.log", records))])
    grid = time_grid(summary)
    assert grid is not None
    legend = texts(svg_tree(timeline_chart(grid)))
    assert {"intrusion_detection", "other"} <= set(legend)
    assert len([t for t in legend if t.startswith("kind_")]) == 7  # nine in all
    chart = rules_chart(grid)
    assert chart is not None
    rows = [t for t in texts(svg_tree(chart)) if t.startswith("detected_") or t == "other rules"]
    assert len(rows) == 12 and rows[-1] == "other rules"
    assert "4 detections" in texts(svg_tree(chart))  # the four smallest, summed


def test_charts_say_what_they_show_in_words(log: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.html"
    write_report([str(log)], out)
    html = out.read_text()
    charts = re.findall(r"<svg .*?</svg>", html, re.S)
    assert len(charts) == 4
    for markup in charts:
        root = svg_tree(markup)
        assert root.get("role") == "img"
        title_id, desc_id = (root.get("aria-labelledby") or "").split()
        title = root.find(f"{SVG}title")
        desc = root.find(f"{SVG}desc")
        assert title is not None and title.get("id") == title_id and title.text
        assert desc is not None and desc.get("id") == desc_id and desc.text
    timeline = svg_tree(charts[0]).find(f"{SVG}desc")
    assert timeline is not None and timeline.text is not None
    assert "one per 5m from 2026-03-02 08:00-08:05 UTC to 2026-03-02 13:00-13:05 UTC: 41 " \
        "events by category (authentication 34, web 4, intrusion_detection 2, iam 1)" in \
        timeline.text
    assert "The busiest was 2026-03-02 10:00-10:05 UTC with 20 events" in timeline.text


HOSTILE = [
    "<script>alert(1)</script>",
    '"><svg onload=alert(2)>',
    "' onmouseover='alert(3)",
    "</style><style>body{display:none}</style>",
    "</pre></details></td></tr></table><iframe src=//evil.example>",
    "<!-- ]]> <![CDATA[ x",
    "$title ${version} $$",
    "javascript:alert(4)",
    "\x00nul \x1b[31mred\x1b[0m \x85next",
]


class _Markup(HTMLParser):
    """Every element and attribute of a page, and its text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: set[str] = set()
        self.attributes: set[str] = set()
        self.values: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.add(tag)
        for name, value in attrs:
            self.attributes.add(name)
            self.values.append(value or "")

    def handle_data(self, data: str) -> None:
        self.text.append(data)


PAGE_TAGS = {"html", "head", "meta", "title", "style", "body", "header", "h1", "h2", "h3", "p",
             "main", "section", "div", "span", "figure", "figcaption", "svg", "desc", "rect",
             "text", "line", "table", "tr", "th", "td", "code", "br", "details", "summary",
             "pre", "ul", "li", "footer"}


def test_hostile_values_in_logs_stay_text(tmp_path: Path) -> None:
    hostile = [dict(e) for e in events()]
    fields = ("username", "source_ip", "event", "event_type", "level", "reason", "path",
              "category", "app")
    for index, event in enumerate(hostile):
        event["timestamp"] = f"2026-03-02T{8 + index % 6:02d}:00:00.000000Z"
        if event["event_type"] in ("authz_fail", "authn_login_fail") and index % 2:
            event["username"] = HOSTILE[index % len(HOSTILE)]
            event["source_ip"] = HOSTILE[(index + 1) % len(HOSTILE)]
        if event["category"] == "intrusion_detection":
            for n, name in enumerate(fields):
                event[name] = HOSTILE[n % len(HOSTILE)]
            event[HOSTILE[0]] = HOSTILE[1]  # a hostile key in the evidence too
    path = write_log(tmp_path / "hostile.log", hostile)
    out = tmp_path / "report.html"
    write_report([str(path)], out, title=HOSTILE[2])
    html = out.read_text()
    page = _Markup()
    page.feed(html)
    assert page.tags <= PAGE_TAGS, page.tags - PAGE_TAGS
    assert not [name for name in page.attributes if name.startswith("on")]
    assert not [value for value in page.values if "javascript:" in value or "evil" in value]
    assert parse(html).remote == []
    shown = "".join(page.text)
    for value in HOSTILE:
        assert value.replace("\x00", "\ufffd").replace("\x1b", "\ufffd").replace(
            "\x85", "\ufffd") in shown, value
    assert "\x00" not in html and "\x1b" not in html
    # the one stylesheet is ours; the template's placeholders were filled once
    assert html.count("<style>") == 1 and "$title ${version} $$" in shown
    # the charts are still well-formed SVG with the hostile labels as text
    for markup in re.findall(r"<svg .*?</svg>", html, re.S):
        svg_tree(markup)


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


def test_the_page_template_ships_in_the_package() -> None:
    from importlib.resources import files

    assert (files("secmon.report") / "page.html").is_file()


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
    assert rendered.charts == ["timeline", "top_ips", "top_users", "rules"]
    # The browser built the charts as SVG elements (the DOM it serializes has them).
    assert dom.stdout.count("<rect") >= 8 and dom.stdout.count("<text") > 40
    assert 'xmlns="http://www.w3.org/2000/svg"' in dom.stdout
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
                   CATEGORY_COLORS["intrusion_detection"], CATEGORY_COLORS["iam"]):
        assert painted.get(colour, 0) > 200, colour

"""``secmon report``: one self-contained HTML page (inline SVG charts) describing a set of logs."""

from __future__ import annotations

import io
import re
import warnings
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from ._version import __version__
from .logread import Event, Filter, ScanStats, event_time, scan, user_of
from .query import DETECTION_CATEGORY, CountBy, TimeBuckets, evidence, step_label

if TYPE_CHECKING:
    from .config import Settings

# Detections kept for the page (the newest); counts include all of them.
MAX_DETECTIONS = 300
TOP = 10
CATEGORY_COLORS = {
    "authentication": "#4c78a8",
    "web": "#f58518",
    "iam": "#54a24b",
    "file": "#b279a2",
    "intrusion_detection": "#e45756",
    "session": "#72b7b2",
    "database": "#eeca3b",
    "configuration": "#9d755d",
    "process": "#bab0ac",
}
FAILURE_COLOR, DENIAL_COLOR = "#e45756", "#f58518"
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@dataclass
class Summary:
    """Everything the page shows, gathered in one streamed pass over the logs."""

    stats: ScanStats = field(default_factory=ScanStats)
    categories: TimeBuckets = field(default_factory=TimeBuckets)
    levels: Counter[str] = field(default_factory=Counter)
    types: Counter[str] = field(default_factory=Counter)
    failures_by_ip: CountBy = field(default_factory=lambda: CountBy(_ip))
    failures_by_user: CountBy = field(default_factory=lambda: CountBy(user_of))
    denials_by_ip: CountBy = field(default_factory=lambda: CountBy(_ip))
    denials_by_user: CountBy = field(default_factory=lambda: CountBy(user_of))
    detections: deque[Event] = field(default_factory=lambda: deque(maxlen=MAX_DETECTIONS))
    detection_types: Counter[str] = field(default_factory=Counter)
    first: str | None = None
    last: str | None = None
    audit_files: list[str] = field(default_factory=list)

    def add(self, event: Event) -> None:
        event_type = str(event.get("event_type"))
        self.types[event_type] += 1
        self.levels[str(event.get("level"))] += 1
        moment = event_time(event)
        if moment is not None:
            self.categories.add(moment, str(event.get("category")))
            if self.first is None or moment < self.first:
                self.first = moment
            if self.last is None or moment > self.last:
                self.last = moment
        if event_type == "authn_login_fail":
            self.failures_by_ip.add(event)
            self.failures_by_user.add(event)
        elif event_type == "authz_fail":
            self.denials_by_ip.add(event)
            self.denials_by_user.add(event)
        elif event.get("category") == DETECTION_CATEGORY:
            self.detections.append(event)
            self.detection_types[event_type] += 1


def _ip(event: Event) -> str | None:
    value = event.get("source_ip")
    return None if value is None else str(value)


def summarize(paths: Sequence[str], where: Filter | None = None,
              advance: Callable[[int], None] = lambda n: None) -> Summary:
    summary = Summary()
    # Every line parsed: which inputs hold signed records must not depend on the filter.
    for _, event in scan(paths, where or Filter(), summary.stats, advance, prefilter=False):
        summary.add(event)
    summary.audit_files = audit_files(summary.stats)
    return summary


def audit_files(stats: ScanStats) -> list[str]:
    """The inputs to verify: audit logs (only signed records) if any, else any with some.

    security.log holds the audit records too, but it may be filtered (by level, say); the
    audit log is the complete chain.
    """
    chained = {path: counts for path, counts in stats.signed.items() if counts[0]}
    pure = [path for path, (signed, total) in chained.items() if signed == total]
    return pure or list(chained)


# -- charts -------------------------------------------------------------------------------


def _label(value: str, width: int = 28) -> str:
    text = _CONTROL.sub("?", value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _svg(name: str, draw: Callable[[Any], None], size: tuple[float, float]) -> str:
    """Render one chart with matplotlib's SVG backend and return the bare <svg> element."""
    import matplotlib
    from matplotlib.figure import Figure

    style: Any = {
        "svg.fonttype": "none",
        "svg.hashsalt": name,
        "font.size": 9,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.edgecolor": "#888888",
        "axes.titlesize": 11,
        "axes.titleweight": "bold",
    }
    with matplotlib.rc_context(style), warnings.catch_warnings():
        # Labels come from logs: a glyph missing from the font is not worth a warning.
        warnings.simplefilter("ignore", UserWarning)
        figure = Figure(figsize=size, layout="constrained")
        draw(figure)
        buffer = io.StringIO()
        figure.savefig(buffer, format="svg",
                       metadata={"Date": None, "Creator": None, "Format": None, "Type": None})
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg"):]
    # Scale with the page rather than the fixed size in points.
    svg = re.sub(r'<svg([^>]*?) width="[^"]*" height="[^"]*"', r"<svg\1", svg, count=1)
    # Several charts share one page: their element ids (figure_1, ...) must not collide.
    svg = re.sub(r'(id="|url\(#|href="#)', rf"\1{name}-", svg)
    return svg.replace("<svg", f'<svg class="chart" data-chart="{name}" role="img"', 1)


def timeline_chart(summary: Summary) -> str | None:
    step, starts, columns = summary.categories.table(max_buckets=72)
    if not starts:
        return None

    def draw(figure: Any) -> None:
        import matplotlib.dates

        dates: Any = matplotlib.dates  # untyped module functions
        axes = figure.subplots()
        width = step / 86400 * 0.9
        bottom = [0] * len(starts)
        order = [name for name, _ in summary.categories.series_totals().most_common()]
        for name in order:
            values = columns[name]
            axes.bar(starts, values, width=width, bottom=bottom, align="edge", label=name,
                     color=CATEGORY_COLORS.get(name, "#999999"))
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
        axes.set_title(f"Events over time by category (per {step_label(step)})", loc="left")
        axes.set_ylabel("events")
        locator = dates.AutoDateLocator()
        axes.xaxis.set_major_locator(locator)
        axes.xaxis.set_major_formatter(dates.ConciseDateFormatter(locator))
        axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)

    return _svg("timeline", draw, (10, 3.4))


def top_chart(name: str, title: str, failures: CountBy, denials: CountBy) -> str | None:
    totals: Counter[str] = Counter()
    for counter in (failures, denials):
        for key, group in counter.groups.items():
            totals[key] += group.count
    ranked = [key for key, _ in sorted(totals.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP]]
    if not ranked:
        return None
    ranked.reverse()  # the largest on top

    def count(counter: CountBy, key: str) -> int:
        group = counter.groups.get(key)
        return group.count if group else 0

    def draw(figure: Any) -> None:
        axes = figure.subplots()
        positions = list(range(len(ranked)))
        failed = [count(failures, key) for key in ranked]
        denied = [count(denials, key) for key in ranked]
        axes.barh(positions, failed, color=FAILURE_COLOR, label="failed logins")
        axes.barh(positions, denied, left=failed, color=DENIAL_COLOR, label="access denials")
        axes.set_yticks(positions, [_label(key) for key in ranked], parse_math=False)
        axes.set_title(title, loc="left")
        axes.set_xlabel("events")
        axes.xaxis.get_major_locator().set_params(integer=True)
        figure.legend(loc="outside lower center", ncols=2, frameon=False)

    return _svg(name, draw, (5, 1.1 + 0.28 * len(ranked)))


def detections_chart(summary: Summary) -> str | None:
    if not summary.detection_types:
        return None
    ranked = summary.detection_types.most_common()[::-1]

    def draw(figure: Any) -> None:
        axes = figure.subplots()
        positions = list(range(len(ranked)))
        axes.barh(positions, [n for _, n in ranked], color=CATEGORY_COLORS[DETECTION_CATEGORY])
        axes.set_yticks(positions, [_label(name, 36) for name, _ in ranked], parse_math=False)
        axes.set_title("Detections by rule", loc="left")
        axes.xaxis.get_major_locator().set_params(integer=True)

    return _svg("detections", draw, (5, 0.8 + 0.28 * len(ranked)))


# -- audit chain --------------------------------------------------------------------------


@dataclass
class ChainStatus:
    """The verdict on the audit logs among the inputs, as the page shows it."""

    state: str  # "intact", "tampered", "unanchored" or "not verified"
    detail: str
    sources: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.state == "intact"


def audit_keys(settings: Settings | None) -> dict[str, bytes]:
    """The keys to verify with: from the settings, else SECMON_AUDIT_KEY(S) in the environment."""
    from .verify import key_ring

    if settings is not None and (settings.audit_key or settings.audit_keys):
        keys = dict(settings.audit_keys)
        if settings.audit_key is not None:
            keys[settings.audit_key_id] = settings.audit_key
        return keys
    return key_ring(())


def audit_status(paths: Sequence[str], settings: Settings | None) -> ChainStatus:
    """Verify the hash chains of ``paths`` (with their checkpoints) as `secmon verify` does."""
    from .verify import UsageError, verify_files

    try:
        keys = audit_keys(settings)
        if not keys:
            return ChainStatus("not verified", "no audit key: set SECMON_AUDIT_KEY (and "
                               "SECMON_AUDIT_KEYS for retired keys) or pass --settings",
                               list(paths))
        report = verify_files([Path(p) for p in paths], keys)
    except UsageError as exc:
        return ChainStatus("not verified", str(exc), list(paths))
    lines = report.lines()
    return ChainStatus(report.status, f"{lines[0]}. {lines[-1]}", report.sources, lines[1:-1])


# -- the page -----------------------------------------------------------------------------


def _shown(moment: str | None) -> str:
    return moment[:19].replace("T", " ") + " UTC" if moment else "-"


def _rows(counter: CountBy) -> list[dict[str, Any]]:
    return [{"key": key, "count": group.count, "first": _shown(group.first_seen),
             "last": _shown(group.last_seen)} for key, group in counter.top(TOP)]


def render(summary: Summary, *, title: str, inputs: Sequence[str],
           chain: ChainStatus | None) -> str:
    """The HTML page for ``summary``: charts inline, no script, nothing fetched."""
    from jinja2 import Environment, PackageLoader, select_autoescape
    from markupsafe import Markup

    env = Environment(loader=PackageLoader("secmon", "templates"),
                      autoescape=select_autoescape(["html", "j2"]), trim_blocks=True,
                      lstrip_blocks=True)
    charts = {
        "timeline": timeline_chart(summary),
        "top_ips": top_chart("top_ips", "Top source IPs: failed logins and denials",
                             summary.failures_by_ip, summary.denials_by_ip),
        "top_users": top_chart("top_users", "Top users: failed logins and denials",
                               summary.failures_by_user, summary.denials_by_user),
        "detections": detections_chart(summary),
    }
    detections = [
        {
            "time": _shown(event_time(event)),
            "level": event.get("level"),
            "type": event.get("event_type"),
            "user": user_of(event),
            "source_ip": event.get("source_ip"),
            "message": event.get("event"),
            "evidence": orjson.dumps(evidence(event), option=orjson.OPT_INDENT_2
                                     | orjson.OPT_NON_STR_KEYS, default=str).decode(),
        }
        for event in reversed(summary.detections)
    ]
    return env.get_template("report.html.j2").render(
        title=title,
        version=__version__,
        generated=datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        inputs=inputs,
        first=_shown(summary.first),
        last=_shown(summary.last),
        stats=summary.stats,
        notes=summary.stats.problems(),
        levels=summary.levels,
        types=summary.types.most_common(),
        total=sum(summary.types.values()),
        failed_logins=summary.types["authn_login_fail"],
        denials=summary.types["authz_fail"],
        charts={name: Markup(svg) for name, svg in charts.items() if svg},  # noqa: S704 - matplotlib's own SVG
        failures_by_ip=_rows(summary.failures_by_ip),
        failures_by_user=_rows(summary.failures_by_user),
        denials_by_ip=_rows(summary.denials_by_ip),
        denials_by_user=_rows(summary.denials_by_user),
        detections=detections,
        detection_total=sum(summary.detection_types.values()),
        chain=chain,
    )


def write_report(paths: Sequence[str], output: Path, *, where: Filter | None = None,
                 settings: Settings | None = None, title: str | None = None,
                 advance: Callable[[int], None] = lambda n: None,
                 ) -> tuple[Summary, ChainStatus | None]:
    """Read ``paths``, verify their audit chains, write the page to ``output``."""
    summary = summarize(paths, where, advance)
    chain = audit_status(summary.audit_files, settings) if summary.audit_files else None
    page = render(summary, title=title or "secmon security report", inputs=paths, chain=chain)
    output.write_text(page, encoding="utf-8")
    return summary, chain

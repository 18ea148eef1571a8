"""The report page: ``page.html`` filled with the summary's sections, every value escaped."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timezone
from importlib.resources import files
from typing import Any

import orjson

from .._version import __version__
from ..logread import Event, event_time, user_of
from ..query import CountBy, evidence
from .chain import ChainStatus
from .charts import (
    TimeGrid,
    rules_chart,
    rules_title,
    time_grid,
    timeline_chart,
    timeline_title,
    top_chart,
    top_groups,
)
from .markup import Html, fill, join
from .summary import Summary

LEVELS = frozenset({"info", "warning", "error", "critical"})
STATES = frozenset({"intact", "tampered", "unanchored", "not verified"})


def _template() -> str:
    return (files("secmon.report") / "page.html").read_text(encoding="utf-8")


def _shown(moment: str | None) -> str:
    return moment[:19].replace("T", " ") + " UTC" if moment else "-"


def _state(chain: ChainStatus, text: str) -> Html:
    state = chain.state if chain.state in STATES else "not verified"
    return fill('<span class="state state-$css">$text</span>', css=state.replace(" ", "-"),
                text=text)


def _figure(caption: str, chart: Html | None, empty: str) -> Html:
    if chart is None:
        return fill('<p class="muted">$empty</p>', empty=empty)
    return fill("<figure><figcaption>$caption</figcaption>$chart</figure>", caption=caption,
                chart=chart)


def _cards(summary: Summary, chain: ChainStatus | None) -> Html:
    levels = summary.levels
    worse = levels["warning"] + levels["error"] + levels["critical"]
    values: list[tuple[object, str]] = [
        (sum(summary.types.values()), "events"),
        (worse, "warning or worse"),
        (summary.types["authn_login_fail"], "failed logins"),
        (summary.types["authz_fail"], "access denials"),
        (sum(summary.detection_types.values()), "detections"),
        (_state(chain, chain.state) if chain else Html("&ndash;"), "audit chain"),
    ]
    return join(fill('  <div class="card"><div class="n">$n</div><div class="l">$label</div>'
                     "</div>", n=n, label=label) for n, label in values)


def _chain(chain: ChainStatus | None) -> Html:
    if chain is None:
        return Html('  <p class="muted">No hash-chained audit records among the inputs (pass '
                    "<code>audit.log</code> to check the chain).</p>")
    problems = Html("")
    if chain.problems:
        problems = fill("  <ul>$items</ul>\n", items=join(
            fill("<li><code>$p</code></li>", p=p) for p in chain.problems))
    sources = join((fill("<code>$s</code>", s=s) for s in chain.sources), ", ")
    return fill('  <p>$state &middot; $detail</p>\n$problems  <p class="muted">Verified: '
                "$sources</p>", state=_state(chain, chain.state.upper()), detail=chain.detail,
                problems=problems, sources=sources)


def _table(heading: str, column: str, counter: CountBy) -> Html:
    rows = top_groups(counter)
    if not rows:
        return Html("")
    body = join(fill('      <tr><td><code>$key</code></td><td class="num">$count</td>'
                     "<td>$first</td><td>$last</td></tr>\n", key=key, count=group.count,
                     first=_shown(group.first_seen), last=_shown(group.last_seen))
                for key, group in rows)
    return fill("  <div>\n    <h3>$heading</h3>\n    <table>\n      <tr><th>$column</th>"
                "<th>count</th><th>first</th><th>last</th></tr>\n$body    </table>\n  </div>\n",
                heading=heading, column=column, body=body)


def _detection_row(event: Event) -> Html:
    level = str(event.get("level"))
    user, ip = user_of(event), event.get("source_ip")
    who = join([fill("$u<br>", u=user) if user else Html(""),
                fill("<code>$ip</code>", ip=ip) if ip is not None else Html("")])
    proof = orjson.dumps(evidence(event), option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS,
                         default=str).decode()
    return fill('  <tr><td>$time</td><td class="level-$css">$level</td><td><code>$type</code>'
                "</td><td>$who</td><td>$message<details><summary>evidence</summary><pre>$proof"
                "</pre></details></td></tr>\n", time=_shown(event_time(event)),
                css=level if level in LEVELS else "other", level=level,
                type=event.get("event_type"), who=who, message=event.get("event") or "",
                proof=proof)


def _detections(summary: Summary, grid: TimeGrid | None) -> Html:
    if not summary.detections:
        return Html('<p class="muted">No detections in these logs.</p>')
    chart = rules_chart(grid) if grid is not None else None
    # Detections without a usable timestamp are listed but not charted.
    figure = _figure(rules_title(grid), chart, "") if grid and chart else Html("")
    total = sum(summary.detection_types.values())
    listed = len(summary.detections)
    note = f"{total} detection{'s' if total != 1 else ''}"
    if total > listed:
        note += f"; the newest {listed} are listed"
    rows = join(_detection_row(event) for event in reversed(summary.detections))
    return fill('$figure\n<p class="muted">$note.</p>\n<table>\n  <tr><th>time</th><th>level'
                "</th><th>rule</th><th>who</th><th>what and evidence</th></tr>\n$rows</table>",
                figure=figure, note=note, rows=rows)


def render(summary: Summary, *, title: str, inputs: Sequence[str],
           chain: ChainStatus | None) -> str:
    """The HTML page for ``summary``: charts inline, no script, nothing fetched."""
    grid = time_grid(summary)
    timeline = _figure(timeline_title(grid), timeline_chart(grid), "") if grid else \
        Html('<p class="muted">No timestamped events.</p>')
    top = join(_figure(caption, top_chart(name, caption, failures, denials),
                       "No failed logins or denials.")
               for name, caption, failures, denials in (
                   ("top_ips", "Top source IPs: failed logins and denials",
                    summary.failures_by_ip, summary.denials_by_ip),
                   ("top_users", "Top users: failed logins and denials",
                    summary.failures_by_user, summary.denials_by_user)))
    tables = join([
        _table("Failed logins by source IP", "source IP", summary.failures_by_ip),
        _table("Failed logins by user", "user", summary.failures_by_user),
        _table("Access denials by source IP", "source IP", summary.denials_by_ip),
        _table("Access denials by user", "user", summary.denials_by_user),
    ])
    types = join(fill('  <tr><td><code>$name</code></td><td class="num">$count</td></tr>\n',
                      name=name, count=count) for name, count in summary.types.most_common())
    values: dict[str, Any] = {
        "title": title,
        "version": __version__,
        "span": f"{_shown(summary.first)} \u2013 {_shown(summary.last)}",
        "total": sum(summary.types.values()),
        "files": f"{len(inputs)} file{'s' if len(inputs) != 1 else ''}",
        "generated": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "cards": _cards(summary, chain),
        "chain": _chain(chain),
        "timeline": timeline,
        "top": top,
        "tables": tables,
        "detections": _detections(summary, grid),
        "types": types,
        "inputs": join(fill("<li><code>$p</code></li>", p=p) for p in inputs),
        "lines": summary.stats.lines,
        "bytes": summary.stats.bytes,
        "notes": join(fill('  <p class="level-warning">$n</p>\n', n=n)
                      for n in summary.stats.problems()),
    }
    return fill(_template(), **values)

"""What the demo prints: each step, its requests, and the events and alerts they caused."""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.markup import escape

from .clock import ScriptedDay
from .inbox import AlertInbox

LEVEL_STYLES = {"info": "green", "warning": "yellow", "error": "red", "critical": "bold red"}
SHOWN_REPEATS = 2


@dataclass
class Screen:
    """Prints each step, the requests it made, and the events and alerts they caused.

    It also keeps the scripted day's time: a step starts at its time, a request ticks.
    """

    console: Console
    events: list[dict[str, Any]]
    inbox: AlertInbox
    pause: bool
    day: ScriptedDay
    shown: int = 0
    alerts_shown: int = 0
    requests: Counter[tuple[str, str, int]] = field(default_factory=Counter)
    steps: list[str] = field(default_factory=list)

    def step(self, clock: str, app: str, title: str) -> None:
        self.day.at(clock)
        self.steps.append(title)
        self.console.print()
        self.console.print(f"[bold cyan]{clock}[/]  [bold]{escape(title)}[/]  [dim]({app})[/]")

    def request(self, method: str, path: str, status: int) -> None:
        self.day.tick()
        # /customers/7/ and /customers/8/ are one line: /customers/<id>/
        shown = re.sub(r"/\d+(?=/|$)", "/<id>", path.split("?")[0])
        self.requests[method, shown, status] += 1

    def show(self, flush: Callable[[], None]) -> None:
        """After a step: what was requested, then every event and alert it caused."""
        flush()
        for (method, path, status), count in self.requests.items():
            times = f" x{count}" if count > 1 else ""
            self.console.print(f"   [dim]{method} {escape(path)}{times} -> {status}[/]")
        self.requests.clear()
        new = self.events[self.shown:]
        self.shown = len(self.events)
        run: list[dict[str, Any]] = []
        for event in [*new, None]:
            if event is not None and run and event.get("event_type") == run[-1].get("event_type"):
                run.append(event)
                continue
            self._print_run(run)
            run = [event] if event is not None else []
        for alert in self.inbox.received[self.alerts_shown:]:
            self.console.print(f"   [bold magenta]-> webhook[/] received the alert "
                               f"[bold]{escape(str(alert.get('rule')))}[/] "
                               f"(severity {escape(str(alert.get('severity')))}, "
                               "signature verified)")
        self.alerts_shown = len(self.inbox.received)
        if self.pause:
            time.sleep(0.8)

    def _print_run(self, run: list[dict[str, Any]]) -> None:
        for event in run[:SHOWN_REPEATS]:
            self._print_event(event)
        if len(run) > SHOWN_REPEATS:
            self.console.print(f"   [dim]... and {len(run) - SHOWN_REPEATS} more "
                               f"{escape(str(run[0].get('event_type')))}[/]")

    def _print_event(self, event: dict[str, Any]) -> None:
        kind = escape(str(event.get("event_type")))
        message = escape(str(event.get("event")))
        if event.get("category") == "intrusion_detection":
            self.console.print(f"   [bold white on red] ALERT [/] [bold red]{kind}[/]: {message}")
            return
        level = str(event.get("level"))
        signed = f" [dim]signed #{event['seq']}[/]" if "seq" in event else ""
        self.console.print(f"   [{LEVEL_STYLES.get(level, '')}]{level:<8}[/] {kind:<30} "
                           f"{message}{signed}")

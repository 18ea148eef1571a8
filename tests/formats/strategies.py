"""Hypothesis strategies: canonical events with any text (or any value) in any field."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from .samples import SAMPLES

CANONICAL_KEYS = (
    "timestamp", "level", "event_type", "category", "outcome", "event", "user_id", "username",
    "username_hash", "source_ip", "user_agent", "request_id", "method", "path", "status", "host",
    "app", "resource_type", "resource_id", "reason", "changes", "seq", "chain", "prev", "mac",
    "key_id", "route", "filename", "size", "detected_type", "content_type", "geo", "error",
    "error_type", "stack", "action",
)

scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
)
values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=8), children, max_size=3),
    max_leaves=6,
)
field_names = st.sampled_from(CANONICAL_KEYS) | st.text(min_size=1, max_size=16)


@st.composite
def events(draw: st.DrawFn, value_strategy: st.SearchStrategy[Any] = values) -> dict[str, Any]:
    """A realistic event (one of the samples) with some fields replaced or added."""
    event = dict(draw(st.sampled_from(list(SAMPLES.values()))))
    event.update(draw(st.dictionaries(field_names, value_strategy, max_size=6)))
    return event


def text_events() -> st.SearchStrategy[dict[str, Any]]:
    """Events where the replaced fields hold arbitrary text (control characters included)."""
    return events(st.text())

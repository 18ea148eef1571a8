"""A QuerySet whose fetched rows are reads of sensitive data (``sensitive_read``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from django.db import models

from ..pipeline import emit, get_pipeline

MAX_IDS = 100


class SensitiveQuerySet(models.QuerySet):  # type: ignore[misc]  # django is untyped here
    """One ``sensitive_read`` each time rows are fetched, with their count and ids.

    Counting, ``exists()`` and aggregates read no rows and emit nothing.

    >>> class Patient(models.Model):
    ...     objects = SensitiveQuerySet.as_manager()
    """

    def _fetch_all(self) -> None:
        # The one place Django fills the result cache: list(), iteration, len(), get(), [i].
        fetching = self._result_cache is None
        super()._fetch_all()
        if fetching:
            rows = self._result_cache
            _report(self.model, _ids(rows[:MAX_IDS]), len(rows))

    def iterator(self, *args: Any, **kwargs: Any) -> Iterator[Any]:
        ids: list[Any] = []
        count = 0
        try:
            for row in super().iterator(*args, **kwargs):
                count += 1
                if len(ids) < MAX_IDS:
                    ids.extend(_ids([row]))
                yield row
        finally:  # also when the caller stops early: those rows were read
            _report(self.model, ids, count)


def _ids(rows: Any) -> list[Any]:
    return [row.pk for row in rows if isinstance(row, models.Model)]


def _report(model: Any, ids: list[Any], count: int) -> None:
    try:
        if not count:
            return
        emit(
            "sensitive_read",
            resource_type=model._meta.label_lower,
            resource_id=ids[0] if count == 1 and ids else None,
            resource_ids=ids if count > 1 and ids else None,
            count=count,
        )
    except Exception as exc:
        get_pipeline().report_error("django.sensitive_read", exc)

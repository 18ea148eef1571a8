"""Mark views whose successful responses are reads of sensitive data (``sensitive_read``)."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from asgiref.sync import iscoroutinefunction

from ..pipeline import emit, get_pipeline

View = TypeVar("View", bound=Callable[..., Any])


def sensitive_read(resource_type: str, *, id_kwarg: str | None = "pk") -> Callable[[View], View]:
    """Emit ``sensitive_read`` when the view answers with a success (status below 400).

    ``resource_id`` is the URL argument named ``id_kwarg`` when present. For class-based
    views use ``method_decorator(sensitive_read("patient"), name="dispatch")``.

    >>> @sensitive_read("patient")
    ... def patient_detail(request, pk): ...
    """

    def decorate(view: View) -> View:
        if iscoroutinefunction(view):

            @functools.wraps(view)
            async def async_wrapper(request: Any, *args: Any, **kwargs: Any) -> Any:
                response = await view(request, *args, **kwargs)
                _report(response, resource_type, kwargs.get(id_kwarg) if id_kwarg else None)
                return response

            return async_wrapper  # type: ignore[return-value]

        @functools.wraps(view)
        def wrapper(request: Any, *args: Any, **kwargs: Any) -> Any:
            response = view(request, *args, **kwargs)
            _report(response, resource_type, kwargs.get(id_kwarg) if id_kwarg else None)
            return response

        return wrapper  # type: ignore[return-value]

    return decorate


def _report(response: Any, resource_type: str, resource_id: Any) -> None:
    try:
        if getattr(response, "status_code", 200) < 400:
            emit("sensitive_read", resource_type=resource_type, resource_id=resource_id)
    except Exception as exc:
        get_pipeline().report_error("django.sensitive_read", exc)

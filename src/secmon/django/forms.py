"""An opt-in form mixin: a failed ``is_valid()`` becomes ``input_validation_fail``."""

from __future__ import annotations

from typing import Any

from ..pipeline import emit, get_pipeline


class SecurityFormMixin:
    """Mix into a Form or ModelForm (before the form class) to log validation failures.

    The event names the failing fields and Django's error codes (``required``,
    ``invalid``, ``max_length``, ...), never the submitted values or the messages,
    which may quote them. One event per form instance, however often ``is_valid()``
    is called.

    >>> class ContactForm(SecurityFormMixin, forms.Form): ...
    """

    security_reason = "form_invalid"

    def is_valid(self) -> bool:
        form: Any = self
        valid = bool(super().is_valid())  # type: ignore[misc]  # a mixin for Django forms
        if not valid and form.is_bound and not form.__dict__.get("_secmon_reported"):
            form.__dict__["_secmon_reported"] = True
            try:
                errors = form.errors.as_data()
                emit(
                    "input_validation_fail",
                    reason=self.security_reason,
                    form=f"{type(self).__module__}.{type(self).__qualname__}",
                    fields=sorted(errors),
                    errors=[
                        {"field": name, "codes": sorted({e.code or "invalid" for e in found})}
                        for name, found in sorted(errors.items())
                    ],
                )
            except Exception as exc:
                get_pipeline().report_error("django.forms", exc)
        return valid

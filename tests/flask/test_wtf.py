"""Flask-WTF: a CSRF rejection is an input validation failure with reason ``csrf``."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
from flask import Flask, abort, render_template_string
from flask_wtf import CSRFProtect, FlaskForm
from flask_wtf.csrf import CSRFError
from wtforms import IntegerField
from wtforms.validators import NumberRange

from secmon.testing import CapturedEvents

from .conftest import AppFactory, log_text


class QuantityForm(FlaskForm):
    quantity = IntegerField(validators=[NumberRange(min=1, max=10)])


@pytest.fixture
def csrf_app(make_app: AppFactory) -> Flask:
    app = make_app()
    csrf = CSRFProtect(app)

    @app.route("/cart", methods=["GET", "POST"])
    def cart() -> str | tuple[str, int]:
        form = QuantityForm()
        if form.validate_on_submit():
            return "added"
        status = 400 if form.is_submitted() else 200
        return render_template_string("{{ form.csrf_token() }}", form=form), status

    @app.route("/webhook", methods=["POST"])
    @csrf.exempt
    def webhook() -> str:
        abort(400)

    return app


def token_of(client: object) -> str:
    page = client.get("/cart").get_data(as_text=True)  # type: ignore[attr-defined]
    match = re.search(r'value="([^"]+)"', page)
    assert match is not None
    return match.group(1)


def test_missing_csrf_token(csrf_app: Flask, secmon_events: CapturedEvents) -> None:
    response = csrf_app.test_client().post("/cart", data={"quantity": "2"})

    assert response.status_code == 400
    (event,) = secmon_events
    assert event["event_type"] == "input_validation_fail"
    assert event["reason"] == "csrf"
    assert event["path"] == "/cart"


def test_wrong_csrf_token_is_not_logged(
    csrf_app: Flask, secmon_events: CapturedEvents, log_dir: Path
) -> None:
    client = csrf_app.test_client()
    good = token_of(client)

    client.post("/cart", data={"quantity": "2", "csrf_token": "forged-" + good[:20]})

    assert secmon_events[0]["reason"] == "csrf"
    assert good[:20] not in log_text(log_dir)


def test_the_apps_csrf_error_handler_still_answers(
    csrf_app: Flask, secmon_events: CapturedEvents
) -> None:
    @csrf_app.errorhandler(CSRFError)
    def expired(error: CSRFError) -> tuple[str, int]:
        return f"form expired: {error.description}", 400

    response = csrf_app.test_client().post("/cart", data={"quantity": "2"})

    assert response.get_data(as_text=True) == "form expired: The CSRF token is missing."
    assert secmon_events[0]["reason"] == "csrf"


def test_invalid_form_with_a_valid_token_is_a_plain_validation_failure(
    csrf_app: Flask, secmon_events: CapturedEvents
) -> None:
    client = csrf_app.test_client()
    token = token_of(client)

    ok = client.post("/cart", data={"quantity": "2", "csrf_token": token})
    bad = client.post("/cart", data={"quantity": "99", "csrf_token": token})

    assert (ok.status_code, bad.status_code) == (200, 400)
    (event,) = secmon_events
    assert event["event_type"] == "input_validation_fail"
    assert event["reason"] == "bad_request"


def test_exempt_view_is_not_blamed_on_csrf(
    csrf_app: Flask, secmon_events: CapturedEvents
) -> None:
    csrf_app.test_client().post("/webhook")

    assert secmon_events[0]["reason"] == "bad_request"


def test_without_flask_wtf_installed(
    make_app: AppFactory, monkeypatch: pytest.MonkeyPatch, secmon_events: CapturedEvents
) -> None:
    monkeypatch.setitem(sys.modules, "flask_wtf", None)
    app = make_app()

    @app.route("/form", methods=["POST"])
    def form() -> str:
        abort(400)

    app.test_client().post("/form")

    assert secmon_events[0]["reason"] == "bad_request"

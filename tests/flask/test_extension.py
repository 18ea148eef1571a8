"""SecMon as a Flask extension: init_app, app.config settings, per-app pipelines, blueprints."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask import Blueprint, Flask, abort

import secmon
from secmon import pipeline as _pipeline
from secmon.flask import FlaskState, SecMon
from secmon.testing import CapturedEvents

from ..conftest import read_lines
from .conftest import AppFactory


def add_forbidden(app: Flask) -> None:
    @app.route("/forbidden")
    def forbidden() -> str:
        abort(403)


def test_secmon_app_sets_up_state_and_reports(make_app: AppFactory, log_dir: Path) -> None:
    app = make_app("shop")
    add_forbidden(app)

    assert isinstance(app.extensions["secmon"], FlaskState)
    assert app.test_client().get("/forbidden").status_code == 403

    (event,) = read_lines(log_dir / "security.log")
    assert event["event_type"] == "authz_fail"
    assert event["reason"] == "forbidden"
    assert event["status"] == 403
    assert event["app"] == "shop"
    assert event["path"] == "/forbidden"
    assert event["route"] == "/forbidden"


def test_init_app_pattern_in_an_app_factory(make_app: AppFactory, log_dir: Path) -> None:
    ext = SecMon()

    def create_app() -> Flask:
        app = make_app("factory", secmon=False, SECMON_APP_NAME="billing")
        ext.init_app(app)
        add_forbidden(app)
        return app

    app = create_app()
    app.test_client().get("/forbidden")

    (event,) = read_lines(log_dir / "security.log")
    assert event["app"] == "billing"


def test_init_app_twice_reports_once(make_app: AppFactory, secmon_events: CapturedEvents) -> None:
    app = make_app()
    SecMon(app)
    add_forbidden(app)

    app.test_client().get("/forbidden")

    assert secmon_events.types() == ["authz_fail"]


@pytest.mark.parametrize(
    ("key", "value", "problem"),
    [
        ("SECMON_MIN_LEVEL", "loud", "expected one of"),
        ("SECMON_TRUSTED_PROXIES", ["10.0.0.0/33"], "not an IP address or network"),
        ("SECMON_LOGDIR", "/tmp/x", "unknown setting; did you mean SECMON_LOG_DIR?"),
        ("SECMON_OUTPUTS", [{"type": "carrier-pigeon"}], "unknown output type"),
    ],
)
def test_bad_setting_fails_at_init_app_naming_the_config_key(
    make_app: AppFactory, key: str, value: object, problem: str
) -> None:
    app = make_app(secmon=False, **{key: value})

    with pytest.raises(secmon.ConfigError) as info:
        SecMon(app)

    assert info.value.key.startswith(key)
    assert str(info.value).startswith(f"secmon setting {key}")
    assert problem in str(info.value)
    assert "secmon" not in app.extensions


def test_first_app_configures_the_process_so_emit_outside_requests_works(
    make_app: AppFactory, log_dir: Path
) -> None:
    assert _pipeline.current_pipeline() is None
    app = make_app("first")

    assert app.extensions["secmon"].pipeline is None  # follows the process-wide pipeline
    secmon.emit("sys_startup")  # outside any request: a CLI command, a worker thread

    (event,) = read_lines(log_dir / "security.log")
    assert event["event_type"] == "sys_startup"
    assert event["app"] == "first"


def test_apps_in_one_process_keep_their_own_settings(
    make_app: AppFactory, tmp_path: Path
) -> None:
    shop = make_app("shop", SECMON_LOG_DIR=str(tmp_path / "shop"))
    admin = make_app("admin", SECMON_LOG_DIR=str(tmp_path / "admin"),
                     SECMON_USERNAME_MODE="plain")
    for app in (shop, admin):
        add_forbidden(app)

        @app.route("/login", methods=["POST"])
        def login() -> tuple[str, int]:
            secmon.login_failed(username="mallory")
            return "no", 401

    assert admin.extensions["secmon"].pipeline is not None  # its own, bound per request
    shop.test_client().post("/login")
    admin.test_client().post("/login")
    admin.test_client().get("/forbidden")

    shop_events = read_lines(tmp_path / "shop" / "security.log")
    admin_events = read_lines(tmp_path / "admin" / "security.log")
    assert [e["event_type"] for e in shop_events] == ["authn_login_fail"]
    assert [e["event_type"] for e in admin_events] == ["authn_login_fail", "authz_fail"]
    assert {e["app"] for e in shop_events} == {"shop"}
    assert {e["app"] for e in admin_events} == {"admin"}
    assert "username" not in shop_events[0] and shop_events[0]["username_hash"]
    assert admin_events[0]["username"] == "mallory"


def test_app_without_settings_follows_an_existing_configuration(
    make_app: AppFactory, tmp_path: Path
) -> None:
    secmon.configure(log_dir=tmp_path / "central", environment="test", app_name="central")
    app = Flask("plain")
    SecMon(app)
    add_forbidden(app)

    app.test_client().get("/forbidden")

    (event,) = read_lines(tmp_path / "central" / "security.log")
    assert event["event_type"] == "authz_fail"
    assert event["app"] == "central"


def test_blueprint_error_handler_keeps_its_response(
    make_app: AppFactory, secmon_events: CapturedEvents
) -> None:
    app = make_app()
    admin = Blueprint("admin", __name__, url_prefix="/admin")

    @admin.route("/users/<int:user_id>")
    def user(user_id: int) -> str:
        abort(403)

    @admin.errorhandler(403)
    def denied(error: Exception) -> tuple[str, int]:
        return "admins only", 403

    app.register_blueprint(admin)

    response = app.test_client().get("/admin/users/7")

    assert response.status_code == 403
    assert response.get_data(as_text=True) == "admins only"
    (event,) = secmon_events
    assert event["event_type"] == "authz_fail"
    assert event["route"] == "/admin/users/<int:user_id>"
    assert event["path"] == "/admin/users/7"


def test_disabled_secmon_emits_nothing(make_app: AppFactory, log_dir: Path) -> None:
    app = make_app(SECMON_ENABLED=False)
    add_forbidden(app)

    assert app.test_client().get("/forbidden").status_code == 403
    assert read_lines(log_dir / "security.log") == []

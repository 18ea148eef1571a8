"""A small Flask shop wired to secmon the way a Flask user would: ``SecMon(app)``."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, abort, flash, redirect, render_template, request, url_for
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_login import (
    LoginManager,
    UserMixin,
    current_user,
    login_required,
    login_user,
    logout_user,
)
from flask_wtf import CSRFProtect, FlaskForm
from flask_wtf.file import FileAllowed, FileField, FileRequired
from werkzeug.security import check_password_hash, generate_password_hash
from wtforms import IntegerField, PasswordField, StringField
from wtforms.validators import DataRequired, NumberRange, Regexp

import secmon
from secmon.flask import SecMon

F = TypeVar("F", bound=Callable[..., Any])


# -- users (a database in a real app) --------------------------------------------------------


@dataclass(frozen=True)
class User(UserMixin):
    id: int
    username: str
    role: str
    password_hash: str


def _user(user_id: int, username: str, password: str, role: str = "customer") -> User:
    return User(user_id, username, role, generate_password_hash(password))


# Demo accounts; the passwords are in README.md.
USERS = {
    user.username: user
    for user in (
        _user(1, "admin", os.environ.get("SHOP_ADMIN_PASSWORD", "correct horse battery"),
              role="admin"),
        _user(2, "alice", os.environ.get("SHOP_ALICE_PASSWORD", "alice-wonderland-42")),
        _user(3, "bob", os.environ.get("SHOP_BOB_PASSWORD", "bob-the-builder-7")),
    )
}
USERS_BY_ID = {user.id: user for user in USERS.values()}
# Same work for unknown usernames as for known ones: no timing oracle.
_UNKNOWN_USER_HASH = generate_password_hash("no such user")


def authenticate(username: str, password: str) -> User | None:
    user = USERS.get(username)
    if user is None:
        check_password_hash(_UNKNOWN_USER_HASH, password)
        return None
    return user if check_password_hash(user.password_hash, password) else None


def role_required(role: str) -> Callable[[F], F]:
    def decorate(view: F) -> F:
        @wraps(view)
        @login_required
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if current_user.role != role:
                abort(403)  # no secmon call needed: the 403 becomes an authz_fail event
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


# -- forms -----------------------------------------------------------------------------------


class LoginForm(FlaskForm):
    username = StringField(validators=[DataRequired()])
    password = PasswordField(validators=[DataRequired()])


class OrderForm(FlaskForm):
    product_id = IntegerField(validators=[DataRequired()])
    quantity = IntegerField(validators=[NumberRange(min=1, max=100)])
    card_number = StringField(validators=[Regexp(r"^[0-9]{13,19}$")])


class AvatarForm(FlaskForm):
    # An extension check, as many apps have; secmon looks at the bytes as well.
    avatar = FileField(validators=[FileRequired(), FileAllowed(["jpg", "jpeg", "png"])])


# -- the app ---------------------------------------------------------------------------------

login_manager = LoginManager()
login_manager.login_view = "login"
csrf = CSRFProtect()
limiter = Limiter(get_remote_address)
secmon_ext = SecMon()


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    return USERS_BY_ID.get(int(user_id))


def create_app() -> Flask:
    app = Flask(__name__)
    app.config.update(
        # Shared by all workers; set SHOP_SECRET_KEY to a long random value in production.
        SECRET_KEY=os.environ.get("SHOP_SECRET_KEY", "dev-only-change-me"),
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
        # memory:// counts per worker process; point all workers at one store (redis://...).
        RATELIMIT_STORAGE_URI=os.environ.get("SHOP_RATELIMIT_STORAGE_URI", "memory://"),
        RATELIMIT_HEADERS_ENABLED=True,
        # secmon: the app's name here; the rest from SECMON_* environment variables.
        SECMON_APP_NAME="flask-shop",
    )
    if os.environ.get("SHOP_SECMON", "1") != "0":  # "0": the shop without secmon (make load)
        secmon_ext.init_app(app)
    login_manager.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    register_routes(app)
    return app


def register_routes(app: Flask) -> None:
    @app.get("/health")
    @limiter.exempt
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.route("/")
    def index() -> str:
        return render_template("index.html")

    @app.route("/login", methods=["GET", "POST"])
    @limiter.limit("30 per minute")
    def login() -> Any:
        form = LoginForm()
        if form.validate_on_submit():
            user = authenticate(form.username.data or "", form.password.data or "")
            if user is not None:
                login_user(user)  # secmon logs authn_login_success from Flask-Login's signal
                return redirect(request.args.get("next") or url_for("index"))
            # Login logic is the app's own: only it knows this was a failed login.
            secmon.login_failed(username=form.username.data, reason="bad credentials")
            flash("Invalid username or password.")
            return render_template("login.html", form=form), 401
        return render_template("login.html", form=form)

    @app.route("/logout", methods=["POST"])
    @login_required
    def logout() -> Any:
        logout_user()  # session_expired, reason logout
        return redirect(url_for("index"))

    @app.route("/admin/users")
    @role_required("admin")
    def admin_users() -> Any:
        secmon.sensitive_read(resource_type="user_list")
        return {"users": [{"id": u.id, "username": u.username, "role": u.role}
                          for u in USERS.values()]}

    @app.route("/orders", methods=["GET", "POST"])
    @login_required
    def orders() -> Any:
        form = OrderForm()
        if form.validate_on_submit():
            return {"ordered": form.product_id.data, "quantity": form.quantity.data}, 201
        if form.is_submitted():
            # Optional: name the fields that failed (never their values); without this
            # call the 400 still becomes an input_validation_fail event.
            secmon.validation_failed(reason="invalid order", fields=sorted(form.errors))
            return render_template("order.html", form=form), 400
        return render_template("order.html", form=form)

    @app.route("/avatar", methods=["GET", "POST"])
    @login_required
    def avatar() -> Any:
        form = AvatarForm()
        if form.validate_on_submit():
            data = form.avatar.data.read()  # secmon inspected it and rewound the stream
            return {"stored": form.avatar.data.filename, "size": len(data)}, 201
        status = 400 if form.is_submitted() else 200
        return render_template("avatar.html", form=form), status

    @app.route("/search")
    @limiter.limit("5 per minute")
    def search() -> dict[str, Any]:
        return {"query": request.args.get("q", ""), "results": []}


app = create_app()

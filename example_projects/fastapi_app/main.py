"""A small FastAPI shop API wired to secmon the way a FastAPI user would: one middleware line."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request, UploadFile, status
from fastapi.security import OAuth2PasswordBearer, OAuth2PasswordRequestForm
from pydantic import BaseModel, Field
from slowapi import Limiter, _rate_limit_exceeded_handler
from slowapi.errors import RateLimitExceeded
from slowapi.util import get_remote_address

import secmon
from secmon.asgi import SecMonMiddleware
from secmon.asgi.fastapi import install_validation_handler

# Everything else (SECMON_LOG_DIR, SECMON_AUDIT_KEY, SECMON_TRUSTED_PROXIES, ...) comes from
# the environment; see README.md.
secmon.configure(app_name="fastapi-shop")


# -- users and tokens (a database and a real token store in a real app) ---------------------


@dataclass(frozen=True)
class User:
    id: int
    username: str
    is_admin: bool
    salt: bytes
    password_hash: bytes


def _hash(password: str, salt: bytes) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)


def _user(user_id: int, username: str, password: str, *, is_admin: bool = False) -> User:
    salt = os.urandom(16)
    return User(user_id, username, is_admin, salt, _hash(password, salt))


# Demo accounts; the passwords are in README.md.
USERS = {
    user.username: user
    for user in (
        _user(1, "admin", os.environ.get("SHOP_ADMIN_PASSWORD", "correct horse battery"),
              is_admin=True),
        _user(2, "alice", os.environ.get("SHOP_ALICE_PASSWORD", "alice-wonderland-42")),
        _user(3, "bob", os.environ.get("SHOP_BOB_PASSWORD", "bob-the-builder-7")),
    )
}
TOKENS: dict[str, User] = {}


def authenticate(username: str, password: str) -> User | None:
    user = USERS.get(username)
    if user is None:
        _hash(password, b"\0" * 16)  # same work for unknown users: no timing oracle
        return None
    if not hmac.compare_digest(_hash(password, user.salt), user.password_hash):
        return None
    return user


oauth2_scheme = OAuth2PasswordBearer(tokenUrl="token")


def current_user(token: Annotated[str, Depends(oauth2_scheme)]) -> User:
    user = TOKENS.get(token)
    if user is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Invalid or expired token",
                            headers={"WWW-Authenticate": "Bearer"})
    secmon.set_user(user_id=user.id, username=user.username)
    return user


def admin_user(user: Annotated[User, Depends(current_user)]) -> User:
    if not user.is_admin:
        # No secmon call needed: the middleware turns the 403 into an authz_fail event.
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Administrators only")
    return user


# -- the app ---------------------------------------------------------------------------------

limiter = Limiter(key_func=get_remote_address)
app = FastAPI(title="fastapi-shop")
app.state.limiter = limiter
app.add_exception_handler(RateLimitExceeded, _rate_limit_exceeded_handler)  # type: ignore[arg-type]
if os.environ.get("SHOP_SECMON", "1") != "0":  # "0": the shop without secmon (make load)
    app.add_middleware(SecMonMiddleware)
    install_validation_handler(app)


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"


class Order(BaseModel):
    product_id: int
    quantity: int = Field(ge=1, le=100)
    card_number: str = Field(pattern=r"^[0-9]{13,19}$")


@app.get("/health")
async def health() -> dict[str, str]:
    return {"status": "ok"}


@app.post("/token")
@limiter.limit("30/minute")
async def login(request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> Token:
    user = authenticate(form.username, form.password)
    if user is None:
        secmon.login_failed(username=form.username, reason="bad credentials")
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Incorrect username or password",
                            headers={"WWW-Authenticate": "Bearer"})
    token = secrets.token_urlsafe(32)
    TOKENS[token] = user
    secmon.login_succeeded(user_id=user.id, username=user.username)
    return Token(access_token=token)


@app.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
async def logout(user: Annotated[User, Depends(current_user)],
                 token: Annotated[str, Depends(oauth2_scheme)]) -> None:
    TOKENS.pop(token, None)
    secmon.logged_out(user_id=user.id)


@app.get("/me")
async def me(user: Annotated[User, Depends(current_user)]) -> dict[str, object]:
    return {"id": user.id, "username": user.username}


@app.get("/admin/users")
async def list_users(admin: Annotated[User, Depends(admin_user)]) -> list[dict[str, object]]:
    secmon.sensitive_read(resource_type="user_list")
    return [{"id": u.id, "username": u.username, "admin": u.is_admin} for u in USERS.values()]


@app.post("/orders", status_code=status.HTTP_201_CREATED)
async def place_order(order: Order,
                      user: Annotated[User, Depends(current_user)]) -> dict[str, object]:
    return {"product_id": order.product_id, "quantity": order.quantity,
            "card": "**** " + order.card_number[-4:]}


@app.post("/avatar", status_code=status.HTTP_201_CREATED)
async def upload_avatar(file: UploadFile,
                        user: Annotated[User, Depends(current_user)]) -> dict[str, object]:
    # Checks only the extension, as many apps do; secmon sniffs what the bytes really are.
    if not (file.filename or "").lower().endswith((".jpg", ".jpeg", ".png")):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "Only JPEG or PNG images")
    size = 0
    while chunk := await file.read(64 * 1024):
        size += len(chunk)
    return {"filename": file.filename, "size": size}


@app.get("/search")
@limiter.limit("5/minute")
async def search(request: Request, q: str = "") -> dict[str, object]:
    return {"query": q, "results": []}

"""An in-memory Flask-Security-Too datastore for tests (no database needed)."""

from __future__ import annotations

from itertools import count
from typing import Any

from flask_security import RoleMixin, UserMixin
from flask_security.datastore import Datastore, UserDatastore


class Role(RoleMixin):
    def __init__(self, name: str, description: str | None = None, **kwargs: Any) -> None:
        self.id: int | None = None
        self.name = name
        self.description = description
        self.permissions: list[str] = kwargs.get("permissions") or []
        self.update_datetime = None


class User(UserMixin):
    # Flask-Security inspects the model class for these columns.
    fs_uniquifier: str = ""
    email: str = ""
    username: str | None = None
    password: str | None = None
    active: bool = True

    def __init__(self, **kwargs: Any) -> None:
        self.id: int | None = None
        self.email: str = kwargs.pop("email")
        self.username: str | None = kwargs.pop("username", None)
        self.password: str | None = kwargs.pop("password", None)
        self.active: bool = kwargs.pop("active", True)
        self.fs_uniquifier: str = kwargs.pop("fs_uniquifier")
        self.roles: list[Role] = list(kwargs.pop("roles", []))
        self.confirmed_at = None
        self.tf_primary_method: str | None = None
        self.tf_totp_secret: str | None = None
        self.tf_phone_number: str | None = None
        self.us_totp_secrets: str | None = None
        self.us_phone_number: str | None = None
        self.mf_recovery_codes: list[str] | None = None
        self.create_datetime = None
        self.update_datetime = None
        for name, value in kwargs.items():
            setattr(self, name, value)


class MemoryUserDatastore(Datastore, UserDatastore):  # type: ignore[misc]
    def __init__(self) -> None:
        Datastore.__init__(self, None)
        UserDatastore.__init__(self, User, Role)
        self.users: list[User] = []
        self.roles: list[Role] = []
        self._ids = count(1)

    def put(self, model: Any) -> Any:
        bucket = self.users if isinstance(model, User) else self.roles
        if model.id is None:
            model.id = next(self._ids)
        if model not in bucket:
            bucket.append(model)
        return model

    def delete(self, model: Any) -> None:
        bucket = self.users if isinstance(model, User) else self.roles
        if model in bucket:
            bucket.remove(model)

    def commit(self) -> None:
        return None

    def find_user(self, case_insensitive: bool = False, **kwargs: Any) -> User | None:
        ((attr, value),) = kwargs.items()
        for user in self.users:
            found = getattr(user, attr, None)
            if case_insensitive and isinstance(found, str) and isinstance(value, str):
                if found.lower() == value.lower():
                    return user
            elif found == value:
                return user
        return None

    def find_role(self, role: str) -> Role | None:
        return next((r for r in self.roles if r.name == role), None)

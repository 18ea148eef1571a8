"""The example apps, driven as their users would: each a Django, Flask or FastAPI client."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import io
import re
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

from .screen import Screen
from .world import ALICE_PASSWORD, BROWSER, SCRAPER_USER_AGENT, SITE_PASSWORD, STUFFED


class DemoError(Exception):
    """The demo cannot run here (no example projects, a failed step)."""


def examples_root() -> Path:
    """The example projects: those the wheel ships in the package, or a source checkout's."""
    package = Path(__file__).resolve().parents[1]
    for candidate in (package / "example_projects",
                      package.parents[1] / "example_projects",
                      Path.cwd() / "example_projects"):
        if candidate.is_dir():
            return candidate
    raise DemoError("the example projects were not found: reinstall secmon, or run "
                    "`make demo` in a clone of the secmon repository")


def load_module(path: Path, name: str) -> ModuleType:
    """Import an example app from its file, with its directory importable for its siblings."""
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise DemoError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module


_CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


def _csrf(html: str) -> str:
    match = _CSRF.search(html)
    if match is None:
        raise DemoError("the Flask shop's form has no csrf_token")
    return match.group(1) or match.group(2)


class DjangoSite:
    """The Django example: its users are created, log in, probe, and get a permission."""

    label = "Django site"

    def __init__(self, root: Path, screen: Screen) -> None:
        self.screen = screen
        self.path = str(root / "django_site")
        sys.path.insert(0, self.path)
        import django

        django.setup()

    def open(self) -> None:
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)
        call_command("seed_demo", password=SITE_PASSWORD, stdout=io.StringIO())

    def client(self, ip: str) -> Any:
        from django.test import Client

        return Client(REMOTE_ADDR=ip, HTTP_HOST="localhost", HTTP_USER_AGENT=BROWSER)

    def _call(self, client: Any, method: str, path: str, data: Any = None) -> Any:
        response = client.post(path, data) if method == "POST" else client.get(path)
        self.screen.request(method, path, response.status_code)
        return response

    def login(self, ip: str, username: str) -> Any:
        client = self.client(ip)
        self._call(client, "POST", "/accounts/login/",
                   {"username": username, "password": SITE_PASSWORD})
        return client

    def probe(self, client: Any) -> None:
        self._call(client, "GET", "/customers/")
        for pk in range(1, 12):
            self._call(client, "GET", f"/customers/{pk}/")

    def grant(self, admin: Any, username: str, permission: str) -> None:
        """What the admin does in the Django admin: tick a permission on the user's page."""
        from django.contrib.auth import get_user_model
        from django.contrib.auth.models import Permission

        user = get_user_model().objects.get(username=username)
        app_label, codename = permission.split(".")
        chosen = Permission.objects.get(content_type__app_label=app_label, codename=codename)
        page = f"/admin/auth/user/{user.pk}/change/"
        form = _form_fields(self._call(admin, "GET", page).content.decode())
        form["user_permissions"] = [str(chosen.pk)]
        form["_save"] = "Save"
        self._call(admin, "POST", page, form)

    def close(self) -> None:
        sys.path.remove(self.path)


_INPUT = re.compile(r"<input\b[^>]*>")
_ATTRIBUTE = re.compile(r'([\w-]+)="([^"]*)"')


def _form_fields(html: str) -> dict[str, Any]:
    """The values a browser would submit from a page's inputs (text, hidden, checked boxes)."""
    import html as markup

    fields: dict[str, Any] = {}
    for tag in _INPUT.findall(html):
        attributes = dict(_ATTRIBUTE.findall(tag))
        name, kind = attributes.get("name"), attributes.get("type", "text")
        if not name or kind in ("submit", "button", "file"):
            continue
        if kind in ("checkbox", "radio"):
            if " checked" in tag:
                fields[name] = markup.unescape(attributes.get("value", "on"))
            continue
        fields[name] = markup.unescape(attributes.get("value", ""))
    return fields


class FlaskShop:
    """The Flask example: brute force, credential stuffing, a disguised upload."""

    label = "Flask shop"

    def __init__(self, module: ModuleType, screen: Screen) -> None:
        self.app = module.app
        self.screen = screen

    def client(self, ip: str, agent: str = BROWSER) -> Any:
        client = self.app.test_client()
        client.environ_base.update(REMOTE_ADDR=ip, HTTP_USER_AGENT=agent)
        return client

    def _login(self, client: Any, token: str, username: str, password: str) -> int:
        response = client.post("/login", data={"csrf_token": token, "username": username,
                                               "password": password})
        self.screen.request("POST", "/login", response.status_code)
        return int(response.status_code)

    def _token(self, client: Any, path: str = "/login") -> str:
        page = client.get(path)
        self.screen.request("GET", path, page.status_code)
        return _csrf(page.get_data(as_text=True))

    def brute_force(self) -> None:
        client = self.client("203.0.113.9")
        token = self._token(client)
        for attempt in ("bob123", "password", "bob2024", "letmein", "Bob!", "qwerty", "bob",
                        "123456"):
            self._login(client, token, "bob", attempt)

    def stuffing(self) -> None:
        client = self.client("203.0.113.77", "python-httpx/0.27")
        token = self._token(client)
        for index, email in enumerate(STUFFED):
            self._login(client, token, email, f"Summer{2020 + index % 5}!")

    def disguised_upload(self) -> None:
        client = self.client("198.51.100.23")
        token = self._token(client)
        self._login(client, token, "alice", ALICE_PASSWORD)
        token = self._token(client, "/avatar")
        executable = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + bytes(54) + b"PE\x00\x00" + bytes(64)
        response = client.post("/avatar", data={
            "csrf_token": token, "avatar": (io.BytesIO(executable), "holiday.jpg",
                                            "image/jpeg")}, content_type="multipart/form-data")
        self.screen.request("POST", "/avatar", response.status_code)

    def flush(self) -> None:
        # This app has a pipeline of its own (secmon was configured before it started).
        self.app.extensions["secmon"].current_pipeline().flush(timeout=5.0)

    def close(self) -> None:
        self.app.extensions["secmon"].close()


class FastAPIShop:
    """The FastAPI example: a normal login, a rate-limit flood, a login from far away."""

    label = "FastAPI shop"

    def __init__(self, module: ModuleType, screen: Screen) -> None:
        self.app = module.app
        self.screen = screen

    @contextlib.asynccontextmanager
    async def client(self, ip: str, agent: str = BROWSER) -> Any:
        import httpx

        transport = httpx.ASGITransport(app=self.app, client=(ip, 51000))
        async with httpx.AsyncClient(transport=transport, base_url="http://fastapi-shop.test",
                                     headers={"user-agent": agent}) as client:
            yield client

    async def _call(self, client: Any, method: str, path: str, **kwargs: Any) -> Any:
        response = await client.request(method, path, **kwargs)
        self.screen.request(method, path, response.status_code)
        return response

    async def login(self, ip: str, username: str, password: str) -> str | None:
        async with self.client(ip) as client:
            response = await self._call(client, "POST", "/token",
                                        data={"username": username, "password": password})
            token = response.json().get("access_token") if response.status_code == 200 else None
            if token:
                await self._call(client, "GET", "/me",
                                 headers={"authorization": f"Bearer {token}"})
            return token

    async def flood(self) -> None:
        async with self.client("203.0.113.200", SCRAPER_USER_AGENT) as client:
            for page in range(30):
                await self._call(client, "GET", f"/search?q=lamp&page={page}")

    def run(self, coroutine: Any) -> None:
        asyncio.run(coroutine)

    def close(self) -> None:
        pass

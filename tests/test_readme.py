"""The README says what is true: its tables match the code and its quickstarts run."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from dataclasses import fields
from pathlib import Path
from types import ModuleType

import pytest

from secmon.config import Settings

from .conftest import read_lines

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def quickstart(name: str) -> str:
    """The code block that follows ``<!-- quickstart:name -->`` in the README."""
    match = re.search(rf"<!-- quickstart:{re.escape(name)} -->\n```\w*\n(.*?)```", README,
                      re.DOTALL)
    assert match, f"README has no quickstart block {name}"
    return match.group(1)


def load(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_the_vocabulary_table_is_current() -> None:
    spec = importlib.util.spec_from_file_location("vocabulary_table",
                                                  ROOT / "scripts" / "vocabulary_table.py")
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    assert script.table() in README, "run: python scripts/vocabulary_table.py --write"


def test_every_setting_is_documented() -> None:
    documented = set(re.findall(r"^\| `([A-Z_]+)` \|", README, re.MULTILINE))
    assert documented == {f.name.upper() for f in fields(Settings)}


def test_every_linked_document_exists() -> None:
    for link in re.findall(r"\]\(((?:docs/|example_projects/|CHANGELOG)[^)#]*)", README):
        if link != "docs/benchmarks.md":  # written by `make bench`
            assert (ROOT / link).exists(), link


AUDIT_KEY = "f" * 16 + "0123456789abcdef" * 3  # the quickstart's `export SECMON_AUDIT_KEY`


def test_flask_quickstart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SECMON_AUDIT_KEY", AUDIT_KEY)
    (tmp_path / "app.py").write_text(quickstart("flask/app.py"))
    app = load(tmp_path / "app.py", "readme_flask_app").app
    client = app.test_client()
    assert client.post("/login", data={"username": "alice", "password": "guess"}).status_code \
        == 401
    assert client.get("/admin").status_code == 403
    assert client.post("/login", data={"username": "alice",
                                       "password": "correct horse battery staple"}).json \
        == {"hello": "alice"}
    import secmon

    secmon.flush()
    events = read_lines(tmp_path / "logs" / "security.log")
    assert [e["event_type"] for e in events] == [
        "authn_login_fail", "authz_fail", "authn_login_success",
        "authn_login_successafterfail"]  # detection: the failure came from the same address
    assert "guess" not in (tmp_path / "logs" / "security.log").read_text()


def test_fastapi_quickstart(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import httpx

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SECMON_AUDIT_KEY", AUDIT_KEY)
    (tmp_path / "main.py").write_text(quickstart("fastapi/main.py"))
    app = load(tmp_path / "main.py", "readme_fastapi_main").app

    async def play() -> list[int]:
        transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 4000))
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            first = await client.post("/login", data={"username": "alice", "password": "x"})
            second = await client.get("/admin")
            return [first.status_code, second.status_code]

    assert asyncio.run(play()) == [401, 403]
    import secmon

    secmon.flush()
    events = read_lines(tmp_path / "logs" / "security.log")
    assert [e["event_type"] for e in events] == ["authn_login_fail", "authz_fail"]
    assert events[0]["source_ip"] == "203.0.113.9"


def test_django_quickstart(tmp_path: Path) -> None:
    admin = shutil.which("django-admin", path=str(Path(sys.executable).parent))
    assert admin is not None
    subprocess.run([admin, "startproject", "mysite"], cwd=tmp_path, check=True, timeout=120)
    site = tmp_path / "mysite"
    settings = site / "mysite" / "settings.py"
    settings.write_text(settings.read_text() + "\n" + quickstart("django/settings.py"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SECMON_", "DJANGO_"))}
    env["SECMON_AUDIT_KEY"] = AUDIT_KEY
    python = sys.executable
    subprocess.run([python, "manage.py", "migrate", "-v", "0"], cwd=site, env=env, check=True,
                   timeout=300)
    script = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'mysite.settings'; "
        "django.setup(); from django.test import Client; "
        "from django.contrib.auth.models import User; "
        "User.objects.create_superuser('root', password='s3cret-pass-word'); "
        "c = Client(HTTP_HOST='localhost'); "
        "c.post('/admin/login/', {'username': 'root', 'password': 'wrong'}); "
        "c.post('/admin/login/', {'username': 'root', 'password': 's3cret-pass-word'})"
    )
    subprocess.run([python, "-c", script], cwd=site, env=env, check=True, timeout=300)
    events = read_lines(site / "logs" / "security.log")
    types = [e["event_type"] for e in events]
    assert types.count("authn_login_fail") == 1 and "authn_login_success" in types
    audit = read_lines(site / "logs" / "audit.log")
    assert all("mac" in record for record in audit) and audit  # signed with the env's key
    assert "wrong" not in (site / "logs" / "security.log").read_text()

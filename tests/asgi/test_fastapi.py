from __future__ import annotations

import asyncio
from typing import Annotated, Any

import httpx
import pytest
from fastapi import BackgroundTasks, Depends, FastAPI, HTTPException, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import OAuth2PasswordBearer
from pydantic import BaseModel, Field
from slowapi import Limiter, _rate_limit_exceeded_handler
from slowapi.errors import RateLimitExceeded
from slowapi.util import get_remote_address

import secmon
from secmon.asgi import SecMonMiddleware
from secmon.asgi.fastapi import install_validation_handler, report_validation_error
from secmon.pipeline import Pipeline
from secmon.testing import CapturedEvents

from .asgi_calls import WINDOWS_EXE

PEER = "198.51.100.23"


class Signup(BaseModel):
    email: str = Field(min_length=5)
    age: int = Field(ge=18)
    password: str = Field(min_length=12)


oauth2 = OAuth2PasswordBearer(tokenUrl="/token")


def require_admin(token: Annotated[str, Depends(oauth2)]) -> str:
    if token != "admin-token":
        raise HTTPException(status_code=403, detail="admins only")
    return token


def make_app(*, validation_handler: bool = True) -> FastAPI:
    limiter = Limiter(key_func=get_remote_address)
    app = FastAPI()
    app.state.limiter = limiter
    app.add_exception_handler(RateLimitExceeded, _rate_limit_exceeded_handler)  # type: ignore[arg-type]
    app.add_middleware(SecMonMiddleware)
    if validation_handler:
        install_validation_handler(app)

    @app.post("/signup", status_code=201)
    async def signup(form: Signup) -> dict[str, str]:
        return {"email": form.email}

    @app.get("/items")
    async def items(limit: int = 10) -> dict[str, int]:
        return {"limit": limit}

    @app.get("/admin")
    async def admin(token: Annotated[str, Depends(require_admin)]) -> dict[str, bool]:
        return {"ok": True}

    @app.get("/search")
    @limiter.limit("2/minute")
    async def search(request: Request) -> dict[str, list[str]]:
        return {"results": []}

    @app.get("/busy")
    async def busy() -> None:
        raise HTTPException(status_code=429, detail="try later")

    @app.post("/avatar")
    async def avatar(file: UploadFile) -> dict[str, Any]:
        return {"size": len(await file.read()), "name": file.filename}

    @app.post("/export")
    async def export(background: BackgroundTasks) -> dict[str, str]:
        background.add_task(secmon.sensitive_read, resource_type="export", resource_id="all")
        return {"status": "queued"}

    @app.get("/broken")
    async def broken() -> None:
        raise RuntimeError("database password=hunter2 rejected")

    return app


def request(app: FastAPI, method: str, url: str, **kwargs: Any) -> httpx.Response:
    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(app=app, client=(PEER, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as client:
            return await client.request(method, url, **kwargs)

    return asyncio.run(run())


BAD_SIGNUP = {"email": "x@", "age": "seventeen", "password": "hunter2"}


def test_validation_failure_names_fields_never_values(
    configured: Pipeline, secmon_events: CapturedEvents
) -> None:
    response = request(make_app(), "POST", "/signup", json=BAD_SIGNUP)
    default = request(make_app(validation_handler=False), "POST", "/signup", json=BAD_SIGNUP)
    assert response.status_code == 422
    assert response.json() == default.json()  # FastAPI's own 422, untouched
    event = secmon_events[0]
    assert event["event_type"] == "input_validation_fail"
    assert event["field"] == "body.email"
    assert event["fields"] == ["body.email", "body.age", "body.password"]
    assert event["reason"] == "string_too_short,int_parsing"
    assert (event["error_count"], event["status"], event["path"]) == (3, 422, "/signup")
    for value in ("x@", "seventeen", "hunter2"):
        assert value not in str(event)
    # The handler's event stands for the 422; the second app's comes from the status alone.
    assert [e["reason"] for e in secmon_events] == ["string_too_short,int_parsing",
                                                     "unprocessable"]


def test_query_validation(configured: Pipeline, secmon_events: CapturedEvents) -> None:
    assert request(make_app(), "GET", "/items?limit=lots").status_code == 422
    [event] = secmon_events
    assert (event["field"], event["reason"]) == ("query.limit", "int_parsing")


def test_own_handler_can_report_too(configured: Pipeline, secmon_events: CapturedEvents) -> None:
    app = make_app(validation_handler=False)

    @app.exception_handler(RequestValidationError)
    async def handler(request: Request, exc: RequestValidationError) -> JSONResponse:
        report_validation_error(exc)
        return JSONResponse({"error": "invalid"}, status_code=400)

    assert request(app, "POST", "/signup", json=BAD_SIGNUP).status_code == 400
    [event] = secmon_events
    assert (event["field"], event["path"]) == ("body.email", "/signup")


@pytest.mark.parametrize(
    ("headers", "status", "reason"),
    [({}, 401, "unauthenticated"), ({"authorization": "Bearer user-token"}, 403, "forbidden")],
)
def test_denying_dependency(
    configured: Pipeline, secmon_events: CapturedEvents, headers: dict[str, str], status: int,
    reason: str,
) -> None:
    assert request(make_app(), "GET", "/admin", headers=headers).status_code == status
    [event] = secmon_events
    assert (event["event_type"], event["reason"], event["route"]) == ("authz_fail", reason,
                                                                      "/admin")
    assert event["source_ip"] == PEER
    assert "user-token" not in str(event)


def test_slowapi_limit_is_in_the_event(configured: Pipeline, secmon_events: CapturedEvents) -> None:
    app = make_app()
    statuses = [request(app, "GET", "/search").status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    [event] = secmon_events
    assert event["event_type"] == "excess_rate_limit_exceeded"
    assert event["limit"] == "2 per 1 minute"
    assert event["scope"].endswith("search")
    assert PEER not in event["scope"]


def test_429_without_a_limiter(configured: Pipeline, secmon_events: CapturedEvents) -> None:
    assert request(make_app(), "GET", "/busy").status_code == 429
    [event] = secmon_events
    assert (event["event_type"], event["reason"]) == ("excess_rate_limit_exceeded", "rate_limited")
    assert "limit" not in event


def test_upload_file(configured: Pipeline, secmon_events: CapturedEvents) -> None:
    response = request(make_app(), "POST", "/avatar",
                       files={"file": ("avatar.jpg", WINDOWS_EXE, "image/jpeg")})
    assert response.json() == {"size": len(WINDOWS_EXE), "name": "avatar.jpg"}
    assert secmon_events.types() == ["upload_complete", "upload_validation"]
    assert secmon_events[1]["filename"] == "avatar.jpg"


def test_background_task_sees_the_request(
    configured: Pipeline, secmon_events: CapturedEvents
) -> None:
    assert request(make_app(), "POST", "/export").status_code == 200
    [event] = secmon_events
    assert (event["event_type"], event["path"], event["source_ip"]) == ("sensitive_read",
                                                                        "/export", PEER)


def test_unhandled_error(configured: Pipeline, secmon_events: CapturedEvents) -> None:
    with pytest.raises(RuntimeError, match="database"):
        request(make_app(), "GET", "/broken")
    [event] = secmon_events
    assert (event["event_type"], event["route"]) == ("secmon_app_exception", "/broken")
    assert "hunter2" not in str(event)

"""The adapter in a process where none of the optional Flask extensions can be imported."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import io, json, sys

    BLOCKED = {"flask_login", "flask_security", "flask_limiter", "flask_wtf"}

    class NotInstalled:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, NotInstalled())

    from flask import Flask, abort, request
    from secmon.flask import SecMon
    from secmon.testing import capture_events

    app = Flask("bare")
    app.config["SECMON_OUTPUTS"] = [{"type": "stderr"}]
    SecMon(app)

    @app.route("/status/<int:code>", methods=["GET", "POST"])
    def status(code):
        abort(code)

    @app.route("/upload", methods=["POST"])
    def upload():
        return str(len(request.files["f"].read()))

    @app.route("/boom")
    def boom():
        raise ValueError("boom")

    client = app.test_client()
    with capture_events() as events:
        for code in (400, 401, 403, 413, 429, 404):
            client.get(f"/status/{code}")
        client.post("/upload", data={"f": (io.BytesIO(b"MZ" + b"0" * 100), "x.jpg")},
                    content_type="multipart/form-data")
        client.get("/boom")
    print(json.dumps({
        "integrations": app.extensions["secmon"].integrations,
        "types": events.types(),
        "imported": sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED),
    }))
    """
)


def test_adapter_works_without_any_optional_extension() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=120, check=False
    )

    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["integrations"] == []
    assert result["imported"] == []
    assert result["types"] == [
        "input_validation_fail",
        "authz_fail",
        "authz_fail",
        "upload_validation",
        "excess_rate_limit_exceeded",
        "upload_complete",
        "upload_validation",
        "secmon_app_exception",
    ]

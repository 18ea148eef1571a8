"""Aikido Zen on secmon's attack and benign corpora, and its cost on a small Flask app.

Run as a separate process by bench_attacks (Zen patches Flask, sqlite3, os and
subprocess for the whole process): ``python -m bench.zen_peer [--quick]`` prints one
JSON object. Zen detects at the sink: it flags user input that changes the SQL
query, shell command, file path or outbound host the application builds from it.
So each corpus value is handed to Zen's detectors inside the sink call a vulnerable
application would make with it; Zen has no detector for XSS, template injection,
log4j lookups or attack-tool User-Agents (its bot blocking is configured from its
cloud service), and those count as not detected.
"""

from __future__ import annotations

import io
import json
import os
import shlex
import socket
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

os.environ.setdefault("AIKIDO_BLOCK", "false")  # detect and report only, as secmon does
os.environ.pop("AIKIDO_TOKEN", None)  # no cloud reporting: nothing leaves the machine


def _values(case: dict[str, Any]) -> list[str]:
    """Every string a request case carries, as Zen's context extracts user input."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, dict):
            for key, item in value.items():
                found.append(str(key))
                walk(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)

    if case.get("query"):
        for name, value in parse_qsl(case["query"], keep_blank_values=True):
            found += [name, value]
    walk(case.get("form"))
    walk(case.get("json"))
    if case.get("body"):
        body = case["body"]
        if case.get("content_type") == "application/json":
            walk(json.loads(body))
        else:
            for name, value in parse_qsl(body.decode(), keep_blank_values=True):
                found += [name, value]
    walk(case.get("headers", {}))
    if case.get("path"):
        found.append(case["path"])
    return [value for value in found if value]


def _resolve(hostname: str) -> list[str]:
    """Addresses for a host without the network: numeric hosts and /etc/hosts names only."""
    if hostname in ("localhost", "ip6-localhost"):
        return ["127.0.0.1", "::1"]
    try:
        infos = socket.getaddrinfo(hostname, 80, proto=socket.IPPROTO_TCP,
                                   flags=socket.AI_NUMERICHOST)
    except (OSError, UnicodeError):
        return []
    return [str(info[4][0]) for info in infos]


def zen_detects(value: str, vulnerable: bool = True) -> set[str]:
    """The attack kinds Zen reports for one user-input value reaching an app's sinks.

    ``vulnerable``: the sinks concatenate the value as it is (what an attack needs to
    succeed); otherwise they escape it as a correct application does (a benign user
    sending the same text to a safe app).
    """
    from aikido_zen.helpers.net.is_private_ip import is_private_ip
    from aikido_zen.helpers.try_parse_url import try_parse_url
    from aikido_zen.vulnerabilities.path_traversal.detect_path_traversal import (
        detect_path_traversal,
    )
    from aikido_zen.vulnerabilities.shell_injection.detect_shell_injection import (
        detect_shell_injection,
    )
    from aikido_zen.vulnerabilities.sql_injection import detect_sql_injection
    from aikido_zen.vulnerabilities.ssrf.find_hostname_in_userinput import (
        find_hostname_in_userinput,
    )
    from aikido_zen.vulnerabilities.ssrf.imds import is_imds_ip_address

    kinds = set()
    if vulnerable:
        queries = [f"SELECT * FROM users WHERE name = '{value}'",
                   f'SELECT * FROM users WHERE name = "{value}"',
                   f"SELECT * FROM users WHERE id = {value}"]
        commands = [f"ping -c 1 {value}", f"ping -c 1 '{value}'"]
    else:
        queries = ["SELECT * FROM users WHERE name = '{}'".format(value.replace("'", "''"))]
        if value.isdigit():
            queries.append(f"SELECT * FROM users WHERE id = {value}")
        commands = [f"ping -c 1 {shlex.quote(value)}"]
    if any(detect_sql_injection(query, value, "mysql") for query in queries):
        kinds.add("sql_injection")
    if any(detect_shell_injection(command, value) for command in commands):
        kinds.add("command_injection")
    if detect_path_traversal(os.path.join("/var/www/files/", value), value,
                             is_url=value.startswith("file:")):
        kinds.add("path_traversal")
    url = try_parse_url(value) if "://" in value else None
    try:
        port = url.port if url is not None else None
    except ValueError:  # a port urllib cannot read: the request would not be made
        url = None
    if url is not None and url.hostname:
        if url.scheme == "file":
            pass  # Zen follows http(s) requests; file:// reads go through its path check
        elif find_hostname_in_userinput(value, [url.hostname], port) and any(
            is_private_ip(address) or is_imds_ip_address(address)
            for address in _resolve(url.hostname)
        ):
            kinds.add("ssrf")
    return kinds


def corpora() -> dict[str, Any]:
    from tests.attacks.benign import requests
    from tests.attacks.payloads import corpus

    found: Counter[str] = Counter()
    total: Counter[str] = Counter()
    for kind, case in corpus():
        total[kind] += 1
        if any(kind in zen_detects(value) for value in _values(case)):
            found[kind] += 1
    # Benign requests with a finding, per sink kind (one request can count for several).
    flagged: Counter[str] = Counter()
    for case in requests():
        kinds: set[str] = set()
        for value in _values(case):
            kinds |= zen_detects(value, vulnerable=False)
        flagged.update(kinds)
    return {"found": dict(found), "total": dict(total), "benign": len(requests()),
            "benign_flagged": dict(flagged)}


def search_app(name: str) -> Any:
    """A small Flask search page that reads ten parameters and runs a parameterized query."""
    from flask import Flask, request

    app = Flask(name)
    database = sqlite3.connect(":memory:", check_same_thread=False)
    database.execute("CREATE TABLE items (name TEXT, price INT)")
    database.executemany("INSERT INTO items VALUES (?, ?)", [("shoe", 20), ("book", 12)])

    @app.route("/search")
    def search() -> str:
        rows = database.execute("SELECT name FROM items WHERE name LIKE ? AND price >= ?",
                                (f"%{request.args['q']}%", request.args["min_price"])).fetchall()
        return ",".join(row[0] for row in rows)

    return app


ENVIRON = {
    "REQUEST_METHOD": "GET", "SCRIPT_NAME": "", "PATH_INFO": "/search",
    "SERVER_NAME": "localhost", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
    "REMOTE_ADDR": "203.0.113.9", "HTTP_HOST": "localhost", "wsgi.url_scheme": "http",
    "wsgi.version": (1, 0), "wsgi.multithread": False, "wsgi.multiprocess": False,
    "wsgi.run_once": False,
}


def per_request_us(app: Any, environ: dict[str, Any], number: int, repeats: int) -> float:
    def start_response(status: str, headers: Any, exc_info: Any = None) -> None:
        return None

    samples = []
    for _ in range(repeats):
        start = time.perf_counter_ns()
        for _ in range(number):
            request = dict(environ)
            request["wsgi.input"] = io.BytesIO()
            request["wsgi.errors"] = io.StringIO()
            body = app(request, start_response)
            for _ in body:
                pass
            close = getattr(body, "close", None)
            if close is not None:
                close()
        samples.append((time.perf_counter_ns() - start) / number / 1000)
    samples.sort()
    return samples[len(samples) // 2]


def overhead(environ: dict[str, Any], quick: bool) -> dict[str, float]:
    """The search request without Zen, then with Zen protecting a fresh app (one process)."""
    number, repeats = (500, 3) if quick else (3000, 7)
    bare = search_app("bare")
    per_request_us(bare, environ, 200, 1)
    bare_us = per_request_us(bare, environ, number, repeats)
    import aikido_zen

    with tempfile.TemporaryDirectory():
        aikido_zen.protect("daemon_disabled")
    protected = search_app("zen")
    per_request_us(protected, environ, 200, 1)
    zen_us = per_request_us(protected, environ, number, repeats)
    return {"bare_us": bare_us, "zen_us": zen_us}


def main() -> int:
    quick = "--quick" in sys.argv
    environ = json.loads(sys.stdin.read()) if not sys.stdin.isatty() else {}
    request = {**ENVIRON, **environ}
    import importlib.metadata

    result = {"version": importlib.metadata.version("aikido-zen"), **corpora(),
              **overhead(request, quick)}
    # Zen logs to stdout too: the result is the last line.
    sys.stdout.write("\n" + json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

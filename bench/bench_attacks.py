"""Attack inspection: cost per request, worst case, throughput, detection and false positives,
and Aikido Zen on the same inputs and the same small app (in its own process)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode

from tests.attacks.benign import requests
from tests.attacks.payloads import corpus

from secmon.attacks import Inspector
from secmon.redact import Redactor

from .common import Result, interleaved_ns, per_call_ns

ROOT = Path(__file__).resolve().parent.parent
USER_AGENT = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/126.0.0.0 Safari/537.36")
HEADERS = {"user-agent": USER_AGENT, "referer": "https://shop.example.com/search?q=shoes",
           "cookie": "sessionid=8f3b2c; csrftoken=Zk91x", "x-forwarded-for": "203.0.113.7"}
# A search page as shops send it: ten parameters.
PARAMS = {"q": "running shoes", "page": "2", "sort": "price-asc", "per_page": "24",
          "lang": "en-US", "utm_source": "newsletter", "utm_medium": "email",
          "utm_campaign": "spring_sale", "min_price": "10", "category": "shoes"}
QUERY = urlencode(PARAMS)
# The same with what real users type: apostrophes, quotes, an URL, an email.
MIXED_QUERY = urlencode({**PARAMS, "q": "O'Brien \"rock 'n' roll\" (live)",
                         "next": "https://shop.example.com/cart?x=1",
                         "email": "jane.o'neil@example.com"})
ADVERSARIAL = ["'", "<a", "${", "../", "%25", "{{", "`", "\\", "./", "${a:", "'||'", "(", "$(",
               "{%", ". ", "a ", "..;/", "http://1."]


def _inspect(inspector: Inspector, case: dict[str, Any]) -> list[Any]:
    case = dict(case)
    headers = case.pop("headers", {})
    return inspector.inspect(header=headers.get, **case)


def rates(inspector: Inspector) -> tuple[float, int, float, int]:
    """(detection rate, attack payloads, false-positive rate, benign requests)."""
    attacks = corpus()
    found = sum(any(f.type == kind for f in _inspect(inspector, case)) for kind, case in attacks)
    benign = requests()
    flagged = sum(bool(_inspect(inspector, case)) for case in benign)
    return found / len(attacks), len(attacks), flagged / len(benign), len(benign)


def worst_case_ms(inspector: Inspector, quick: bool) -> float:
    """The slowest request whose every part carries 1 MB of a pattern-hostile repetition."""
    worst = 0.0
    for unit in ADVERSARIAL[:6] if quick else ADVERSARIAL:
        payload = unit * (1_000_000 // len(unit))
        start = time.perf_counter()
        inspector.inspect(path="/" + payload, query="q=" + quote(payload),
                          header={"user-agent": payload, "referer": payload}.get,
                          json={"a": payload}, body=payload.encode(), content_type="text/plain")
        worst = max(worst, (time.perf_counter() - start) * 1000)
    return worst


def flask_overhead(inspector: Inspector, number: int, repeats: int) -> dict[str, float]:
    """The zen_peer search app, bare and with secmon's inspection in a WSGI wrapper."""
    from bench.zen_peer import ENVIRON, search_app

    bare = search_app("bare")
    inspected = search_app("inspected")
    wsgi_app = inspected.wsgi_app

    def inspecting(environ: dict[str, Any], start_response: Any) -> Any:
        inspector.inspect(path=environ["PATH_INFO"], query=environ.get("QUERY_STRING"),
                          header=lambda name: environ.get(
                              "HTTP_" + name.upper().replace("-", "_")))
        return wsgi_app(environ, start_response)

    inspected.wsgi_app = inspecting  # type: ignore[method-assign]
    environ = {**ENVIRON, "QUERY_STRING": QUERY, "HTTP_USER_AGENT": USER_AGENT,
               "HTTP_REFERER": HEADERS["referer"], "HTTP_COOKIE": HEADERS["cookie"]}

    def call(app: Any) -> Any:
        def once() -> None:
            request = dict(environ)
            request["wsgi.input"] = io.BytesIO()
            request["wsgi.errors"] = io.StringIO()
            for _ in app(request, lambda status, headers, exc_info=None: None):
                pass

        return once

    timings = interleaved_ns({"bare": call(bare), "inspected": call(inspected)}, number, repeats)
    return {name: ns / 1000 for name, ns in timings.items()}


def zen(quick: bool) -> dict[str, Any] | str:
    """What bench/zen_peer.py measures, or why it could not run."""
    try:
        import aikido_zen  # noqa: F401
    except ImportError as exc:
        return f"aikido-zen is not installed ({exc})"
    environ = json.dumps({"QUERY_STRING": QUERY, "HTTP_USER_AGENT": USER_AGENT,
                          "HTTP_REFERER": HEADERS["referer"], "HTTP_COOKIE": HEADERS["cookie"]})
    command = [sys.executable, "-m", "bench.zen_peer", *(["--quick"] if quick else [])]
    done = subprocess.run(command, input=environ, capture_output=True, text=True, cwd=ROOT,
                          timeout=900, env={**os.environ, "PYTHONPATH": str(ROOT)})
    if done.returncode != 0:
        return f"bench/zen_peer.py failed: {done.stderr.strip().splitlines()[-1:]}"
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def run(quick: bool = False) -> list[Result]:
    inspector = Inspector(Redactor())
    number = 2_000 if quick else 20_000
    for _ in range(200):  # warm the header cache as steady traffic does
        inspector.inspect(path="/search", query=QUERY, header=HEADERS.get)
    timings = interleaved_ns({
        "typical": lambda: inspector.inspect(path="/search", query=QUERY, header=HEADERS.get),
        "mixed": lambda: inspector.inspect(path="/search", query=MIXED_QUERY, header=HEADERS.get),
        "parse_qsl": lambda: parse_qsl(QUERY, keep_blank_values=True),
    }, number, repeats=5 if quick else 9)
    attack_query = urlencode({**PARAMS, "q": "1' UNION SELECT username, password FROM users--"})
    attack_ns = per_call_ns(lambda: inspector.inspect(query=attack_query, header=HEADERS.get),
                            number // 4, 5)
    benign = requests()
    start = time.perf_counter()
    for case in benign:
        _inspect(inspector, case)
    corpus_rate = len(benign) / (time.perf_counter() - start)
    detection, attacks, false_rate, benign_count = rates(inspector)
    results = [
        Result("attacks", "inspect: typical 10-parameter search request + headers",
               timings["typical"] / 1000, "us", "parse_qsl(query)", timings["parse_qsl"] / 1000,
               target="<= 20 us", better="lower"),
        Result("attacks", "inspect: 10 parameters with quotes, URL, email",
               timings["mixed"] / 1000, "us", "parse_qsl(query)", timings["parse_qsl"] / 1000,
               better="lower"),
        Result("attacks", "inspect: request carrying a UNION SELECT", attack_ns / 1000, "us",
               better="lower"),
        Result("attacks", "inspect: worst case, 1 MB hostile text in every part",
               worst_case_ms(inspector, quick), "ms", target="bounded (no ReDoS)", better="lower"),
        Result("attacks", f"throughput over the {benign_count} benign corpus requests",
               corpus_rate, "requests/s"),
        Result("attacks", f"detection rate, {attacks} attack payloads", detection * 100, "%",
               target=">= 95 %"),
        Result("attacks", f"false-positive rate, {benign_count} benign requests",
               false_rate * 100, "%", target="<= 0.5 %", better="lower"),
    ]
    overhead = flask_overhead(inspector, number // 10, 5 if quick else 9)
    results.append(Result("attacks", "Flask search request with secmon inspection (WSGI)",
                          overhead["inspected"], "us/request", "same app without it",
                          overhead["bare"], better="lower"))
    peer = zen(quick)
    if isinstance(peer, str):
        print(f"bench_attacks: no Zen comparison: {peer}", file=sys.stderr)
        return results
    found, total = Counter(peer["found"]), Counter(peer["total"])
    sinks = ("sql_injection", "command_injection", "path_traversal", "ssrf")
    version = peer["version"]
    results += [
        Result("attacks", f"Zen {version}: Flask search request protected (own process)",
               peer["zen_us"], "us/request", "same app without Zen", peer["bare_us"],
               better="lower"),
        Result("attacks", f"Zen {version}: payloads caught in vulnerable sinks (all kinds)",
               sum(found.values()) / sum(total.values()) * 100, "%", "secmon, same payloads",
               detection * 100),
        Result("attacks", f"Zen {version}: payloads caught, SQL/shell/path/SSRF only",
               sum(found[k] for k in sinks) / sum(total[k] for k in sinks) * 100, "%"),
        Result("attacks", f"Zen {version}: benign requests flagged in safely built SQL sinks",
               peer["benign_flagged"].get("sql_injection", 0) / peer["benign"] * 100, "%",
               better="lower"),
        Result("attacks", f"Zen {version}: benign requests flagged in shell sinks (shlex.quote)",
               peer["benign_flagged"].get("command_injection", 0) / peer["benign"] * 100, "%",
               better="lower"),
    ]
    return results


if __name__ == "__main__":
    for result in run(quick="--quick" in sys.argv):
        base = f" (baseline {result.baseline}: {result.baseline_value:,.2f})" if (
            result.baseline_value) else ""
        print(f"{result.name}: {result.value:,.2f} {result.unit}{base}")

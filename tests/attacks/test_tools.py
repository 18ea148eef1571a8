"""Attack tools by User-Agent, and scanners' callback hosts in any value."""

from __future__ import annotations

import pytest

from secmon.attacks import tools


@pytest.mark.parametrize(("agent", "tool"), [
    ("sqlmap/1.7.2#stable (https://sqlmap.org)", "sqlmap"),
    ("Mozilla/5.00 (Nikto/2.1.6) (Evasions:None) (Test:000001)", "nikto"),
    ("Mozilla/5.0 (compatible; Nmap Scripting Engine; https://nmap.org/book/nse.html)", "nmap"),
    ("Fuzz Faster U Fool v2.1.0-dev", "ffuf"),
    ("WPScan v3.8.22 (https://wpscan.com/wordpress-security-scanner)", "wpscan"),
])
def test_tools(agent: str, tool: str) -> None:
    hit = tools.detect_user_agent(agent.lower())
    assert hit is not None and hit.rule_id == f"tool.{tool}"


@pytest.mark.parametrize("agent", [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36", "curl/8.5.0", "python-requests/2.31.0",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
])
def test_clients_that_are_not_attack_tools(agent: str) -> None:
    assert tools.detect_user_agent(agent.lower()) is None


def test_callback_domains() -> None:
    hit = tools.detect_callback("http://c8abc123.oast.fun/x")
    assert hit is not None and hit.rule_id == "tool.callback_domain"
    assert tools.detect_callback("https://www.example.com/") is None

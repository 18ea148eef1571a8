"""Attack tools and scanners: by the User-Agent they announce, or the callback hosts they plant."""

from __future__ import annotations

import re

from .findings import Hit

# Tool names as they appear in their default User-Agent strings. Generic HTTP clients
# (curl, python-requests, Go-http-client) are not attack tools and are not listed.
_TOOLS = (
    ("sqlmap", r"sqlmap"), ("nikto", r"nikto"), ("nuclei", r"nuclei"),
    ("nmap", r"nmap scripting engine|\bnmap\b"), ("masscan", r"masscan"),
    ("zgrab", r"zgrab"), ("wpscan", r"wpscan"), ("dirbuster", r"dirbuster"),
    ("gobuster", r"gobuster"), ("dirb", r"\bdirb\b"), ("ffuf", r"fuzz faster u fool|\bffuf\b"),
    ("feroxbuster", r"feroxbuster"), ("wfuzz", r"wfuzz"), ("acunetix", r"acunetix"),
    ("netsparker", r"netsparker|invicti"), ("appscan", r"appscan"),
    ("burp", r"burp\s?suite|burpcollaborator"),
    ("zap", r"\bzaproxy\b|owasp[ _]zap|\bzap/[0-9]"), ("openvas", r"openvas"),
    ("nessus", r"nessus"), ("w3af", r"w3af"), ("arachni", r"arachni"), ("skipfish", r"skipfish"),
    ("havij", r"havij"), ("commix", r"commix"), ("xsstrike", r"xsstrike"),
    ("whatweb", r"whatweb"), ("jaeles", r"jaeles"), ("qualys", r"qualys"),
    ("hydra", r"\bhydra\b"), ("medusa", r"\bmedusa\b"), ("metasploit", r"metasploit|\bmsf\b"),
    ("webinspect", r"webinspect"), ("paros", r"\bparos\b"), ("zmeu", r"zmeu"),
    ("morfeus", r"morfeus"), ("jorgee", r"jorgee"), ("dotdotpwn", r"dotdotpwn"),
    ("brutus", r"\bbrutus\b"), ("grabber", r"\bgrabber\b"), ("vega", r"\bvega/"),
    ("sqlninja", r"sqlninja"), ("bsqlbf", r"bsqlbf"), ("fimap", r"fimap"),
    ("joomscan", r"joomscan"), ("droopescan", r"droopescan"), ("cmsmap", r"cmsmap"),
    ("wapiti", r"wapiti"), ("httpx", r"projectdiscovery"), ("interactsh", r"interactsh"),
)
_TOOL = re.compile("|".join(f"(?P<{name}>{pattern})" for name, pattern in _TOOLS))
# Out-of-band callback domains scanners plant in payloads to see them fetched or resolved.
_CALLBACK = re.compile(
    r"[a-z0-9\-]{3,64}\.(?:oast\.(?:pro|live|site|online|fun|me)|oastify\.com"
    r"|burpcollaborator\.net|interact\.sh|interactsh\.com|dnslog\.cn|ceye\.io"
    r"|canarytokens\.com|requestbin\.net|xss\.ht|bxss\.me|dnslog\.link)\b"
)


# Real User-Agents are far shorter; tools put their name first or near it.
_UA_CHARS = 512


def detect_user_agent(user_agent: str) -> Hit | None:
    """The attack tool a User-Agent (lowercase) names, or None."""
    found = _TOOL.search(user_agent[:_UA_CHARS])
    if found is None:
        return None
    return Hit(f"tool.{found.lastgroup}", "high", found.start(), found.end())


def detect_callback(text: str) -> Hit | None:
    """An out-of-band callback host of a scanner in any value (lowercase), or None."""
    if "." not in text:
        return None
    found = _CALLBACK.search(text)
    if found is None:
        return None
    return Hit("tool.callback_domain", "high", found.start(), found.end())

"""Server-side template injection and log4shell-style lookups.

Placeholders such as ``{{ first_name }}`` are what template fields hold and are
left alone; expressions are not: arithmetic probes (``{{7*7}}``, ``${7*'7'}``),
walks through Python object internals (``__class__.__mro__``), Java runtime
access (``T(java.lang.Runtime)``), template tags that import or execute.
"""

from __future__ import annotations

import re

from .findings import Hit

# An expression inside any common template delimiter, up to its closing delimiter.
_EXPRESSION = re.compile(
    r"(?:\{\{|\$\{|#\{|\*\{|@\{|~\{|<%=?|\{%|\$\{\{|\{#|\[\[|\{\$|\{php\}|<#)"
    r"(?P<body>[^{}]{0,400}?)(?:\}\}|\}|%>|%\}|#\}|\]\]|>|$)"
)
_ARITHMETIC = re.compile(r"^\s*[-+]?[0-9]+\s*[*+/\-]\s*['\"]?[0-9]+['\"]?\s*$")
_DANGEROUS_BODY = re.compile(
    r"__[a-z]{3,20}__|\b(?:config|self|request|lipsum|cycler|joiner|namespace|url_for"
    r"|get_flashed_messages|range|session|g)\s*(?:\.|\|)\s*(?:items|__|_\w+|attr|application"
    r"|environ|globals|init)|\|\s*attr\s*\(|\bimport\s+os\b|\bos\.(?:popen|system)"
    r"|\bt\s*\(\s*java\.|java\.lang\.|runtime\s*\.\s*getruntime|\.getclass\s*\(|\bexec\s*\("
    r"|freemarker\.template|\.forname\s*\(|_self\s*\.\s*env|registerundefinedfiltercallback"
    r"|\|\s*filter\s*\(|\bsystem\s*\(|\bpopen\b|\bsubprocess\b|\bconstructor\s*\.\s*constructor"
    r"|\bprocess\s*\.\s*(?:mainmodule|binding|env)|\brequire\s*\(|\$smarty\.|\bsmarty\b"
    r"|\bphpinfo\b|\bfile_get_contents\b|\bnew\s*\(\s*\)|\bexecute\s*\("
)
# Objects whose dump alone leaks settings or request internals.
_GLOBALS = frozenset({"config", "settings", "self", "_self", "request.environ", "app.config",
                      "this", "request.application"})
# Internals walks need no delimiter to be unmistakable.
_OBJECT_WALK = re.compile(
    r"\.__(?:class|mro|subclasses|globals|builtins|bases?|init|dict|getattribute)__\s*[.\[(]"
)
_DIRECTIVE = re.compile(
    r"\{%\s*(?:import|include|extends|from|set|for|if|debug|load)\b[^%]{0,200}(?:__|os\b|"
    r"popen|system|config|request)"
    r"|<#assign\b|#set\s*\(\s*\$|\{php\}|\{\{\s*#with\b|\{\{\s*#each\s+\(|#\{\s*%"
    r"|\$\{\s*@[a-z]|%\{\s*\(?#"
)


def detect(text: str) -> Hit | None:
    """The first template injection sign in ``text`` (lowercase), or None."""
    found = _DIRECTIVE.search(text)
    if found is not None:
        return Hit("ssti.directive", "high", found.start(), found.end())
    for expression in _EXPRESSION.finditer(text):
        body = expression["body"]
        if _DANGEROUS_BODY.search(body) is not None:
            return Hit("ssti.code", "high", expression.start(), expression.end())
        if body.strip() in _GLOBALS:
            return Hit("ssti.globals_probe", "medium", expression.start(), expression.end())
        if _ARITHMETIC.match(body) is not None:
            return Hit("ssti.arithmetic_probe", "medium", expression.start(), expression.end())
    found = _OBJECT_WALK.search(text)
    if found is not None:
        return Hit("ssti.object_walk", "high", max(0, found.start() - 20), found.end())
    return None


# ${jndi:ldap://...}, also written with nested lookups that evaluate to the same letters:
# ${${lower:j}ndi:...}, ${${::-j}${::-n}di:...}, ${${env:NOPE:-j}ndi:...}.
_INNER_LOOKUP = re.compile(r"\$\{(?P<body>[^${}]{0,80})\}")
_JNDI = re.compile(r"\$\{\s*jndi\s*:|\$\{\s*(?:ldap|ldaps|rmi|dns|iiop|corba|nds|nis)\s*:")
_SENSITIVE_LOOKUP = re.compile(
    r"\$\{\s*(?:env|sys|java|main|bundle|docker|k8s|spring|ctx|date|upper|lower|log4j|"
    r"web|jvmrunargs|base64|sd|marker|map|event)\s*:[^}]{0,80}\}"
)


def _lookup_value(match: re.Match[str]) -> str:
    body = match["body"]
    if ":-" in body:
        return body.rsplit(":-", 1)[1]
    if ":" in body:
        return body.split(":", 1)[1].strip("'\"")
    return body


def detect_jndi(text: str) -> Hit | None:
    """A log4j lookup (``${jndi:``), however it is nested or cased (``text`` lowercase)."""
    found = _JNDI.search(text)
    if found is not None:
        return Hit("jndi.lookup", "high", found.start(), found.end() + 40)
    collapsed = text
    for _ in range(8):  # each round resolves the innermost lookups
        if "${" not in collapsed:
            break
        reduced = _INNER_LOOKUP.sub(_lookup_value, collapsed)
        if reduced == collapsed:
            break
        collapsed = reduced
        if _JNDI.search("${" + collapsed.split("${", 1)[-1]) or "jndi:" in collapsed:
            start = text.find("${")
            return Hit("jndi.obfuscated_lookup", "high", max(start, 0), max(start, 0) + 80)
    found = _SENSITIVE_LOOKUP.search(text)
    if found is not None:
        return Hit("jndi.lookup", "medium", found.start(), found.end())
    return None

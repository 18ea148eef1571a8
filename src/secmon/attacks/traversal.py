"""Path traversal and file inclusion: climbing out of a directory, or naming system files."""

from __future__ import annotations

import re

from .findings import Hit

# Files and directories worth reading on a server; a climb that ends here is no accident.
_TARGET = (
    r"(?:etc/(?:passwd|shadow|group|hosts|issue|motd|crontab|sudoers|fstab|hostname|"
    r"resolv\.conf|mysql|apache2?|nginx|httpd|php|ssh|ssl|environment|profile)"
    r"|proc/(?:self|[0-9]+)/|var/(?:log|www|lib|run|mail|spool)/|usr/(?:local/)?(?:etc|bin|lib)"
    r"|root/|home/[^/]{1,32}/\.|windows/|winnt/|win\.ini|system\.ini|boot\.ini|system32"
    r"|inetpub|desktop\.ini|autoexec\.bat|localstart\.asp|global\.asa|web-inf/|meta-inf/"
    r"|\.htaccess|\.htpasswd|\.env\b|\.git/|\.svn/|\.ssh/|id_rsa|id_dsa|authorized_keys"
    r"|\.bash_history|\.aws/|web\.config|wp-config\.php|config\.php|conf/server\.xml"
    r"|settings\.py|application\.properties|database\.yml|bin/(?:ba)?sh\b|dev/(?:tcp|null)"
    r")"
)
# A climb: ".." (or longer runs, "....//") followed by a separator or the end.
_CLIMB = re.compile(r"(?:^|[/=:\s])\.{2,}(?:;[^/]{0,8})?(?:/+|$)")
# Each part of these patterns starts with what the previous one cannot hold, so a failed
# match gives back nothing to retry: they run in linear time.
_CLIMB_TARGET = re.compile(
    rf"\.{{2,}}(?:;[^/]{{0,8}})?/+(?:[^/\s.][^/\s]{{0,63}}/+){{0,3}}?{_TARGET}"
)
# Only shells expand "~", so "~/..." is no file name an application would open.
_ABSOLUTE = re.compile(rf"^\s*(?:file:/*)?(?:[a-z]:/+|\.?/+)(?:\.{{1,2}}/+)*{_TARGET}")
# In a request path, a system file after "//" or "/./" was put there on purpose.
_PATH_TARGET = re.compile(rf"(?<![/.])/(?:\.?/)+{_TARGET}")
_WRAPPER = re.compile(
    r"^\s*(?:php|phar|zip|expect|glob|zlib|compress\.zlib|compress\.bzip2|ogg|rar|ssh2"
    r"|data|jar|netdoc)://|^\s*php://(?:filter|input|stdin|memory|fd)"
)
_NULL_SUFFIX = re.compile(r"\x00(?:\.[a-z0-9]{1,6}|\s*$|/)")


def _normalize(text: str) -> str:
    return text.replace("\\", "/") if "\\" in text else text


def detect(text: str) -> Hit | None:
    """The first traversal or inclusion sign in a parameter value (lowercase), or None."""
    text = _normalize(text)
    if ".." in text:
        found = _CLIMB_TARGET.search(text)
        if found is not None:
            return Hit("traversal.target", "high", found.start(), found.end())
        climbs = list(_CLIMB.finditer(text, 0, 4096))
        if len(climbs) >= 3:
            return Hit("traversal.deep", "medium", climbs[0].start(), climbs[-1].end())
    if "/" in text[:12] or ":" in text[:12]:
        found = _ABSOLUTE.search(text)
        if found is not None:
            return Hit("traversal.system_file", "high", found.start(), found.end())
    if "://" in text[:20]:
        found = _WRAPPER.search(text)
        if found is not None:
            return Hit("traversal.stream_wrapper", "high", found.start(), found.end())
    if "\x00" in text:
        found = _NULL_SUFFIX.search(text)
        if found is not None:
            return Hit("traversal.null_byte", "medium", max(0, found.start() - 20), found.end())
    return None


def detect_path(path: str) -> Hit | None:
    """Traversal in the request path: browsers resolve "..", so one left was sent on purpose."""
    path = _normalize(path.lower())
    if ".." in path:
        found = _CLIMB_TARGET.search(path)
        if found is not None:
            return Hit("traversal.target", "high", found.start(), found.end())
        found = re.search(r"/\.{2,}(?:;[^/]{0,8})?(?:/|$)", path)
        if found is not None:
            return Hit("traversal.path", "high", found.start(), found.end())
    if "//" in path or "/./" in path:
        found = _PATH_TARGET.search(path)
        if found is not None:
            return Hit("traversal.target", "high", found.start(), found.end())
    if "\x00" in path:
        return Hit("traversal.null_byte", "medium", max(0, path.index("\x00") - 20), len(path))
    return None

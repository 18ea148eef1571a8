"""OS command injection: a shell separator or substitution followed by a command.

Words that are also English ("cat", "type", "ping", "sleep") count only when they
look like a command line (an option, a path, a number, nothing, or another
separator follows), so "Tom & Jerry" or "salt; pepper" are not commands.
"""

from __future__ import annotations

import re

from .decode import mentions
from .findings import Hit

# Unmistakable commands: any of them after a separator is an attempt.
_DISTINCT = (
    r"whoami|uname|ifconfig|ipconfig|netstat|nslookup|wget|curl|ncat|netcat|nc\s+-[a-z]+"
    r"|bash|zsh|ksh|csh|dash|powershell|pwsh|cmd(?:\.exe)?\s*/c|certutil|bitsadmin|telnet"
    r"|python[23]?\s+-c|perl\s+-e|ruby\s+-e|php\s+-r|node\s+-e|busybox|systeminfo|sysinfo"
    r"|tasklist|reg\s+(?:add|query|delete)|net\s+(?:user|view|localgroup|share|group)\b|netsh"
    r"|mkfifo|socat|useradd|crontab|printenv|base64\s+-d|xxd|chmod\s+[+0-7]"
    r"|/dev/tcp/|getent|traceroute|hostname|phpinfo"
)
# Commands that are also words: they need a command-line shape after them.
_AMBIGUOUS = (
    r"id|ls|cat|dir|type|echo|ping|sleep|timeout|pwd|env|set|find|more|head|tail|kill|ps"
    r"|rm|cp|mv|touch|sh|dig|host|route|arp|who|last|history|grep|awk|sed|wc|tac|nl|less"
)
# Backticks and $( are substitutions, judged with their context below.
_SEPARATOR = r"[;|&\n\r]"
_COMMAND = re.compile(
    rf"{_SEPARATOR}\s*(?:sudo\s+)?(?:(?:/usr)?/s?bin/[a-z]|(?:{_DISTINCT})(?![a-z0-9_])"
    rf"|(?:{_AMBIGUOUS})(?=\s*(?:$|[;|&`)\n\r]|-[a-z0-9]|[/\\.~$%]|[a-z]:[/\\]"
    r"|[0-9]+\s*(?:$|[;|&`)\n]))))"
)
# A value that is a whole command line (no separator) is pasted into support forms and
# forums too; it counts when it runs a shell binary, reads system files, or is a lone
# reconnaissance command (a pipe into a shell is a chained command above).
_LEADING = re.compile(
    r"^\s*(?:(?:/usr)?/s?bin/[a-z]+"
    r"|(?:cat|ls|dir|type|head|tail|more|less)\s+(?:-[a-z]+\s+)?(?:/etc/|/proc/|/var/log/"
    r"|[a-z]:[/\\]windows|[a-z]:[/\\]boot\.ini|~/\.ssh)"
    r"|(?:whoami|uname|ifconfig|ipconfig|netstat|systeminfo|tasklist|phpinfo)(?:\s+-[a-z]+)?\s*$)"
)
# Backticks after prose are Markdown code spans; after a separator or alone they run.
_SUBSTITUTION = re.compile(
    rf"(?:^|[;|&=\"'(])\s*`\s*(?:(?:{_DISTINCT}|{_AMBIGUOUS})(?![a-z0-9_])|/)[^`]{{0,80}}`"
    rf"|\$\(\s*`?\s*(?:(?:{_DISTINCT}|{_AMBIGUOUS})(?![a-z0-9_])|/)"
)
_SHELL_TRICKS = re.compile(
    rf"\$\{{?ifs\}}?|\(\)\s*\{{\s*:\s*;\s*\}}\s*;|\{{(?:{_AMBIGUOUS}|{_DISTINCT}),[^}}\s]{{1,60}}\}}"
    r"|\b(?:bash|sh)\s+-i\b|\bnc(?:\s+[^\s;|&]{1,16}){0,4}?\s+-e\s|/dev/tcp/[0-9]"
)
_CODE_EXEC = re.compile(
    r"<\?php|(?:^|[;|&'\"({\s])(?:system|passthru|shell_exec|popen|proc_open|pcntl_exec|exec|"
    r"phpinfo)\s*\(\s*(?:['\"$`)]|[a-z_]+\s*\()|\$_(?:get|post|request|server)\["
)


_SEPARATORS = re.compile(r"[;|&\n\r`$]")
# Substrings without which a pattern cannot match: `in` finds them far faster than the
# regular expression engine tries an alternation at every position.
_TRICK_MARKS = ("ifs", "()", "{", " -i", "nc", "/dev/tcp/")
_CODE_MARKS = ("<?", "$_", "system", "passthru", "shell_exec", "popen", "proc_open", "exec",
               "phpinfo")


def detect(text: str) -> Hit | None:
    """The first command injection sign in ``text`` (lowercase), or None."""
    if mentions(text, _TRICK_MARKS):
        found = _SHELL_TRICKS.search(text)
        if found is not None:
            return Hit("cmdi.shell_trick", "high", found.start(), found.end())
    if "`" in text or "$(" in text:
        found = _SUBSTITUTION.search(text)
        if found is not None:
            return Hit("cmdi.substitution", "high", found.start(), found.end())
    if _SEPARATORS.search(text) is not None:
        found = _COMMAND.search(text)
        if found is not None:
            return Hit("cmdi.chained_command", "high", found.start(), found.end())
    found = _LEADING.search(text)
    if found is not None:
        return Hit("cmdi.command_line", "medium", found.start(), found.end())
    if mentions(text, _CODE_MARKS):
        found = _CODE_EXEC.search(text)
        if found is not None:
            return Hit("cmdi.code_exec", "high", found.start(), found.end())
    return None

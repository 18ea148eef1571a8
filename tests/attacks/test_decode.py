"""Decoding what attackers encode, a bounded number of rounds."""

from __future__ import annotations

from secmon.attacks import decode


def test_rounds_stop_when_nothing_changes() -> None:
    assert decode.decodings("plain") == ["plain"]
    assert decode.decodings("%252e%252e%252f") == ["%252e%252e%252f", "%2e%2e%2f", "../"]
    assert len(decode.decodings("%2525252525")) == 1 + decode.DECODE_ROUNDS


def test_overlong_and_iis_forms() -> None:
    assert decode.percent_decode("..%c0%af..%C0%AF") == "../../"
    assert decode.percent_decode("%u002e%u002e%u2215") == "..\u2215"
    assert decode.percent_decode("%c1%9c") == "\\"


def test_scheme_text_reads_like_a_browser() -> None:
    assert decode.scheme_text("&#106;ava\tScript&colon;") == "javascript:"
    assert decode.unescape_entities("no entities & such") == "no entities & such"

"""A strict CEF:0 reader for the tests: seven escaped header fields, then key=value pairs."""

from __future__ import annotations

_HEADER_ESCAPES = {"\\": "\\", "|": "|", "n": "\n", "r": "\r"}
_VALUE_ESCAPES = {"\\": "\\", "=": "=", "n": "\n", "r": "\r"}


class CEFError(ValueError):
    pass


def parse(line: str) -> tuple[list[str], dict[str, str]]:
    """(header fields, extension) of one CEF record; raises CEFError on anything malformed."""
    if "\n" in line or "\r" in line:
        raise CEFError("a record must be one line")
    header: list[str] = []
    current: list[str] = []
    index = 0
    while len(header) < 7:
        if index >= len(line):
            raise CEFError(f"only {len(header)} header fields")
        char = line[index]
        if char == "\\":
            escaped = line[index + 1 : index + 2]
            if escaped not in _HEADER_ESCAPES:
                raise CEFError(f"bad header escape \\{escaped} at {index}")
            current.append(_HEADER_ESCAPES[escaped])
            index += 2
        elif char == "|":
            header.append("".join(current))
            current = []
            index += 1
        else:
            current.append(char)
            index += 1
    if not header[0].startswith("CEF:"):
        raise CEFError("missing CEF: prefix")
    return header, parse_extension(line[index:])


def parse_extension(extension: str) -> dict[str, str]:
    keys: list[tuple[int, int]] = []  # (key start, index of its '=')
    index = 0
    while index < len(extension):
        char = extension[index]
        if char == "\\":
            index += 2
            continue
        if char == "=":
            start = index
            while start > 0 and (extension[start - 1].isascii() and (
                extension[start - 1].isalnum() or extension[start - 1] == "_"
            )):
                start -= 1
            if start == index or (start > 0 and extension[start - 1] != " "):
                raise CEFError(f"unescaped '=' inside a value at {index}")
            keys.append((start, index))
        index += 1
    if extension and not keys:
        raise CEFError("extension without key=value pairs")
    if keys and keys[0][0] != 0:
        raise CEFError("text before the first key")
    result: dict[str, str] = {}
    for number, (start, equals) in enumerate(keys):
        end = keys[number + 1][0] - 1 if number + 1 < len(keys) else len(extension)
        key = extension[start:equals]
        if key in result:
            raise CEFError(f"duplicate key {key}")
        result[key] = _unescape(extension[equals + 1 : end])
    return result


def _unescape(raw: str) -> str:
    out: list[str] = []
    index = 0
    while index < len(raw):
        char = raw[index]
        if char == "\\":
            escaped = raw[index + 1 : index + 2]
            if escaped not in _VALUE_ESCAPES:
                raise CEFError(f"bad value escape \\{escaped}")
            out.append(_VALUE_ESCAPES[escaped])
            index += 2
        else:
            out.append(char)
            index += 1
    return "".join(out)

"""A strict RFC 5424 message reader and RFC 6587 octet-counting deframer for the tests."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_HEADER = re.compile(
    rb"^<(?P<pri>\d{1,3})>1 (?P<timestamp>\S+) (?P<hostname>\S+) (?P<app_name>\S+) "
    rb"(?P<procid>\S+) (?P<msgid>\S+) "
)
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,6})?(Z|[+-]\d{2}:\d{2})$")
_SD_NAME = re.compile(rb'[\x21-\x7e]{1,32}')


class SyslogError(ValueError):
    pass


@dataclass
class Message:
    facility: int
    severity: int
    timestamp: str
    hostname: str
    app_name: str
    procid: str
    msgid: str
    structured_data: list[tuple[str, list[tuple[str, str]]]] = field(default_factory=list)
    msg: bytes = b""

    def params(self, sd_id: str) -> dict[str, str]:
        for element_id, params in self.structured_data:
            if element_id == sd_id:
                return dict(params)
        raise KeyError(sd_id)


def parse(data: bytes) -> Message:
    match = _HEADER.match(data)
    if match is None:
        raise SyslogError(f"not an RFC 5424 header: {data[:80]!r}")
    pri = int(match["pri"])
    if pri > 191:
        raise SyslogError(f"PRI {pri} out of range")
    fields = [match[name].decode("ascii") for name in
              ("timestamp", "hostname", "app_name", "procid", "msgid")]
    if not _TIMESTAMP.match(fields[0]):
        raise SyslogError(f"bad TIMESTAMP {fields[0]!r}")
    for value, limit in zip(fields[1:], (255, 48, 128, 32), strict=True):
        if len(value) > limit:
            raise SyslogError(f"header field {value!r} longer than {limit}")
    message = Message(pri // 8, pri % 8, *fields)
    rest = data[match.end():]
    if rest.startswith(b"-"):
        rest = rest[1:]
    else:
        rest = _structured_data(rest, message.structured_data)
    if rest:
        if not rest.startswith(b" "):
            raise SyslogError("MSG must follow SD after a space")
        message.msg = rest[1:]
    return message


def _structured_data(data: bytes, out: list[tuple[str, list[tuple[str, str]]]]) -> bytes:
    if not data.startswith(b"["):
        raise SyslogError("expected '-' or structured data")
    while data.startswith(b"["):
        end = min(i for i in (data.find(b" ", 1), data.find(b"]", 1), len(data)) if i >= 0)
        sd_id = data[1:end]
        if not _SD_NAME.fullmatch(sd_id) or re.search(rb'[="]', sd_id):
            raise SyslogError(f"bad SD-ID {sd_id!r}")
        index = end
        params: list[tuple[str, str]] = []
        while data[index : index + 1] == b" ":
            equals = data.index(b"=", index)
            name = data[index + 1 : equals]
            if not _SD_NAME.fullmatch(name) or re.search(rb'[=\]"]', name):
                raise SyslogError(f"bad PARAM-NAME {name!r}")
            if data[equals + 1 : equals + 2] != b'"':
                raise SyslogError("PARAM-VALUE must be quoted")
            index = equals + 2
            value = bytearray()
            while True:
                char = data[index : index + 1]
                if not char:
                    raise SyslogError("unterminated PARAM-VALUE")
                if char == b"\\" and data[index + 1 : index + 2] in (b'"', b"\\", b"]"):
                    value += data[index + 1 : index + 2]
                    index += 2
                elif char == b'"':
                    index += 1
                    break
                elif char == b"]":
                    raise SyslogError("unescaped ']' in PARAM-VALUE")
                else:
                    value += char
                    index += 1
            params.append((name.decode("ascii"), value.decode("utf-8")))
        if data[index : index + 1] != b"]":
            raise SyslogError("SD-ELEMENT not closed")
        out.append((sd_id.decode("ascii"), params))
        data = data[index + 1 :]
    return data


def deframe(data: bytes) -> list[bytes]:
    """Split an RFC 6587 octet-counted stream into messages; the stream must end on a frame."""
    messages = []
    while data:
        space = data.find(b" ")
        if space <= 0 or not data[:space].isdigit():
            raise SyslogError(f"bad frame length at {data[:20]!r}")
        length = int(data[:space])
        if len(data) < space + 1 + length:
            raise SyslogError("truncated frame")
        messages.append(data[space + 1 : space + 1 + length])
        data = data[space + 1 + length :]
    return messages

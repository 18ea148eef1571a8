"""Events through the stdlib ``logging`` logger ``secmon``, for apps whose handlers live there."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .base import Output, common_options

if TYPE_CHECKING:
    from ..config import Settings

_LEVELS = {
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "critical": logging.CRITICAL,
}


class LoggingOutput(Output):
    """The rendered line is the message; the event dict rides along as ``record.secmon``."""

    type_name = "logging"

    def __init__(self, logger: str = "secmon", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.logger = logging.getLogger(logger)

    def handle(self, event: dict[str, Any], rendered: dict[int, bytes]) -> None:
        level = _LEVELS.get(event.get("level", "info"), logging.INFO)
        if not self.logger.isEnabledFor(level):
            return
        key = id(self.render)
        line = rendered.get(key)
        if line is None:
            line = rendered[key] = self.render(event)
        self.logger.log(level, "%s", line.decode(), extra={"secmon": event})

    def write(self, line: bytes) -> None:
        self.logger.info("%s", line.decode())


def build(key: str, spec: Mapping[str, Any], settings: Settings) -> LoggingOutput:
    name, renderer, accepts = common_options(key, spec, settings, ("logger",))
    logger = spec.get("logger", "secmon")
    return LoggingOutput(logger=str(logger), name=name, renderer=renderer, accepts=accepts)

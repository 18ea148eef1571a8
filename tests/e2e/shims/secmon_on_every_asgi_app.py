"""pytest plugin (``-p``) for an ASGI framework's own test suite: secmon on every app it tests.

Every app handed to Starlette's ``TestClient`` (Starlette and FastAPI apps, and the plain
ASGI callables those suites test directly) runs inside ``SecMonMiddleware``, as
``app = SecMonMiddleware(app)`` wires it; an ASGI 2 app is first made ASGI 3, as the client
itself and servers do. The number of apps so wrapped is written to the file named by
``SHIM_APP_COUNT_FILE``.

Starlette's suite flags blocking calls on the event loop (blockbuster). secmon writes its
log lines to files synchronously, as the ``logging`` module does; the shim lets calls
under secmon's own pipeline block, so that only what the app does is judged.
"""

from __future__ import annotations

import os
from typing import Any

from starlette import testclient

from secmon.asgi import SecMonMiddleware

_client_init = testclient.TestClient.__init__
_wrapped: list[int] = []
_SECMON_WRITES = ("secmon/pipeline.py",
                  {"emit", "emit_once", "signal", "report_error", "get_pipeline", "settle"})


def _init_with_secmon(self: testclient.TestClient, app: Any, *args: Any, **kwargs: Any) -> None:
    if not testclient._is_asgi3(app):
        app = testclient._WrapASGI2(app)
    _client_init(self, SecMonMiddleware(app), *args, **kwargs)
    _wrapped.append(1)


testclient.TestClient.__init__ = _init_with_secmon  # type: ignore[method-assign]

try:
    from blockbuster import BlockBuster
except ImportError:
    pass
else:
    _activate = BlockBuster.activate

    def _activate_letting_secmon_write(self: BlockBuster) -> BlockBuster:
        for function in self.functions.values():
            function.can_block_in(*_SECMON_WRITES)
        return _activate(self)

    BlockBuster.activate = _activate_letting_secmon_write  # type: ignore[method-assign]


def pytest_unconfigure() -> None:
    count_file = os.environ.get("SHIM_APP_COUNT_FILE")
    if count_file:
        with open(count_file, "w") as out:
            out.write(str(len(_wrapped)))

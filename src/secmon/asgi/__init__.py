"""The ASGI adapter (Starlette, FastAPI, any ASGI app): ``app.add_middleware(SecMonMiddleware)``."""

from .middleware import SecMonMiddleware

__all__ = ["SecMonMiddleware"]

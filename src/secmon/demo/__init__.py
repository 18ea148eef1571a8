"""`secmon demo`: the example apps, wired as their users wire them, through a day of attacks."""

from .apps import DemoError
from .day import run_demo
from .world import DEMO_AUDIT_KEY, SITE_PASSWORD, demo_location

__all__ = ["DEMO_AUDIT_KEY", "SITE_PASSWORD", "DemoError", "demo_location", "run_demo"]

"""The ``secmon`` command: demo, verify, query, report, check."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ._version import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="secmon")
def cli() -> None:
    """Security logging and monitoring for Django, Flask and ASGI apps.

    Exit codes: 0 success, 1 a finding (tampering, failed checks), 2 usage error.
    """


@cli.command()
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              default=Path("demo-output"), show_default=True, help="Where to write the logs.")
def demo(directory: Path) -> None:
    """Play a short scripted attack against secmon and show what it logs."""
    from .demo import run_demo

    sys.exit(run_demo(directory))


def main() -> None:
    cli(prog_name="secmon")

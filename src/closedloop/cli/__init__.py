"""The ``closedloop`` command line, a thin layer over the SDK."""

from __future__ import annotations

import sys

from closedloop.cli._app import app
from closedloop.cli._app import main as _main

__all__ = ["app", "main"]


def main() -> None:
    """Console-script entry point."""
    sys.exit(_main())

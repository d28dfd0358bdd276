"""Runnable demonstrations on real data that ships with the installed packages."""

from closedloop.demo._quickstart import QuickstartResult, run_quickstart

__all__ = ["QuickstartResult", "run_quickstart"]

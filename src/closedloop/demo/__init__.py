"""Runnable demonstrations on real data that ships with the installed packages."""

from closedloop.demo._lifecycle import AGE_SHIFT, LifecycleResult, run_lifecycle
from closedloop.demo._quickstart import QuickstartResult, run_quickstart

__all__ = ["AGE_SHIFT", "LifecycleResult", "QuickstartResult", "run_lifecycle", "run_quickstart"]

"""State shared by the CLI commands: global options and how to open the workspace."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import typer

from closedloop._client import Client
from closedloop.cli._safe import safe_console
from closedloop.config import Settings, load_settings

__all__ = ["CliState", "console", "err_console", "state"]

# Piped output is read by scripts and people with wide windows: don't squeeze tables to 80.
# Both consoles escape control characters in whatever they print (see cli/_safe.py).
console = safe_console(width=None if sys.stdout.isatty() else 200)
err_console = safe_console(stderr=True, width=None if sys.stderr.isatty() else 200)


@dataclass
class CliState:
    """Global options of one invocation."""

    workspace: str | None = None
    debug: bool = False
    _client: Client | None = field(default=None, repr=False)

    def settings(self, **overrides: Any) -> Settings:
        """Settings for this invocation (entry point: reads file and environment once)."""
        return load_settings({"workspace": self.workspace, **overrides})

    def client(self) -> Client:
        """The workspace client, opened on first use and closed when the command ends."""
        if self._client is None:
            self._client = Client(settings=self.settings())
        return self._client

    def close(self) -> None:
        """Close what was opened."""
        if self._client is not None:
            self._client.close()
            self._client = None


def state(ctx: typer.Context) -> CliState:
    """The ``CliState`` of the current invocation."""
    obj = ctx.find_root().obj
    if not isinstance(obj, CliState):
        obj = CliState()
        ctx.find_root().obj = obj
    return obj


def workspace_path(value: str | None) -> str | None:
    """Normalise a --workspace value: keep URIs, resolve folders."""
    if value is None or "://" in value:
        return value
    return str(Path(value).expanduser().resolve())

"""Types and constants shared by the CLI tests and their fixtures."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Result:
    """One CLI invocation."""

    code: int
    out: str
    err: str


Cli = Callable[..., Result]


@dataclass(frozen=True)
class Populated:
    """A workspace with three finished runs."""

    root: Path
    rf: str
    gb: str
    lr: str


MODEL_BYTES = b"\x00\x01binary-model\xff\xfe" * 10
NOTES = "notes about the rf run\n"

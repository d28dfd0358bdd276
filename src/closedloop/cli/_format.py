"""Formatting helpers for tables and values."""

from __future__ import annotations

import math
from datetime import UTC

from closedloop.core import ms_to_datetime

__all__ = ["fmt_bytes", "fmt_duration", "fmt_number", "fmt_time"]


def fmt_time(ms: int | None) -> str:
    """Epoch milliseconds as local-looking UTC text."""
    dt = ms_to_datetime(ms)
    return "-" if dt is None else dt.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def fmt_duration(seconds: float | None) -> str:
    """Seconds as ``1h02m``, ``3m05s`` or ``4.2s``."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def fmt_number(value: float | None) -> str:
    """A metric value, compact."""
    if value is None:
        return "-"
    if math.isnan(value) or math.isinf(value):
        return str(value)
    return f"{value:.6g}"


def fmt_bytes(n: int) -> str:
    """Bytes with a binary unit."""
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if size < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{n} B"

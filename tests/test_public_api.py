"""The top-level surface: ``closedloop.__all__`` is exactly what it offers, loaded lazily."""

from __future__ import annotations

import subprocess
import sys
import types
from typing import Any

import pytest

import closedloop

#: Heavy libraries that ``import closedloop`` must not import (they load with the stages).
HEAVY = ("pandas", "numpy", "pyarrow", "sklearn", "scipy", "fastapi", "sqlalchemy")


def _ours(value: Any) -> bool:
    """Defined by closedloop (not ``importlib``, ``typing`` or ``__future__`` helpers)."""
    if isinstance(value, types.ModuleType):
        return value.__name__.startswith("closedloop.")
    return str(getattr(value, "__module__", "")).startswith("closedloop")


def test_every_name_in_all_resolves() -> None:
    assert len(closedloop.__all__) == len(set(closedloop.__all__))
    for name in closedloop.__all__:
        assert getattr(closedloop, name) is not None, name
    assert isinstance(closedloop.errors, types.ModuleType)
    assert closedloop.__version__ == "0.1.0"


def test_the_public_names_are_exactly_all() -> None:
    for name in closedloop._LAZY:  # resolve every lazy name, so each lands in the namespace
        getattr(closedloop, name)
    public = {
        name
        for name, value in vars(closedloop).items()
        if not name.startswith("_")
        and _ours(value)
        # a submodule imported elsewhere becomes an attribute of the package
        and not (isinstance(value, types.ModuleType) and name not in closedloop.__all__)
    }
    assert public == set(closedloop.__all__) - {"__version__"}
    assert set(closedloop._LAZY) <= set(closedloop.__all__)
    assert dir(closedloop) == sorted(closedloop.__all__)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = closedloop.nope  # type: ignore[attr-defined]


def test_import_closedloop_stays_lazy() -> None:
    code = (
        "import sys\n"
        "import closedloop\n"
        f"heavy = {HEAVY!r}\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & set(heavy)))\n"
        "closedloop.errors\n"
        "print(sorted({m.split('.')[0] for m in sys.modules} & set(heavy)))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    ).stdout.splitlines()
    assert out == ["[]", "[]"]

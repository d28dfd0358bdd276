"""Synthetic but structured data for the lifecycle stage tests."""

from __future__ import annotations

import numpy as np
import pandas as pd

from closedloop.core import ColumnSchema, LogicalType, TableSchema


def make_frame(n: int = 600, seed: int = 0, age_shift: float = 0.0) -> pd.DataFrame:
    """Income-like data: the label depends on age, hours and group, with noise."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 70, n) + age_shift
    hours = rng.normal(40, 8, n).round(1)
    hours[rng.random(n) < 0.05] = np.nan
    group = rng.choice(["F", "M"], n, p=[0.4, 0.6])
    job = rng.choice(["a", "b", "c"], n)
    score = 0.06 * (age - 40) + 0.08 * (np.nan_to_num(hours, nan=40) - 40) + (group == "M") * 0.8
    label = np.where(score + rng.normal(0, 1, n) > 0.5, "yes", "no")
    return pd.DataFrame({"age": age, "hours": hours, "group": group, "job": job, "y": label})


SCHEMA = TableSchema(
    (
        ColumnSchema("age", LogicalType.INTEGER, nullable=False, minimum=18, maximum=69),
        ColumnSchema("hours", LogicalType.FLOAT),
        ColumnSchema("group", LogicalType.CATEGORY, nullable=False, categories=("F", "M")),
        ColumnSchema("job", LogicalType.CATEGORY, nullable=False, categories=("a", "b", "c")),
        ColumnSchema("y", LogicalType.CATEGORY, nullable=False, categories=("no", "yes")),
    )
)

"""Data, model and client helpers shared by the serving tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from fastapi.testclient import TestClient  # uses httpx2 (a dev dependency) on Starlette 1.x
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from closedloop.core import ColumnSchema, LogicalType, ModelVersion, TableSchema
from closedloop.workspace import Workspace

__all__ = ["SIGNATURE", "Served", "TestClient", "make_frame", "records", "train"]

SIGNATURE = TableSchema(
    (
        ColumnSchema("age", LogicalType.INTEGER, nullable=False, minimum=18, maximum=80),
        ColumnSchema("hours", LogicalType.FLOAT),
        ColumnSchema("sex", LogicalType.CATEGORY, categories=("F", "M")),
    )
)


def make_frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 81, n)
    hours = rng.normal(40, 10, n).round(1)
    sex = rng.choice(["F", "M"], n)
    score = 0.06 * (age - 45) + 0.08 * (hours - 40) + np.where(sex == "M", 0.7, -0.7)
    y = np.where(rng.random(n) < 1 / (1 + np.exp(-score)), "yes", "no")
    hours[rng.random(n) < 0.05] = np.nan
    return pd.DataFrame({"age": age, "hours": hours, "sex": sex, "y": y})


def train(frame: pd.DataFrame) -> Pipeline:
    pre = ColumnTransformer(
        [
            (
                "num",
                make_pipeline(SimpleImputer(strategy="median"), StandardScaler()),
                ["age", "hours"],
            ),
            ("cat", OneHotEncoder(handle_unknown="ignore"), ["sex"]),
        ]
    )
    pipe = Pipeline([("pre", pre), ("clf", LogisticRegression())])
    pipe.fit(frame[["age", "hours", "sex"]], frame["y"])
    return pipe


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    out = []
    for row in frame[["age", "hours", "sex"]].itertuples(index=False):
        rec: dict[str, Any] = {"age": int(row.age), "sex": str(row.sex)}
        if not np.isnan(row.hours):
            rec["hours"] = float(row.hours)
        out.append(rec)
    return out


@dataclass
class Served:
    """The workspace, the fitted pipeline, its registered version and unseen test rows."""

    ws: Workspace
    pipe: Pipeline
    version: ModelVersion
    test: pd.DataFrame

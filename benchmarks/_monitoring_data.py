"""The monitoring benchmark's data: 15 numeric and 5 categorical columns, seeded, in Parquet.

Reference and current frames have the same size and the same distributions except in
``SHIFTED`` columns, so every system's drift verdicts can be checked against the truth. Both
are written once per size, in chunks of at most ``CHUNK_ROWS`` rows (one Parquet row group
each), so a 10M-row file is generated without holding it in memory. Categorical columns are
plain strings in the file (Parquet dictionary-encodes them on disk; no reader gets a
pandas ``category`` dtype from the schema).

This module needs only numpy and pyarrow: the workers in Evidently's venv import it too
(for ``Score`` and the column lists).
"""

from __future__ import annotations

import json
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

__all__ = [
    "CATEGORICAL",
    "CHUNK_ROWS",
    "NUMERIC",
    "SHIFTED",
    "Score",
    "describe",
    "scores_from_json",
    "scores_to_json",
    "write_dataset",
]

CHUNK_ROWS = 1_000_000
SEED = 20261202


class Score(NamedTuple):
    """One column's drift result from one system.

    Attributes:
        method: The statistic's name, as Evidently names its methods where it is one of
            them (``wasserstein``: normed Wasserstein distance, ``jensenshannon``:
            Jensen-Shannon distance); otherwise the system's own name (``ks``, ``chi2``).
        value: The statistic.
        drifted: The system's own verdict for the column.
    """

    method: str
    value: float
    drifted: bool


def scores_to_json(scores: dict[str, Score]) -> dict[str, list[Any]]:
    return {k: [s.method, float(s.value), bool(s.drifted)] for k, s in scores.items()}


def scores_from_json(data: dict[str, list[Any]]) -> dict[str, Score]:
    return {k: Score(str(m), float(v), bool(d)) for k, (m, v, d) in data.items()}


# columns ---------------------------------------------------------------------------------------
Gen = np.random.Generator
Sampler = Callable[[Gen, int, bool], np.ndarray]


def _normal(mean: float, sd: float, shift: float = 0.0, scale: float = 1.0) -> Sampler:
    def draw(rng: Gen, n: int, current: bool) -> np.ndarray:
        if current:
            return rng.normal(mean + shift * sd, sd * scale, n)
        return rng.normal(mean, sd, n)

    return draw


def _lognormal(mu: float, sigma: float, shift: float = 0.0) -> Sampler:
    def draw(rng: Gen, n: int, current: bool) -> np.ndarray:
        return rng.lognormal(mu + (shift if current else 0.0), sigma, n)

    return draw


def _poisson(lam: float, current_lam: float | None = None) -> Sampler:
    def draw(rng: Gen, n: int, current: bool) -> np.ndarray:
        lam_ = current_lam if current and current_lam is not None else lam
        return rng.poisson(lam_, n).astype(np.int64)

    return draw


def _negbin(r: int, p: float) -> Sampler:
    def draw(rng: Gen, n: int, current: bool) -> np.ndarray:
        return rng.negative_binomial(r, p, n).astype(np.int64)

    return draw


def _bimodal(rng: Gen, n: int, current: bool) -> np.ndarray:
    left = rng.random(n) < 0.6
    return np.where(left, rng.normal(-2.0, 0.7, n), rng.normal(2.0, 1.0, n))


def _with_nan(rng: Gen, n: int, current: bool) -> np.ndarray:
    values = rng.normal(10.0, 2.0, n)
    values[rng.random(n) < 0.05] = np.nan
    return values


NUMERIC_SPEC: dict[str, tuple[Sampler, str]] = {
    "num_normal_shift": (_normal(0.0, 1.0, shift=0.3), "normal(0, 1); current mean +0.3 sd"),
    "num_normal_scale": (_normal(-3.0, 0.5, scale=1.5), "normal(-3, 0.5); current sd x1.5"),
    "num_normal_wide": (_normal(50.0, 10.0), "normal(50, 10)"),
    "num_normal_std": (_normal(0.0, 1.0), "normal(0, 1)"),
    "num_lognormal_shift": (
        _lognormal(0.0, 0.5, shift=0.15),
        "lognormal(0, 0.5); current mu +0.15",
    ),
    "num_lognormal_heavy": (_lognormal(2.0, 1.0), "lognormal(2, 1)"),
    "num_lognormal_narrow": (_lognormal(1.0, 0.25), "lognormal(1, 0.25)"),
    "num_count_shift": (_poisson(3.0, 3.5), "poisson(3), integers; current poisson(3.5)"),
    "num_count_20": (_poisson(20.0), "poisson(20), integers"),
    "num_count_negbin": (_negbin(2, 0.1), "negative binomial(2, 0.1), integers"),
    "num_bimodal": (_bimodal, "0.6 normal(-2, 0.7) + 0.4 normal(2, 1)"),
    "num_uniform": (lambda rng, n, c: rng.uniform(0.0, 100.0, n), "uniform(0, 100)"),
    "num_nan_5pct": (_with_nan, "normal(10, 2) with 5 % NaN"),
    "num_exponential": (lambda rng, n, c: rng.exponential(1.0, n), "exponential(1)"),
    "num_student_t": (lambda rng, n, c: rng.standard_t(5, n), "student t, 5 df"),
}


def _zipf(k: int, s: float = 1.1) -> np.ndarray:
    w = 1.0 / np.arange(1, k + 1) ** s
    return np.asarray(w / w.sum())


def _moved(shares: np.ndarray) -> np.ndarray:
    """60 % the reference shares, 40 % the same with the top six reversed (JS ~0.17)."""
    flipped = shares.copy()
    flipped[:6] = shares[:6][::-1]
    return np.asarray(0.6 * shares + 0.4 * flipped)


CATEGORY_COUNTS = {"cat_2": 2, "cat_5": 5, "cat_12_shift": 12, "cat_40": 40, "cat_200": 200}
CATEGORICAL_SHIFT = {
    "cat_12_shift": "Zipf shares, 40 % of the current mass with the top 6 reversed"
}

NUMERIC = list(NUMERIC_SPEC)
CATEGORICAL = list(CATEGORY_COUNTS)
SHIFTED = frozenset(
    [n for n, (_, text) in NUMERIC_SPEC.items() if "current" in text] + list(CATEGORICAL_SHIFT)
)


def describe() -> list[tuple[str, str, str]]:
    """``(column, kind, distribution)`` for the notes."""
    rows = [(name, "numeric", text) for name, (_, text) in NUMERIC_SPEC.items()]
    for name, k in CATEGORY_COUNTS.items():
        text = CATEGORICAL_SHIFT.get(name, "Zipf(1.1) shares")
        rows.append((name, "categorical", f"{k} categories, {text}"))
    return rows


# writing ---------------------------------------------------------------------------------------
def _chunk(rng: Gen, n: int, current: bool) -> Any:
    import pyarrow as pa
    import pyarrow.compute as pc

    arrays: dict[str, Any] = {}
    for name, (draw, _) in NUMERIC_SPEC.items():
        arrays[name] = pa.array(draw(rng, n, current))
    for name, k in CATEGORY_COUNTS.items():
        shares = _zipf(k)
        if current and name in CATEGORICAL_SHIFT:
            shares = _moved(shares)
        codes = rng.choice(k, size=n, p=shares)
        labels = pa.array([f"{name}_v{i:03d}" for i in range(k)], type=pa.string())
        arrays[name] = pc.take(labels, pa.array(codes))
    return pa.table(arrays)


def write_dataset(
    folder: Path, rows: int, *, sides: tuple[str, ...] = ("reference", "current")
) -> dict[str, Path]:
    """Write ``<side>.parquet`` files of ``rows`` rows into ``folder`` (once; reused).

    ``reference`` draws the reference distributions; any other side (``current``, or
    ``stream`` for the windows) the current ones, from its own seed.
    """
    import pyarrow.parquet as pq

    folder.mkdir(parents=True, exist_ok=True)
    paths: dict[str, Path] = {}
    for side in sides:
        path = folder / f"{side}.parquet"
        paths[side] = path
        stamp = folder / f"{side}.json"
        if path.exists() and stamp.exists() and json.loads(stamp.read_text()).get("rows") == rows:
            continue
        key = zlib.crc32(side.encode())
        seeds = np.random.SeedSequence([SEED, rows, key]).spawn(-(-rows // CHUNK_ROWS))
        started = time.perf_counter()
        writer = None
        try:
            for i, seed in enumerate(seeds):
                n = min(CHUNK_ROWS, rows - i * CHUNK_ROWS)
                table = _chunk(np.random.default_rng(seed), n, side != "reference")
                if writer is None:
                    writer = pq.ParquetWriter(path, table.schema)
                writer.write_table(table, row_group_size=CHUNK_ROWS)
        finally:
            if writer is not None:
                writer.close()
        stamp.write_text(
            json.dumps(
                {
                    "rows": rows,
                    "bytes": path.stat().st_size,
                    "seconds": time.perf_counter() - started,
                }
            )
        )
    return paths

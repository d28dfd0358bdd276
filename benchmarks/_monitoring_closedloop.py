"""The adapter: every closedloop call of the monitoring benchmark, and nothing else.

Each function makes the calls ``closedloop monitor`` makes, on frames instead of a
workspace (the benchmark times drift, not the metadata store):

- ``end_to_end``: ``DriftDetector(columns=...).fit(reference).compare(current)``, the
  automatic rule (on windows of more than 1,000 values: normed Wasserstein for numeric
  columns and Jensen-Shannon for categorical ones, Evidently's methods, above each one's
  noise floor), so the harness compares the values with Evidently's column by column;
- ``build_profile`` / ``score_profile``: the stored reference profile of a model version
  (``ReferenceProfile``: per numeric column a sorted sketch of up to 20,000 values, its
  count, mean and std, and 100 percentile bins; per categorical column its counts), written
  in its stored form (MessagePack) and read back in a fresh process, then
  ``DriftDetector.from_profile`` scores the current frame as ``monitor run`` does;
- ``stream_windows``: a large Parquet file read in record batches, cut into count windows
  by the same window assembly ``monitor run`` uses over the prediction log, each window
  scored against the stored profile and summarised into its mergeable sketch (what a
  window stores), the sketches merged into one as a month of windows would be.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from _monitoring_data import Score

__all__ = ["build_profile", "end_to_end", "prepare", "score_profile", "stream_windows"]

_BATCH_ROWS = 50_000  # rows per Parquet record batch (a page of the log in monitor run)


def prepare() -> None:
    """Import closedloop before the timer starts."""
    import closedloop.monitoring
    import closedloop.monitoring._drift
    import closedloop.monitoring._reference  # noqa: F401


def _scores(report: Any) -> dict[str, Score]:
    return {f.name: Score(f.method, f.statistic, f.drifted) for f in report.features}


def end_to_end(
    ref_df: pd.DataFrame, cur_df: pd.DataFrame, numeric: Sequence[str], categorical: Sequence[str]
) -> dict[str, Score]:
    """Fit on ``ref_df``, compare ``cur_df``: one score per column."""
    from closedloop.monitoring import DriftDetector

    # kinds come from the dtypes: numbers are numeric, strings categorical
    detector = DriftDetector(columns=[*numeric, *categorical]).fit(ref_df)
    return _scores(detector.compare(cur_df))


def _profile(ref_df: pd.DataFrame, numeric: Sequence[str], categorical: Sequence[str]) -> Any:
    from closedloop.monitoring._reference import (
        CategoricalReference,
        NumericReference,
        ReferenceProfile,
    )

    columns: dict[str, Any] = {}
    for name in numeric:
        columns[name] = NumericReference.of(ref_df[name].to_numpy())
    for name in categorical:
        columns[name] = CategoricalReference.of(ref_df[name].to_numpy())
    return ReferenceProfile(
        model_version_id="bench/1",
        source="frame",
        n_rows=len(ref_df),
        created_at=0,
        columns=columns,
    )


def build_profile(
    ref_df: pd.DataFrame, numeric: Sequence[str], categorical: Sequence[str], path: Path
) -> Path:
    """Store the fitted reference at ``path`` (the profile's stored bytes)."""
    path.write_bytes(_profile(ref_df, numeric, categorical).to_bytes())
    return path


def _detector(profile_path: Path) -> tuple[Any, Any]:
    from closedloop.monitoring import DriftDetector
    from closedloop.monitoring._reference import ReferenceProfile

    profile = ReferenceProfile.from_bytes(profile_path.read_bytes())
    return profile, DriftDetector.from_profile(profile.columns, profile.n_rows)


def score_profile(profile_path: Path, cur_df: pd.DataFrame) -> dict[str, Score]:
    """Score ``cur_df`` against the profile stored at ``profile_path``."""
    _, detector = _detector(profile_path)
    # as monitor run scores a window: verdicts and statistics, no report-page extras (the
    # window keeps its mergeable sketch instead)
    return _scores(detector.compare(cur_df, details=False))


def _chunks(parquet_path: Path, columns: Sequence[str]) -> Iterator[Any]:
    """The file as log chunks: one request per row, positions counting from 1."""
    import pyarrow.parquet as pq

    from closedloop.predictions._stream import LogChunk

    start = 0
    # pre_buffer=False: with it (the default) the reader keeps every coalesced read of the
    # file in its memory pool, which grew by about 100 MiB per million rows here
    reader = pq.ParquetFile(parquet_path, pre_buffer=False)
    for batch in reader.iter_batches(_BATCH_ROWS, columns=list(columns)):
        n = batch.num_rows
        positions = np.arange(start + 1, start + n + 1, dtype=np.int64)
        start += n
        yield LogChunk(
            positions=positions,
            request_ids=positions,
            rows=np.zeros(n, dtype=np.int64),
            times=positions,
            columns={
                name: batch.column(i).to_numpy(zero_copy_only=False)
                for i, name in enumerate(batch.schema.names)
            },
            labels=np.empty(n, dtype=object),
            probabilities=None,
            classes=(),
        )


def stream_windows(
    profile_path: Path, parquet_path: Path, window_rows: int
) -> list[dict[str, Score]]:
    """Score ``parquet_path`` in windows of ``window_rows`` rows against a stored profile."""
    from closedloop.monitoring._summary import _sketch
    from closedloop.monitoring._windows import WindowSpec, _count_windows

    profile, detector = _detector(profile_path)
    names = list(profile.columns)
    spec = WindowSpec.parse(f"count:{window_rows}")
    results: list[dict[str, Score]] = []
    merged, total = None, 0
    for window in _count_windows(spec, _chunks(parquet_path, names), skip=0):
        rows = window.rows
        frame = pd.DataFrame({name: rows.columns[name] for name in names}, copy=False)
        results.append(_scores(detector.compare(frame, details=False)))
        sketch = _sketch(profile, rows, None)
        merged = sketch if merged is None else merged.merge(sketch)
        total += window.n_rows
    if merged is None or merged.n_rows != total:
        raise RuntimeError(f"the merged sketch holds {merged and merged.n_rows} of {total} rows")
    return results

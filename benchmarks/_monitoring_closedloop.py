"""THE ADAPTER TO UPDATE: every closedloop call of the monitoring benchmark, and nothing else.

The monitoring API is being rewritten (a new drift rule in ``closedloop.monitoring``,
stored reference profiles, windows). This first version is written against today's
``DriftDetector(columns=...).fit(reference).compare(current)``, whose report gives per
feature a KS (numeric) or chi-square (categorical) ``statistic``, a ``psi`` and a
``drifted`` verdict. Those are not Evidently's statistics, so the harness times them but
compares their values with nobody; once closedloop reports Evidently's (normed
Wasserstein, Jensen-Shannon), return them under those method names (``Score.method``:
``wasserstein``, ``jensenshannon``) and the harness compares them column by column.

What the harness needs from the new API:

- ``end_to_end``: fit on a reference frame and score a current frame, per column a score,
  the name of its statistic and the verdict;
- ``build_profile`` / ``score_profile``: write the fitted reference to a file, and later
  score a current frame against that file in a fresh process;
- ``stream_windows``: score a Parquet file far larger than memory window by window against
  a stored profile.

The last two raise ``NotImplementedError`` until the API has them; the harness reports
those rows as "not available".
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from _monitoring_data import Score

__all__ = ["build_profile", "end_to_end", "prepare", "score_profile", "stream_windows"]


def prepare() -> None:
    """Import closedloop before the timer starts."""
    import closedloop.monitoring  # noqa: F401


def end_to_end(
    ref_df: pd.DataFrame, cur_df: pd.DataFrame, numeric: Sequence[str], categorical: Sequence[str]
) -> dict[str, Score]:
    """Fit on ``ref_df``, compare ``cur_df``: one score per column."""
    from closedloop.monitoring import DriftDetector

    # kinds come from the dtypes: numbers are numeric, strings categorical
    detector = DriftDetector(columns=[*numeric, *categorical]).fit(ref_df)
    report = detector.compare(cur_df)
    # ``method`` in the rewrite; ``test`` (ks, chi2) in the first version
    return {
        f.name: Score(getattr(f, "method", None) or f.test, f.statistic, f.drifted)
        for f in report.features
    }


def build_profile(
    ref_df: pd.DataFrame, numeric: Sequence[str], categorical: Sequence[str], path: Path
) -> Path:
    """Store the fitted reference at ``path``."""
    raise NotImplementedError("closedloop.monitoring has no stored reference profile yet")


def score_profile(profile_path: Path, cur_df: pd.DataFrame) -> dict[str, Score]:
    """Score ``cur_df`` against the profile stored at ``profile_path``."""
    raise NotImplementedError("closedloop.monitoring has no stored reference profile yet")


def stream_windows(
    profile_path: Path, parquet_path: Path, window_rows: int
) -> list[dict[str, Score]]:
    """Score ``parquet_path`` in windows of ``window_rows`` rows against a stored profile."""
    raise NotImplementedError("closedloop.monitoring has no windows API yet")

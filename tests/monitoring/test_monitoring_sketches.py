"""Reference profiles and window sketches: exactness, storage, merging, quality."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.stats
from monitoring_support import SIGNATURE, people, register

from closedloop.core import ColumnSchema, LogicalType, TableSchema
from closedloop.errors import InvalidArgumentError, StorageError
from closedloop.monitoring import _reference
from closedloop.monitoring._quality import window_quality
from closedloop.monitoring._reference import (
    CategoricalReference,
    NumericReference,
    ReferenceProfile,
    fit_profile,
)
from closedloop.monitoring._sketch import CategoricalSketch, NumericSketch, WindowSketch


def test_a_small_reference_keeps_every_value_so_tests_are_exact() -> None:
    rng = np.random.default_rng(0)
    ref = rng.normal(size=5_000)
    cur = rng.normal(0.1, 1, size=800)
    profile = NumericReference.of(ref)
    assert profile.exact
    assert np.array_equal(profile.values, np.sort(ref))
    from closedloop.monitoring._stats import ks_test_sorted

    ours = ks_test_sorted(profile.values, cur)
    theirs = scipy.stats.ks_2samp(ref, cur)
    assert ours[0] == pytest.approx(theirs.statistic, abs=1e-12)
    assert ours[1] == pytest.approx(theirs.pvalue, rel=1e-9)


def test_a_large_reference_is_a_quantile_sketch_within_its_resolution(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(_reference, "SKETCH_POINTS", 1_000)
    rng = np.random.default_rng(1)
    ref = rng.lognormal(size=200_000)
    profile = NumericReference.of(ref)
    assert not profile.exact
    assert len(profile.values) == 1_000
    assert profile.n == 200_000
    cur = rng.lognormal(0.05, 1, size=50_000)
    from closedloop.monitoring._stats import ks_statistic_sorted

    approx = ks_statistic_sorted(profile.values, np.sort(cur))
    exact = scipy.stats.ks_2samp(ref, cur).statistic
    assert abs(approx - exact) <= 1 / 1_000 + 1e-9
    assert profile.mean == pytest.approx(ref.mean())
    assert profile.std == pytest.approx(ref.std())


def test_missing_and_infinite_values_are_counted_not_summarised() -> None:
    profile = NumericReference.of(np.array([1.0, np.nan, np.inf, 2.0, -np.inf, 3.0]))
    assert (profile.n, profile.missing, profile.nonfinite) == (3, 1, 2)
    assert profile.values.tolist() == [1.0, 2.0, 3.0]


def test_a_constant_reference_column_still_has_bins_around_its_value() -> None:
    profile = NumericReference.of(np.ones(100))
    sketch = NumericSketch.of(np.full(10, 2.0), profile.edges)
    assert profile.counts.tolist()[1] == 100  # at the constant
    assert sketch.counts[-1] == 10  # above it


def test_window_sketches_merge_to_the_sketch_of_all_rows() -> None:
    rng = np.random.default_rng(2)
    edges = NumericReference.of(rng.normal(size=1000)).edges
    a, b = rng.normal(size=300), np.append(rng.normal(1, 1, size=200), [np.nan, np.inf])
    merged = NumericSketch.of(a, edges).merge(NumericSketch.of(b, edges))
    whole = NumericSketch.of(np.concatenate([a, b]), edges)
    assert merged.counts.tolist() == whole.counts.tolist()
    assert (merged.n, merged.missing, merged.nonfinite) == (whole.n, whole.missing, whole.nonfinite)
    assert merged.mean == pytest.approx(whole.mean)
    assert merged.std == pytest.approx(whole.std)
    cats = CategoricalSketch.of(np.array(["a", "b", None, "a"], dtype=object)).merge(
        CategoricalSketch.of(np.array(["b", 3, 3.0], dtype=object))
    )
    assert cats.counts == {"a": 2, "b": 2, "3": 2}
    assert cats.missing == 1
    window = WindowSketch({"x": merged, "c": cats}, None, None, 505)
    assert WindowSketch.from_doc(window.to_doc()).to_doc() == window.to_doc()


def test_a_profile_round_trips_and_refuses_damage(workspace) -> None:
    version = register(workspace)
    frame = people(2_000, seed=4)
    proba = np.column_stack([np.full(2_000, 0.3), np.full(2_000, 0.7)])
    profile = fit_profile(
        version,
        frame,
        source="frame",
        probabilities=proba,
        labels=np.array(["1"] * 2_000),
        classes=("0", "1"),
    )
    assert profile.kind("age") == "numeric"
    assert profile.kind("color") == "categorical"
    assert isinstance(profile.columns["color"], CategoricalReference)
    again = ReferenceProfile.from_bytes(profile.to_bytes())
    assert again.to_bytes() == profile.to_bytes()
    assert again.score is not None
    assert again.score.values[0] == 0.7
    with pytest.raises(StorageError, match="damaged"):
        ReferenceProfile.from_bytes(b"\x93garbage")
    with pytest.raises(InvalidArgumentError, match="lacks column"):
        fit_profile(version, frame.drop(columns="color"), source="frame")
    # integer column labels are matched as text
    renamed = frame.rename(columns={"age": 0})
    sig = TableSchema((ColumnSchema("0", LogicalType.INTEGER),))
    v0 = workspace.metadata.models.create_version(
        "n",
        artifact_digest="sha256:" + "1" * 64,
        signature=sig,
        target="y",
        classes=(),
        metrics={},
    )
    assert fit_profile(v0, renamed, source="frame").columns["0"].n == 2_000


def test_quality_counts_missing_out_of_range_unseen_and_refused(workspace) -> None:
    version = register(workspace)
    profile = fit_profile(version, people(1_000, seed=5), source="frame")
    columns = {
        "age": np.array([30.0, np.nan, 500.0, 40.0]),
        "income": np.array([1e4, 2e4, np.inf, 3e4]),
        "color": np.array(["red", None, "purple", "purple"], dtype=object),
    }
    q = window_quality(profile, SIGNATURE, columns, 4, n_requests=2, refused=2)
    assert q.missing_rate == pytest.approx(2 / 12)
    assert q.out_of_range_rate == pytest.approx(1 / 4)  # 500 is above every age seen
    assert q.nonfinite_rate == pytest.approx(1 / 4)
    assert q.unseen_rate == pytest.approx(2 / 4)
    assert q.columns["color"]["unseen_values"] == {"purple": 2}
    assert q.refused_rate == pytest.approx(0.5)
    assert q.values()["quality.column.age.missing_rate"] == pytest.approx(0.25)
    assert type(q).from_doc(q.to_doc()) == q


def test_frames_with_pandas_nullable_types(workspace) -> None:
    version = register(workspace)
    frame = people(100, seed=6).astype({"age": "Int64"})
    frame.loc[0, "age"] = pd.NA
    profile = fit_profile(version, frame, source="frame")
    assert profile.columns["age"].missing == 1

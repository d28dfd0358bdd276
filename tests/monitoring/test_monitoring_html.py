from __future__ import annotations

import math

import pandas as pd
from monitoring_support import people

from closedloop.monitoring import ColumnRule, DriftDetector
from closedloop.monitoring._html import fmt_p


def test_tiny_p_values_are_shown_as_a_bound() -> None:
    assert fmt_p(0.0) == "< 1e-16"
    assert fmt_p(0.0123) == "0.0123"
    assert fmt_p(float("nan")) == "-"


def test_the_page_shows_each_features_method_threshold_and_floor() -> None:
    reference = people(3000, seed=1)
    current = people(2000, seed=2, age_shift=10)
    rules = {"color": ColumnRule("psi", 0.25)}
    report = DriftDetector(rules=rules).fit(reference).compare(current)
    page = report.to_html("t")
    assert "Wasserstein (normed)" in page
    assert "PSI" in page
    assert "noise floor" in page
    assert "no dataset drift" in page  # 1 of 3
    age = report.feature("age")
    assert age.verdict.startswith(f"{age.statistic:.4g} ≥ 0.1")
    assert f"distance: {age.verdict}" in page
    assert "PSI ≥" not in page  # the old AND gate is gone


def test_verdicts_say_which_bar_decided() -> None:
    reference = people(3000, seed=1)
    small = DriftDetector().fit(reference).compare(people(300, seed=3, age_shift=10))
    assert small.feature("age").verdict.startswith("p ")
    assert "< 0.05" in small.feature("age").verdict
    assert "≥ 0.05" in small.feature("income").verdict
    # a threshold below the noise: the floor decides and the verdict says so
    tiny = DriftDetector(rules={"color": ColumnRule("jensenshannon", 1e-6)})
    color = tiny.fit(reference).compare(people(300, seed=3)).feature("color")
    assert "noise floor" in color.verdict
    assert not color.drifted
    empty = (
        DriftDetector()
        .fit(reference)
        .compare(pd.DataFrame({"age": [None] * 3, "income": [1.0] * 3, "color": ["red"] * 3}))
    )
    assert empty.feature("age").verdict == "no value to compare"
    assert math.isnan(empty.feature("age").statistic)

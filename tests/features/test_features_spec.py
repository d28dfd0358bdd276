from __future__ import annotations

import numpy as np
import pytest

from closedloop.errors import InvalidArgumentError
from closedloop.features import FeatureSpec
from lifecycle_support import SCHEMA, make_frame


def test_from_schema_splits_numeric_and_categorical() -> None:
    spec = FeatureSpec.from_schema(SCHEMA, target="y")
    assert spec.numeric == ("age", "hours")
    assert spec.categorical == ("group", "job")
    assert spec.signature(SCHEMA).names == ["age", "hours", "group", "job"]
    assert FeatureSpec.from_schema(SCHEMA, target="y", exclude=["job"]).categorical == ("group",)


def test_built_transformer_imputes_scales_and_one_hot_encodes() -> None:
    frame = make_frame()
    spec = FeatureSpec(numeric=("age", "hours"), categorical=("group", "job"))
    out = spec.build().fit(frame).transform(frame)
    assert out.shape == (len(frame), 2 + 2 + 3)
    assert not np.isnan(out).any()  # missing hours were imputed
    assert abs(out[:, 0].mean()) < 1e-9  # standardised
    assert set(np.unique(out[:, 2:])) <= {0.0, 1.0}


def test_unseen_category_at_serving_time_encodes_as_zeros() -> None:
    frame = make_frame()
    transformer = FeatureSpec(numeric=("age",), categorical=("job",)).build().fit(frame)
    row = frame.head(1).assign(job="never-seen")
    assert transformer.transform(row)[0, 1:].tolist() == [0.0, 0.0, 0.0]


def test_round_trip_and_bad_specs() -> None:
    spec = FeatureSpec(numeric=("age",), categorical=("job",), numeric_impute="mean")
    assert FeatureSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(InvalidArgumentError, match="both"):
        FeatureSpec(numeric=("a",), categorical=("a",))
    with pytest.raises(InvalidArgumentError):
        FeatureSpec()
    with pytest.raises(InvalidArgumentError, match="numeric_impute"):
        FeatureSpec(numeric=("a",), numeric_impute="mode")
    with pytest.raises(InvalidArgumentError, match="unknown"):
        FeatureSpec.from_dict({"numeric": ["a"], "colour": 1})
    with pytest.raises(InvalidArgumentError, match="target"):
        FeatureSpec.from_schema(SCHEMA, target="nope")
    with pytest.raises(InvalidArgumentError, match="missing"):
        FeatureSpec(numeric=("nope",)).signature(SCHEMA)

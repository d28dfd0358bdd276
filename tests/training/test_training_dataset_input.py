"""Selection takes the dataset version the user has: a version, its reference, or a frame."""

from __future__ import annotations

import pytest

from closedloop import data
from closedloop.errors import InvalidArgumentError, NotFoundError
from closedloop.features import FeatureSpec
from closedloop.tracking import get_run
from closedloop.training import frame_and_version, select_model
from closedloop.workspace import Workspace
from lifecycle_support import make_frame

SPEC = FeatureSpec(numeric=("age", "hours"), categorical=("group", "job"))


def test_a_version_or_its_reference_is_loaded_and_linked_to_every_run(
    workspace: Workspace,
) -> None:
    version = data.ingest_frame(workspace, make_frame(300), "train", source="test").version
    for given in (version, "train@latest"):
        sel = select_model(
            workspace, given, target="y", spec=SPEC, candidates=["logistic_regression"], cv=2
        )
        assert sel.dataset_version == version
        for run_id in (sel.results[0].run_id, sel.run_id):
            inputs = get_run(workspace, run_id).inputs
            assert [(i.kind, i.ref) for i in inputs] == [("dataset", version.id)]
        assert get_run(workspace, sel.run_id).metrics["train_rows"].value == 300
    reads = workspace.metadata.list_audit_events(action="dataset.read")
    assert {e.detail.get("version") for e in reads} >= {version.id}


def test_a_frame_keeps_the_version_it_is_given_and_a_mismatch_is_refused(
    workspace: Workspace,
) -> None:
    frame = make_frame(200)
    first = data.ingest_frame(workspace, frame, "train", source="test").version
    other = data.ingest_frame(workspace, make_frame(200, seed=3), "other", source="t").version
    assert frame_and_version(workspace, frame) == (frame, None)
    kept, version = frame_and_version(workspace, frame, first)
    assert kept is frame
    assert version == first
    loaded, version = frame_and_version(workspace, "train/1")
    assert version == first
    assert len(loaded) == 200
    with pytest.raises(InvalidArgumentError, match="dataset_version") as info:
        frame_and_version(workspace, other, first)
    assert info.value.hint
    with pytest.raises(NotFoundError):
        select_model(workspace, "ghost@latest", target="y", spec=SPEC)

"""The drift reference: the model version's own training data unless another is named."""

from __future__ import annotations

import pytest
from monitoring_support import (
    SIGNATURE,
    T_NEW,
    log_batches,
    people,
    register,
    register_with_lineage,
)

from closedloop import data
from closedloop.errors import InvalidArgumentError
from closedloop.monitoring import monitor_drift
from closedloop.workspace import Workspace


def test_the_default_reference_is_the_training_data_in_the_signatures_columns(
    workspace: Workspace,
) -> None:
    training = people(2000, seed=1).assign(y=1, note="not a feature")
    dataset = register_with_lineage(workspace, training)

    by_default = monitor_drift(workspace, "m@latest", since=T_NEW)
    given = monitor_drift(workspace, "m@latest", training[list(SIGNATURE.names)], since=T_NEW)

    assert by_default.report.drifted_features == ("age",)
    assert by_default.report.to_dict() == given.report.to_dict()
    assert by_default.report.reference_rows == 2000
    reads = workspace.metadata.list_audit_events(action="dataset.read")
    assert dataset.id in {e.detail.get("version") for e in reads}


def test_a_version_or_reference_string_is_loaded(workspace: Workspace) -> None:
    dataset = register_with_lineage(workspace, people(2000, seed=1))
    other = data.ingest_frame(workspace, people(2000, seed=1, age_shift=10), "old", source="t")
    own = monitor_drift(workspace, "m/1", dataset, since=T_NEW)
    assert own.report.drifted_features == ("age",)
    shifted = monitor_drift(workspace, "m/1", "old@latest", since=T_NEW)
    assert shifted.report.drifted_features == ()  # the reference is as old as batch B
    assert monitor_drift(workspace, "m/1", other.version, since=T_NEW).report.to_dict() == (
        shifted.report.to_dict()
    )


def test_without_lineage_the_reference_must_be_named(workspace: Workspace) -> None:
    version = register(workspace)  # no dataset_version_id
    log_batches(workspace, version)
    with pytest.raises(InvalidArgumentError, match="no training dataset version") as info:
        monitor_drift(workspace, "m/1")
    assert info.value.hint is not None
    assert "--reference" in info.value.hint
    events = workspace.metadata.list_audit_events(action="monitor.drift")
    assert events[0].outcome == "error:INVALID_ARGUMENT"

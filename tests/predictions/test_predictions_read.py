"""Reading the sealed request log: counts, decoded rows, frames, and what the database holds."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from closedloop import serving
from closedloop.core import LoggedRequest
from closedloop.errors import ConfigurationError, CryptoError
from closedloop.predictions import (
    count_predictions,
    list_predictions,
    read_predictions,
)
from closedloop.testing import log_frame, log_request
from closedloop.workspace import Actions, Workspace

SECRET = "zebra-7f3a-unmistakable"


def _log(ws: Workspace) -> list[LoggedRequest]:
    """Three requests of m/1 (2 + 1 rows, one via endpoint web; one shadow) and one of m/2."""
    a = log_request(
        ws,
        "m/1",
        pd.DataFrame({"age": [30, 41], "city": ["paris", SECRET]}),
        ["yes", "no"],
        request_id="r1",
        time=100,
        probabilities=[[0.2, 0.8], [0.9, 0.1]],
        classes=("no", "yes"),
        endpoint="web",
        latency_ms=2.5,
    )
    b = log_request(
        ws,
        "m/1",
        pd.DataFrame({"age": [52], "city": ["rome"]}),
        ["no"],
        request_id="r2",
        time=200,
        probabilities=[[0.7, 0.3]],
        classes=("no", "yes"),
    )
    c = log_request(
        ws,
        "m/1",
        pd.DataFrame({"age": [19], "city": ["oslo"]}),
        ["yes"],
        request_id="r3",
        time=300,
        role="shadow",
    )
    d = log_request(
        ws, "m/2", pd.DataFrame({"x": [1.5]}), [0], request_id="r1", time=150, endpoint="web"
    )
    return [a, b, c, d]


def test_count_sums_rows_with_filters(workspace: Workspace) -> None:
    _log(workspace)
    assert count_predictions(workspace) == 5
    assert count_predictions(workspace, "m/1") == 4
    assert count_predictions(workspace, "m/1", role="primary") == 3
    assert count_predictions(workspace, endpoint="web") == 3
    assert count_predictions(workspace, since=150, until=300) == 2
    assert serving.count_predictions(workspace, "m/2") == 1  # the old name still works


def test_list_decodes_rows_in_order_with_outputs(workspace: Workspace) -> None:
    _log(workspace)
    rows = list_predictions(workspace, "m/1")
    assert [(p.request_id, p.row, p.role) for p in rows] == [
        ("r1", 0, "primary"),
        ("r1", 1, "primary"),
        ("r2", 0, "primary"),
        ("r3", 0, "shadow"),
    ]
    first = rows[0]
    assert first.inputs == {"age": 30, "city": "paris"}
    assert type(first.inputs["age"]) is int  # plain Python, ready for JSON
    assert first.output == {"label": "yes", "probabilities": {"no": 0.2, "yes": 0.8}}
    assert (first.time, first.endpoint, first.latency_ms) == (100, "web", 2.5)
    assert rows[3].output == {"label": "yes", "probabilities": None}
    # logging order (r1 of m/2 was logged last), and the limit counts rows
    assert [p.request_id for p in list_predictions(workspace, limit=3)] == ["r1", "r1", "r2"]
    assert list_predictions(workspace)[-1].model_version_id == "m/2"
    assert len(list_predictions(workspace, "m/1", role="shadow")) == 1
    assert serving.list_predictions(workspace, "m/1", limit=1) == rows[:1]


def test_read_is_one_frame_with_log_and_probability_columns(workspace: Workspace) -> None:
    _log(workspace)
    frame = read_predictions(workspace, "m/1")  # role primary by default
    assert list(frame.columns) == [
        "age",
        "city",
        "request_id",
        "row",
        "time",
        "model_version_id",
        "endpoint",
        "role",
        "latency_ms",
        "prediction",
        "proba_no",
        "proba_yes",
    ]
    assert frame["request_id"].tolist() == ["r1", "r1", "r2"]
    assert frame["row"].tolist() == [0, 1, 0]
    assert frame["age"].tolist() == [30, 41, 52]
    assert frame["prediction"].tolist() == ["yes", "no", "no"]
    assert frame["proba_yes"].tolist() == pytest.approx([0.8, 0.1, 0.3])
    assert frame["endpoint"].tolist() == ["web", "web", None]
    both = read_predictions(workspace, "m/1", role=None)
    assert len(both) == 4
    assert np.isnan(both["proba_yes"].iloc[3])
    every = read_predictions(workspace, role=None)
    assert set(every.columns) >= {"x", "age"}
    assert len(every) == 5


def test_read_joins_labels(workspace: Workspace) -> None:
    _log(workspace)
    from closedloop.predictions import attach_labels

    attach_labels(workspace, [("r1", 1, "yes"), ("r2", 0, "no")])
    frame = read_predictions(workspace, "m/1", with_labels=True)
    assert frame["label"].tolist() == [None, "yes", "no"]


def test_read_of_nothing_is_an_empty_frame_with_the_log_columns(workspace: Workspace) -> None:
    frame = read_predictions(workspace, "none/1", with_labels=True)
    assert len(frame) == 0
    assert {"request_id", "row", "prediction", "label"} <= set(frame.columns)
    assert list_predictions(workspace) == []
    assert count_predictions(workspace) == 0


def test_an_input_named_like_a_log_column_keeps_its_name(workspace: Workspace) -> None:
    log_request(workspace, "t/1", pd.DataFrame({"time": [7]}), [1], request_id="q", time=5)
    frame = read_predictions(workspace, "t/1")
    assert frame["time"].tolist() == [7]
    assert frame["_time"].tolist() == [5]


def test_reads_go_through_the_gate(workspace: Workspace) -> None:
    _log(workspace)
    read_predictions(workspace, "m/1")
    list_predictions(workspace, "m/2")
    events = workspace.metadata.list_audit_events(action=Actions.PREDICTION_READ)
    assert {e.resource for e in events} >= {"model:m/1", "model:m/2"}
    assert any(e.detail.get("rows") == 3 for e in events)


def test_limit_counts_rows_not_requests(workspace: Workspace) -> None:
    frame = pd.DataFrame({"v": range(25)})
    log_frame(workspace, "b/1", frame, 0, t0=1000, rows_per_request=10)
    rows = list_predictions(workspace, "b/1", limit=12)
    assert [(p.request_id, p.row) for p in rows][-2:] == [("req-1000-1", 0), ("req-1000-1", 1)]
    assert len(rows) == 12
    assert count_predictions(workspace, "b/1") == 25


def _database_bytes(ws: Workspace) -> bytes:
    uri = ws.location.metadata_uri if ws.location else ""
    path = Path(uri.removeprefix("sqlite:///"))
    return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))


def test_payloads_are_sealed_in_the_database(workspace: Workspace) -> None:
    requests = _log(workspace)
    assert requests[0].key_id is not None
    assert SECRET.encode() not in requests[0].payload
    raw = _database_bytes(workspace)
    assert b"paris" not in raw
    assert SECRET.encode() not in raw
    assert b"r1" in raw  # the clear fields are there: the scan reads the right file
    assert any(p.inputs.get("city") == SECRET for p in list_predictions(workspace))


def test_a_payload_moved_to_another_request_does_not_open(workspace: Workspace) -> None:
    a, b, *_ = _log(workspace)
    moved = dataclasses.replace(b, request_id="forged", payload=a.payload, n_rows=a.n_rows)
    workspace.metadata.predictions.append_requests([moved])
    with pytest.raises(CryptoError):
        list_predictions(workspace, "m/1")
    with pytest.raises(CryptoError):
        read_predictions(workspace, "m/1")


def test_a_sealed_log_needs_the_keys(workspace: Workspace) -> None:
    _log(workspace)
    keyless = Workspace(workspace.metadata, workspace.artifacts, settings=workspace.settings)
    with pytest.raises(ConfigurationError, match="without keys"):
        read_predictions(keyless, "m/1")

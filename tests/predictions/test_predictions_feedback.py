"""Feedback: labels attached late, out of order, replaced, reported when they do not fit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from closedloop.errors import InvalidArgumentError
from closedloop.predictions import (
    MAX_LISTED,
    BadRow,
    attach_labels,
    import_labels,
    list_labels,
)
from closedloop.testing import log_request
from closedloop.workspace import Actions, Workspace


@pytest.fixture
def logged(workspace: Workspace) -> Workspace:
    """``pair`` (two rows, versions m/1 and m/2) and ``one`` (one row, m/1)."""
    two = pd.DataFrame({"x": [1, 2]})
    log_request(workspace, "m/1", two, ["a", "b"], request_id="pair", time=10)
    log_request(workspace, "m/2", two, ["a", "a"], request_id="pair", time=10, role="shadow")
    log_request(workspace, "m/1", pd.DataFrame({"x": [3]}), ["b"], request_id="one", time=20)
    return workspace


def test_labels_attach_replace_and_report(logged: Workspace) -> None:
    report = attach_labels(logged, [("pair", 1, "b"), ("one", 0, 1), ("ghost", 0, "a")])
    assert (report.attached, report.replaced) == (2, 0)
    assert (report.unknown_request_ids, report.n_unknown) == (["ghost"], 1)
    assert report.bad_rows == []
    later = attach_labels(logged, [("pair", 1, "a"), ("pair", 0, True)])
    assert (later.attached, later.replaced) == (2, 1)
    labels = list_labels(logged)
    assert [(lb.request_id, lb.row, lb.label) for lb in labels] == [
        ("one", 0, 1),
        ("pair", 0, True),
        ("pair", 1, "a"),  # the later label replaced the earlier
    ]
    assert labels[0].actor == logged.actor
    assert [lb.request_id for lb in list_labels(logged, ["one"])] == ["one"]


def test_rows_outside_the_request_are_reported_not_stored(logged: Workspace) -> None:
    report = attach_labels(logged, [("pair", 2, "a"), ("one", None, "b"), ("pair", None, "a")])
    assert report.attached == 1  # "one" has a single row: no row means that row
    assert report.bad_rows == [BadRow("pair", 2, 2), BadRow("pair", None, 2)]
    assert report.n_bad_rows == 2
    assert [(lb.request_id, lb.row) for lb in list_labels(logged)] == [("one", 0)]


def test_a_row_named_twice_in_one_call_keeps_the_last(logged: Workspace) -> None:
    report = attach_labels(logged, [("one", 0, "a"), ("one", 0, "b")])
    assert report.attached == 1
    assert [lb.label for lb in list_labels(logged)] == ["b"]


def test_unknown_ids_are_sorted_capped_and_counted(logged: Workspace) -> None:
    ghosts = [(f"g{i:04d}", 0, 1) for i in range(MAX_LISTED + 20)]
    report = attach_labels(logged, list(reversed(ghosts)))
    assert report.attached == 0
    assert report.n_unknown == MAX_LISTED + 20
    assert report.unknown_request_ids == [g[0] for g in ghosts[:MAX_LISTED]]
    assert list_labels(logged) == []


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        (("one", 0, float("nan")), "missing"),
        (("one", 0, float("inf")), "not a value"),
        (("one", 0, None), "missing"),
        (("one", 0, [1, 2]), "a list"),
        (("one", -1, "a"), "not a row index"),
        (("", 0, "a"), "not a request id"),
        (("one", "0", "a"), "not a row index"),
    ],
)
def test_malformed_labels_are_refused_and_nothing_is_stored(
    logged: Workspace, entry: tuple[str, object, object], message: str
) -> None:
    with pytest.raises(InvalidArgumentError, match=message):
        attach_labels(logged, [("pair", 0, "a"), entry])  # type: ignore[list-item]
    assert list_labels(logged) == []


def test_each_call_is_audited_with_its_counts(logged: Workspace) -> None:
    attach_labels(logged, [("one", 0, "a"), ("ghost", 0, "b")])
    (event,) = logged.metadata.list_audit_events(action=Actions.PREDICTION_LABEL)
    assert event.outcome == "ok"
    assert event.detail["attached"] == 1
    assert event.detail["unknown"] == 1
    assert event.actor == logged.actor


def test_a_frame_of_labels_is_accepted(logged: Workspace) -> None:
    frame = pd.DataFrame(
        {"request_id": ["pair", "pair"], "row": np.array([0, 1]), "label": np.array([0, 1])}
    )
    report = attach_labels(logged, frame)
    assert report.attached == 2
    assert [type(lb.label) for lb in list_labels(logged)] == [int, int]


def test_import_csv_and_parquet(logged: Workspace, tmp_path: Path) -> None:
    csv = tmp_path / "labels.csv"
    csv.write_text("id,truth,r\npair,yes,0\npair,no,1\nunknown,no,0\n", encoding="utf-8")
    report = import_labels(
        logged, csv, request_id_column="id", label_column="truth", row_column="r"
    )
    assert (report.attached, report.unknown_request_ids) == (2, ["unknown"])
    parquet = tmp_path / "labels.parquet"
    pd.DataFrame({"request_id": ["one"], "label": [0.5]}).to_parquet(parquet)
    assert import_labels(logged, parquet).attached == 1  # no row column: the only row
    assert {(lb.request_id, lb.row): lb.label for lb in list_labels(logged)} == {
        ("pair", 0): "yes",
        ("pair", 1): "no",
        ("one", 0): 0.5,
    }


def test_import_keeps_request_ids_as_text(workspace: Workspace, tmp_path: Path) -> None:
    log_request(workspace, "m/1", pd.DataFrame({"x": [1]}), ["a"], request_id="007", time=1)
    path = tmp_path / "l.csv"
    path.write_text("request_id,label\n007,a\n", encoding="utf-8")
    assert import_labels(workspace, path).attached == 1


def test_import_names_a_missing_column_and_the_columns_present(
    logged: Workspace, tmp_path: Path
) -> None:
    path = tmp_path / "l.csv"
    path.write_text("request,label\npair,a\n", encoding="utf-8")
    with pytest.raises(InvalidArgumentError, match=r"no column 'request_id'.*'request', 'label'"):
        import_labels(logged, path)


def test_import_names_the_row_of_a_missing_label(logged: Workspace, tmp_path: Path) -> None:
    path = tmp_path / "l.csv"
    path.write_text("request_id,row,label\npair,0,a\npair,1,\n", encoding="utf-8")
    with pytest.raises(
        InvalidArgumentError, match=r"label of line 3 of 'l.csv' is missing \(NaN\)"
    ):
        import_labels(logged, path)
    assert list_labels(logged) == []

"""Windows over the prediction log: specs, count and time windows, resuming, thinning."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from closedloop.core import MonitorWindow
from closedloop.errors import InvalidArgumentError
from closedloop.monitoring import _windows
from closedloop.monitoring._windows import WindowSpec, assemble, parse_duration
from closedloop.predictions._stream import iter_log
from closedloop.testing._prediction_log import log_request
from closedloop.workspace import Workspace

HOUR = 3_600_000
T0 = 1_700_000_000_000 // HOUR * HOUR  # on the hour


def _log(ws: Workspace, sizes: list[int], times: list[int], version: str = "m/1") -> None:
    start = 0
    for i, (n, t) in enumerate(zip(sizes, times, strict=True)):
        frame = pd.DataFrame({"x": np.arange(start, start + n, dtype=float)})
        log_request(ws, version, frame, ["a"] * n, request_id=f"r{i}", time=t)
        start += n


def _stored(raw: _windows.RawWindow, window_id: int = 1) -> MonitorWindow:
    return MonitorWindow(
        window_id,
        "m/1",
        raw.spec.name,
        raw.start,
        raw.end,
        int(raw.rows.positions[0]),
        int(raw.rows.positions[-1]),
        raw.n_rows,
        raw.n_requests,
        False,
        raw.complete,
        0,
        None,
        b"",
    )


@pytest.mark.parametrize(
    ("text", "by", "size", "step", "name"),
    [
        ("count:1000", "count", 1000, 1000, "count:1000"),
        ("count:5000/1000", "count", 5000, 1000, "count:5000/1000"),
        ("time:1h", "time", HOUR, HOUR, "time:1h"),
        ("time:1d/6h", "time", 24 * HOUR, 6 * HOUR, "time:1d/6h"),
        (
            {"by": "time", "size": "90m", "step": 1800},
            "time",
            90 * 60_000,
            1_800_000,
            "time:90m/30m",
        ),
    ],
)
def test_window_specs_parse_and_name_themselves(text, by, size, step, name) -> None:
    spec = WindowSpec.parse(text)
    assert (spec.by, spec.size, spec.step, spec.name) == (by, size, step, name)
    assert WindowSpec.parse(spec.name) == spec


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("rows:10", "count' or 'time"),
        ("count:ten", "row counts"),
        ("count:10/20", "steps further"),
        ("time:soon", "not a duration"),
        ("count:", "not a window"),
        ("count:2000000", "at most"),
    ],
)
def test_bad_window_specs_say_what_is_wrong(text: str, fragment: str) -> None:
    with pytest.raises(InvalidArgumentError, match=fragment) as info:
        WindowSpec.parse(text)
    assert info.value.hint or "must" in info.value.message or "steps" in info.value.message


def test_durations() -> None:
    assert parse_duration(90) == 90_000
    assert parse_duration("15m") == 900_000
    assert parse_duration("1.5h") == 5_400_000
    with pytest.raises(InvalidArgumentError):
        parse_duration("-3s")


def test_tumbling_count_windows_hold_whole_requests(workspace: Workspace) -> None:
    _log(workspace, [4, 4, 4, 4, 3], [T0 + i for i in range(5)])
    spec = WindowSpec.parse("count:10")
    got = list(assemble(workspace, "m/1", spec, last=None, now=T0 + HOUR))
    # 4+4+4 = 12 >= 10 closes the first at the end of the third request
    assert [(w.n_rows, w.n_requests, w.complete) for w in got] == [(12, 3, True), (7, 2, False)]
    assert got[0].rows.columns["x"].tolist() == list(map(float, range(12)))
    assert (got[0].start, got[0].end) == (T0, T0 + 3)


def test_sliding_count_windows_overlap_by_their_step(workspace: Workspace) -> None:
    _log(workspace, [5] * 6, [T0 + i for i in range(6)])
    spec = WindowSpec.parse("count:10/5")
    got = list(assemble(workspace, "m/1", spec, last=None, now=T0 + HOUR))
    firsts = [w.rows.columns["x"][0] for w in got if w.complete]
    assert firsts == [0.0, 5.0, 10.0, 15.0, 20.0]
    assert all(w.n_rows == 10 for w in got if w.complete)


def test_a_round_resumes_after_the_last_complete_window(workspace: Workspace) -> None:
    _log(workspace, [5] * 5, [T0 + i for i in range(5)])
    spec = WindowSpec.parse("count:10")
    first = [w for w in assemble(workspace, "m/1", spec, last=None, now=T0) if w.complete]
    assert [w.n_rows for w in first] == [10, 10]
    more = [5, 5]
    for i, n in enumerate(more):
        frame = pd.DataFrame({"x": np.full(n, 100.0 + i)})
        log_request(workspace, "m/1", frame, ["a"] * n, request_id=f"s{i}", time=T0 + 10 + i)
    again = list(assemble(workspace, "m/1", spec, last=_stored(first[-1]), now=T0))
    assert [(w.rows.columns["x"][0], w.n_rows, w.complete) for w in again] == [
        (20.0, 10, True),
        (101.0, 5, False),
    ]


def test_time_windows_follow_the_clock_and_complete_once_past(workspace: Workspace) -> None:
    times = [T0 + 10, T0 + HOUR // 2, T0 + HOUR + 5, T0 + 3 * HOUR + 1]
    _log(workspace, [2, 3, 4, 1], times)
    spec = WindowSpec.parse("time:1h")
    got = list(assemble(workspace, "m/1", spec, last=None, now=T0 + 3 * HOUR + 10))
    assert [(w.start - T0, w.n_rows, w.complete) for w in got] == [
        (0, 5, True),
        (HOUR, 4, True),
        (3 * HOUR, 1, False),  # the hour has not passed: still filling
    ]
    later = list(assemble(workspace, "m/1", spec, last=_stored(got[1]), now=T0 + 5 * HOUR))
    assert [(w.start - T0, w.n_rows, w.complete) for w in later] == [(3 * HOUR, 1, True)]


def test_sliding_time_windows(workspace: Workspace) -> None:
    _log(workspace, [1, 1, 1, 1], [T0 + k * HOUR for k in range(4)])
    spec = WindowSpec.parse("time:2h/1h")
    got = [w for w in assemble(workspace, "m/1", spec, last=None, now=T0 + 10 * HOUR) if w.n_rows]
    assert [(w.start - T0, w.n_rows) for w in got] == [
        (0, 2),
        (HOUR, 2),
        (2 * HOUR, 2),
        (3 * HOUR, 1),
    ]


def test_a_busy_window_is_thinned_but_counts_every_row(
    workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_windows, "RAW_LIMIT", 50)
    _log(workspace, [40, 40, 40], [T0 + 1, T0 + 2, T0 + 3])
    (window,) = list(
        assemble(workspace, "m/1", WindowSpec.parse("time:1h"), last=None, now=T0 + 2 * HOUR)
    )
    assert window.n_rows == 120
    assert window.rows.n_rows <= 50
    assert window.sampled == pytest.approx(window.rows.n_rows / 120, rel=0.1)


def test_the_stream_reads_pages_in_order_and_resumes(workspace: Workspace) -> None:
    _log(workspace, [3] * 10, [T0 + i for i in range(10)])
    chunks = list(iter_log(workspace, "m/1", page_rows=7))
    assert [c.n_rows for c in chunks] == [9, 9, 9, 3]
    xs = np.concatenate([c.columns["x"] for c in chunks])
    assert xs.tolist() == list(map(float, range(30)))
    after = int(chunks[0].positions[-1])
    rest = list(iter_log(workspace, "m/1", after_position=after))
    assert sum(c.n_rows for c in rest) == 21

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

import closedloop
from closedloop.core import RunInput, RunStatus
from closedloop.errors import InvalidArgumentError, RunStateError
from closedloop.tracking import ActiveRun, start_run
from closedloop.workspace import Workspace


def stored_points(ws: Workspace, run_id: str, key: str) -> int:
    return len(ws.metadata.get_metric_history(run_id, key))


def test_buffered_logging_writes_at_end(workspace: Workspace) -> None:
    run = start_run(workspace, "exp")
    for i in range(100):
        run.log_metric("loss", 1 / (i + 1))
    assert stored_points(workspace, run.id, "loss") == 0  # still buffered
    run.end()
    assert run.info().status is RunStatus.FINISHED
    assert stored_points(workspace, run.id, "loss") == 100
    assert workspace.metadata.get_run(run.id).metrics["loss"].step == 99


def test_background_flush_on_interval(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace(metric_flush_interval=0.05)
    run = start_run(ws, "exp")
    run.log_metric("m", 1.0)
    deadline = time.monotonic() + 10
    while stored_points(ws, run.id, "m") == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert stored_points(ws, run.id, "m") == 1
    run.end()


def test_full_buffer_flushes_before_the_interval(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace(metric_buffer_size=10, metric_flush_interval=3600)
    run = start_run(ws, "exp")
    for i in range(25):
        run.log_metric("m", float(i))
    deadline = time.monotonic() + 10  # the flusher thread writes it, not this thread
    while stored_points(ws, run.id, "m") < 20 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert stored_points(ws, run.id, "m") >= 20
    run.end()
    assert stored_points(ws, run.id, "m") == 25


def test_caller_writes_itself_when_far_behind(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace(metric_buffer_size=5, metric_flush_interval=3600)
    run = start_run(ws, "exp")
    for i in range(200):
        run.log_metric("m", float(i))
        assert len(run._metrics) < 20  # back-pressure: never more than 4 buffers pending
    run.end()
    assert stored_points(ws, run.id, "m") == 200


def test_synchronous_mode_is_durable_per_call(make_workspace: Callable[..., Workspace]) -> None:
    ws = make_workspace(synchronous_logging=True)
    run = start_run(ws, "exp")
    run.log_metric("m", 1.0)
    assert stored_points(ws, run.id, "m") == 1
    run.log_params({"a": 1})
    assert ws.metadata.get_run(run.id).params == {"a": "1"}
    run.end()


def test_explicit_steps_and_auto_steps(workspace: Workspace) -> None:
    with start_run(workspace, "exp") as run:
        run.log_metric("m", 1.0, step=10)
        run.log_metric("m", 2.0)
        run.log_metrics({"a": 1.0, "b": 2.0}, step=3)
    history = workspace.metadata.get_metric_history(run.id, "m")
    assert [(p.step, p.value) for p in history] == [(10, 1.0), (11, 2.0)]
    assert workspace.metadata.get_run(run.id).metrics["b"].step == 3


def test_params_tags_and_inputs(workspace: Workspace) -> None:
    with start_run(workspace, "exp", params={"model": "rf"}, tags={"team": "a"}) as run:
        run.log_param("depth", 5)
        run.log_params({"grid": [1, 2]})
        run.set_tag("team", "b")
        run.log_input("dataset", "adult@abc", "train")
        with pytest.raises(InvalidArgumentError, match="immutable"):
            run.log_param("model", "lr")
        run.log_param("model", "rf")  # same value is fine
    info = workspace.metadata.get_run(run.id)
    assert info.params == {"model": "rf", "depth": "5", "grid": "[1, 2]"}
    assert info.tags == {"team": "b"}
    assert info.inputs == (RunInput("dataset", "adult@abc", "train"),)


def test_bad_values_are_refused_immediately(workspace: Workspace) -> None:
    with start_run(workspace, "exp") as run:
        with pytest.raises(InvalidArgumentError, match="number"):
            run.log_metric("m", "high")  # type: ignore[arg-type]
        with pytest.raises(InvalidArgumentError):
            run.log_metric("", 1.0)
        with pytest.raises(InvalidArgumentError, match="no such file"):
            run.log_artifact("/nonexistent/file.txt")


def test_exception_marks_failed_and_propagates(workspace: Workspace) -> None:
    def train(run: ActiveRun) -> None:
        run.log_metric("m", 1.0)
        _ = 1 / 0

    run = start_run(workspace, "exp")
    with pytest.raises(ZeroDivisionError), run:
        train(run)
    info = workspace.metadata.get_run(run.id)
    assert info.status is RunStatus.FAILED
    assert info.metrics["m"].value == 1.0  # buffered data survived the failure


def test_keyboard_interrupt_marks_killed(workspace: Workspace) -> None:
    with pytest.raises(KeyboardInterrupt), start_run(workspace, "exp") as run:
        raise KeyboardInterrupt
    assert workspace.metadata.get_run(run.id).status is RunStatus.KILLED


def test_ended_run_refuses_more(workspace: Workspace) -> None:
    run = start_run(workspace, "exp")
    run.end()
    run.end()  # idempotent
    assert run.info().status is RunStatus.FINISHED
    with pytest.raises(RunStateError):
        run.log_metric("m", 1.0)
    with pytest.raises(RunStateError):
        run.log_text("x", "x.txt")


def test_artifacts_round_trip(workspace: Workspace, tmp_path: Path) -> None:
    src = tmp_path / "model.bin"
    src.write_bytes(b"\x00weights" * 1000)
    with start_run(workspace, "exp") as run:
        ref = run.log_artifact(src, "model/model.bin")
        run.log_dict({"auc": 0.9}, "metrics.json")
    assert ref.size == src.stat().st_size
    assert (
        closedloop.tracking.read_artifact(workspace, run.id, "model/model.bin") == src.read_bytes()
    )
    assert b'"auc": 0.9' in closedloop.tracking.read_artifact(workspace, run.id, "metrics.json")
    out = closedloop.tracking.download_artifact(
        workspace, run.id, "model/model.bin", tmp_path / "dl"
    )
    assert out.read_bytes() == src.read_bytes()


def test_many_threads_one_run(workspace: Workspace) -> None:
    run = start_run(workspace, "exp")
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(500):
                run.log_metric(f"t{n}", float(i))
        except BaseException as e:  # asserted below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    run.end()
    assert errors == []
    for n in range(8):
        history = workspace.metadata.get_metric_history(run.id, f"t{n}")
        assert [p.value for p in history] == [float(i) for i in range(500)]


def test_asyncio_context_and_concurrent_tasks(workspace: Workspace) -> None:
    async def main() -> str:
        async with start_run(workspace, "exp") as run:

            async def task(n: int) -> None:
                for i in range(100):
                    run.log_metric(f"a{n}", float(i))
                    await asyncio.sleep(0)

            await asyncio.gather(*(task(n) for n in range(5)))
        return run.id

    run_id = asyncio.run(main())
    info = workspace.metadata.get_run(run_id)
    assert info.status is RunStatus.FINISHED
    assert {k: m.step for k, m in info.metrics.items()} == {f"a{n}": 99 for n in range(5)}


def test_top_level_start_run_opens_and_closes_its_workspace(tmp_path: Path) -> None:
    closedloop.init(tmp_path).close()
    with closedloop.start_run("exp", workspace=tmp_path, params={"p": 1}) as run:
        run.log_metric("m", 2.0)
    page = closedloop.search_runs("metrics.m = 2", workspace=tmp_path)
    assert [r.id for r in page.runs] == [run.id]


_EXIT_SCRIPT = """
import sys, closedloop
client = closedloop.Client(sys.argv[1])
run = client.start_run("exit")
print(run.id, flush=True)
for i in range(50):
    run.log_metric("m", float(i))
if sys.argv[2] == "crash":
    raise RuntimeError("boom")
"""


@pytest.mark.parametrize(("mode", "status"), [("ok", "FINISHED"), ("crash", "FAILED")])
def test_interpreter_exit_flushes_and_ends(tmp_path: Path, mode: str, status: str) -> None:
    closedloop.init(tmp_path).close()
    proc = subprocess.run(
        [sys.executable, "-c", _EXIT_SCRIPT, str(tmp_path), mode],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert (proc.returncode == 0) == (mode == "ok"), proc.stderr
    run_id = proc.stdout.split()[0]
    with closedloop.Client(tmp_path) as client:
        info = client.runs.get(run_id)
        assert info.status.value == status
        assert len(client.runs.history(run_id, "m")) == 50


def test_new_runs_do_not_postpone_a_due_background_flush(
    make_workspace: Callable[..., Workspace],
) -> None:
    ws = make_workspace(metric_flush_interval=0.3)
    run = start_run(ws, "exp")
    run.log_metric("m", 1.0)
    others = []
    deadline = time.monotonic() + 3
    while stored_points(ws, run.id, "m") == 0 and time.monotonic() < deadline:
        others.append(start_run(ws, "other"))  # each start reschedules the flusher
        time.sleep(0.05)
    assert stored_points(ws, run.id, "m") == 1
    for other in (*others, run):
        other.end()

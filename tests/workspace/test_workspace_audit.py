"""The ``Workspace.action`` choke point and the audit log it writes.

Most tests here check that reads of runs are audited, so they use ``ws_all``: a workspace
opened with ``audit_reads="all"``. Under the default policy (``data_and_models``) run and
experiment reads are intentionally not audited (tests/workspace/test_workspace_audit_policy).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from closedloop import tracking
from closedloop.config import Settings
from closedloop.core import AuditEvent
from closedloop.errors import NotFoundError, StorageError
from closedloop.workspace import Actions, Workspace, current_actor

if sys.platform == "win32":  # pragma: no cover
    import getpass

    OS_USER = getpass.getuser()
else:
    import pwd

    # The real uid's name, read here independently of closedloop.
    OS_USER = pwd.getpwuid(os.getuid()).pw_name


@pytest.fixture
def ws_all(root: Path) -> Iterator[Workspace]:
    """The workspace at ``root``, open, auditing every read."""
    with Workspace.open(root, settings=Settings(audit_reads="all")) as workspace:
        yield workspace


def _events(ws: Workspace) -> list[AuditEvent]:
    """All events, oldest first."""
    return list(reversed(ws.metadata.list_audit_events(limit=1000)))


def test_sdk_verbs_are_audited_with_the_os_user(ws_all: Workspace, tmp_path: Path) -> None:
    with tracking.start_run(ws_all, "exp", params={"lr": 0.1}) as run:
        run.log_metric("auc", 0.9)
        run.flush()
        run.log_bytes(b"model bytes", "model.bin")
    tracking.search_runs(ws_all, "metrics.auc > 0.5")
    tracking.get_run(ws_all, run.id)
    tracking.read_artifact(ws_all, run.id, "model.bin")
    tracking.download_artifact(ws_all, run.id, "model.bin", tmp_path / "out.bin")
    tracking.delete_run(ws_all, run.id)

    events = _events(ws_all)
    actions = [e.action for e in events]
    for expected in (
        "run.create",
        "run.log",
        "run.end",
        "run.search",
        "run.read",
        "run.delete",
        "artifact.put",
        "artifact.get",
    ):
        assert expected in actions, f"{expected} missing from {actions}"
    # the order of the life cycle is kept
    assert actions.index("run.create") < actions.index("artifact.put") < actions.index("run.end")
    assert actions.index("run.end") < actions.index("run.delete")
    assert actions.count("artifact.get") == 2

    assert {e.actor for e in events} == {OS_USER}
    assert {e.outcome for e in events} == {"ok"}
    assert all(e.time > 0 for e in events)

    by_action = {e.action: e for e in events}
    assert by_action["run.create"].resource == f"run:{run.id}"
    assert by_action["run.create"].detail["experiment"] == "default/exp"
    assert by_action["artifact.put"].resource == f"run:{run.id}/model.bin"
    assert by_action["artifact.put"].detail["size"] == len(b"model bytes")
    assert by_action["artifact.put"].detail["digest"].startswith("sha256:")
    assert by_action["run.end"].detail["status"] == "FINISHED"
    assert by_action["run.log"].detail["metrics"] == 1
    assert by_action["run.search"].detail["filter"] == "metrics.auc > 0.5"
    assert by_action["run.search"].detail["returned"] == 1
    assert by_action["run.delete"].resource == f"run:{run.id}"
    assert by_action["run.delete"].detail["blobs_freed"] == 1


def test_actor_is_the_operating_system_user(root: Path) -> None:
    with Workspace.open(root) as ws:
        assert ws.actor == OS_USER
        with tracking.start_run(ws, "exp") as run:
            pass
        events = ws.metadata.list_audit_events(actor=OS_USER)
    assert {e.action for e in events} == {"run.create", "run.end"}
    with Workspace.open(root) as ws:
        assert ws.metadata.get_run(run.id).user == OS_USER


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX user ids")
def test_actor_cannot_be_spoofed_through_the_environment(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in ("USER", "LOGNAME", "USERNAME", "LNAME"):
        monkeypatch.setenv(variable, "alice-spoofed")
    assert current_actor() == OS_USER != "alice-spoofed"
    with Workspace.open(root) as ws, tracking.start_run(ws, "exp") as run:
        assert ws.actor == OS_USER
    with Workspace.open(root) as ws:
        assert ws.metadata.get_run(run.id).user == OS_USER
        assert ws.metadata.list_audit_events(actor="alice-spoofed") == []


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX user ids")
def test_actor_without_a_passwd_entry_is_the_uid(monkeypatch: pytest.MonkeyPatch) -> None:
    import pwd

    def no_entry(uid: int) -> pwd.struct_passwd:
        raise KeyError(f"getpwuid(): uid not found: {uid}")

    monkeypatch.setenv("USER", "alice-spoofed")
    monkeypatch.setattr(pwd, "getpwuid", no_entry)
    assert current_actor() == str(os.getuid())


def test_failing_action_is_recorded_and_still_raises(ws_all: Workspace) -> None:
    missing = "0" * 32
    with pytest.raises(NotFoundError):
        tracking.get_run(ws_all, missing)
    (event,) = ws_all.metadata.list_audit_events(action="run.read")
    assert event.outcome == "error:NOT_FOUND"
    assert event.resource == f"run:{missing}"
    assert event.actor == OS_USER


def test_bad_filter_is_recorded_with_its_code(ws_all: Workspace) -> None:
    with pytest.raises(ValueError, match="numeric"):
        tracking.search_runs(ws_all, "metrics.auc > 'x'")
    (event,) = ws_all.metadata.list_audit_events(action="run.search")
    assert event.outcome == "error:FILTER_SYNTAX"


def test_action_stores_facts_and_foreign_errors_by_type(ws: Workspace) -> None:
    # the gate takes only catalog entries (tests/workspace/test_workspace_catalog.py)
    with ws.action(Actions.DATASET_INGEST, "thing:1", given=1) as facts:
        facts["added"] = "yes"
    with pytest.raises(RuntimeError, match="boom"), ws.action("model.register", "thing:2"):
        raise RuntimeError("boom")

    ok, fail = _events(ws)
    assert (ok.action, ok.resource, ok.outcome) == ("dataset.ingest", "thing:1", "ok")
    assert ok.detail == {"given": 1, "added": "yes"}
    assert (fail.action, fail.outcome) == ("model.register", "error:RuntimeError")


def test_an_action_that_cannot_be_audited_fails(
    ws: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(events: object) -> None:
        raise StorageError("audit table is gone")

    monkeypatch.setattr(ws.metadata, "append_audit_events", broken)
    done = []
    with pytest.raises(StorageError, match="audit table"), ws.action(Actions.ARTIFACT_GC, "x"):
        done.append(True)
    assert done == [True]


def test_a_failing_audit_write_does_not_mask_the_original_error(
    ws_all: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(events: object) -> None:
        raise StorageError("audit table is gone")

    monkeypatch.setattr(ws_all.metadata, "append_audit_events", broken)
    with pytest.raises(NotFoundError):
        tracking.get_run(ws_all, "f" * 32)


def test_every_read_of_a_run_through_the_sdk_is_audited(ws_all: Workspace) -> None:
    with tracking.start_run(ws_all, "exp") as run:
        run.log_metric("loss", 1.0)
    before = len(ws_all.metadata.list_audit_events(action="run.read"))
    tracking.get_metric_history(ws_all, run.id, "loss")
    tracking.compare_runs(ws_all, [run.id, run.id])
    tracking.list_artifacts(ws_all, run.id)
    reads = ws_all.metadata.list_audit_events(action="run.read")
    assert len(reads) == before + 2
    assert reads[0].resource == f"runs:{run.id},{run.id}"
    assert reads[1].detail["metric"] == "loss"
    assert ws_all.metadata.list_audit_events(action="artifact.list")[0].outcome == "ok"

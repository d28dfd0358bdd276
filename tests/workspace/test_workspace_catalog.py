"""The action catalog: every gate call in the source uses an entry, and every entry is used."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import closedloop
from closedloop.errors import InvalidArgumentError
from closedloop.workspace import Access, Actions, AuditReads, ResourceKind, Workspace
from closedloop.workspace._actions import is_audited, lookup_action

SRC = Path(closedloop.__file__).parent
CATALOG = SRC / "workspace" / "_actions.py"


def _modules() -> list[tuple[Path, ast.Module]]:
    return [(p, ast.parse(p.read_text(encoding="utf-8"))) for p in sorted(SRC.rglob("*.py"))]


def _gate_calls() -> list[tuple[Path, ast.Call]]:
    """Every ``<something>.action(...)`` call in the package."""
    return [
        (path, node)
        for path, tree in _modules()
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "action"
    ]


def _is_entry(node: ast.expr) -> bool:
    return (
        isinstance(node, ast.Attribute)
        and isinstance(node.value, ast.Name)
        and node.value.id == "Actions"
        and node.attr in Actions.__members__
    )


def test_every_gate_call_in_the_source_names_a_catalog_entry() -> None:
    calls = _gate_calls()
    assert len(calls) >= 30  # the scan finds the gate calls (there are ~40)
    bad = [
        f"{path.relative_to(SRC)}:{call.lineno}"
        for path, call in calls
        if not call.args or not _is_entry(call.args[0])
    ]
    assert bad == [], "gate calls without an Actions entry: " + ", ".join(bad)


def test_every_catalog_entry_is_used_somewhere() -> None:
    used = {
        node.attr
        for path, tree in _modules()
        if path != CATALOG
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and _is_entry(node)
    }
    assert set(Actions.__members__) - used == set()


def test_entries_are_dotted_unique_and_described() -> None:
    values = [a.value for a in Actions]
    assert len(values) == len(set(values))
    for entry in Actions:
        assert re.fullmatch(r"[a-z]+\.[a-z_]+", entry.value), entry
        assert isinstance(entry.kind, ResourceKind)
        assert isinstance(entry.access, Access)
        assert entry == entry.value  # usable as the text of the audit log's action
    assert Actions.MODEL_REGISTER.kind is ResourceKind.MODEL
    assert Actions.MODEL_REGISTER.access is Access.WRITE
    assert Actions.RUN_SEARCH.access is Access.READ


def test_a_name_is_accepted_only_if_it_names_an_entry(ws: Workspace) -> None:
    assert lookup_action("run.create") is Actions.RUN_CREATE
    assert lookup_action(Actions.RUN_CREATE) is Actions.RUN_CREATE
    for name in ("custom.ok", "RUN_CREATE", "run.Create", ""):
        with pytest.raises(InvalidArgumentError, match="not an action of the catalog"):
            lookup_action(name)
    ran = []
    with pytest.raises(InvalidArgumentError, match=r"custom\.ok"), ws.action("custom.ok", "x:1"):
        ran.append(True)  # pragma: no cover - the gate refuses before the body
    assert ran == []
    assert ws.metadata.list_audit_events() == []
    with ws.action("dataset.ingest", "dataset:x"):  # a catalog name as text works
        pass
    assert [e.action for e in ws.metadata.list_audit_events()] == ["dataset.ingest"]


@pytest.mark.parametrize(
    ("policy", "audited"),
    [
        ("all", {"run.read", "experiment.list", "loop.read", "dataset.read", "model.load"}),
        ("data_and_models", {"dataset.read", "model.load", "prediction.read", "artifact.get"}),
        ("none", set()),
    ],
)
def test_which_reads_each_policy_audits(policy: AuditReads, audited: set[str]) -> None:
    reads = {a.value for a in Actions if a.access is Access.READ}
    got = {a for a in reads if is_audited(lookup_action(a), policy)}
    assert audited <= got
    if policy == "all":
        assert got == reads
    if policy == "data_and_models":
        assert {"run.read", "run.search", "experiment.read", "loop.read"}.isdisjoint(got)
    writes = [a for a in Actions if a.access is Access.WRITE]
    assert all(is_audited(a, policy) for a in writes)

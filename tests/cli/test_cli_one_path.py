"""The CLI takes the SDK's path: verbs and client areas, never the stores behind them."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pandas as pd
from cli_support import Cli, Populated
from sklearn.dummy import DummyClassifier

import closedloop
from closedloop.core import ColumnSchema, LogicalType, TableSchema
from closedloop.testing import log_request

CLI = Path(closedloop.__file__).parent / "cli"
WORKSPACE_NAMES = frozenset({"ws", "workspace", "view"})


def _is_workspace(node: ast.expr) -> bool:
    """``ws``, ``workspace``, ``view`` or ``<anything>.workspace`` (``client.runs`` is not)."""
    if isinstance(node, ast.Name):
        return node.id in WORKSPACE_NAMES
    return isinstance(node, ast.Attribute) and node.attr == "workspace"


def _reach_arounds(path: Path) -> list[str]:
    """Where ``path`` imports the SQL backend or reaches a workspace's stores."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
            "closedloop.metadata._sql"
        ):
            found.append(f"{path.name}:{node.lineno} imports {node.module}")
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("closedloop.metadata._sql"):
                    found.append(f"{path.name}:{node.lineno} imports {alias.name}")
        if isinstance(node, ast.Attribute) and (
            node.attr == "metadata" or (node.attr == "artifacts" and _is_workspace(node.value))
        ):
            found.append(f"{path.name}:{node.lineno} reaches .{node.attr}")
    return found


def test_the_cli_never_reaches_the_stores() -> None:
    modules = sorted(CLI.glob("*.py"))
    assert len(modules) >= 10  # the scan sees the CLI
    bad = [hit for path in modules for hit in _reach_arounds(path)]
    assert bad == [], "the CLI reaches around the verbs: " + ", ".join(bad)


def test_the_scan_catches_a_reach_around(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        "from closedloop.metadata._sql.tables import SCHEMA_HEAD\n"
        "import closedloop.metadata._sql.store\n"
        "n = ws.metadata.predictions.count()\n"
        "blob = client.workspace.artifacts.get_bytes('x')\n"
        "refs = client.runs.artifacts('run')\n",
        encoding="utf-8",
    )
    assert len(_reach_arounds(probe)) == 4


def _served(root: Path) -> None:
    frame = pd.DataFrame({"x": [1, 2]})
    with closedloop.Client(root) as client:
        client.models.register(
            "m",
            DummyClassifier().fit(frame, ["a", "b"]),
            signature=TableSchema((ColumnSchema("x", LogicalType.INTEGER),)),
            target="y",
            aliases=["champion"],
        )
        for i in (1, 2):
            log_request(
                client.workspace,
                "m/1",
                pd.DataFrame({"x": [i]}),
                ["a"],
                request_id=f"req{i}",
                time=1000 + i,
                latency_ms=1.5,
            )


def test_models_predictions_reads_the_log_through_the_verbs(cli: Cli, populated: Populated) -> None:
    _served(populated.root)
    r = cli("-w", populated.root, "models", "predictions", "m@champion", "-n", "1")
    assert r.code == 0, r.err
    assert "2 prediction(s) logged for m/1" in r.out
    assert "req1" in r.out
    assert "req2" not in r.out
    r = cli("-w", populated.root, "models", "predictions", "m/1", "--json")
    docs = [json.loads(x) for x in r.out.splitlines()]
    assert [d["request_id"] for d in docs] == ["req1", "req2"]
    assert docs[0]["inputs"] == {"x": 1}
    assert docs[0]["output"] == {"label": "a", "probabilities": None}
    with closedloop.Client(populated.root) as client:
        reads = client.audit.list(action="prediction.read")
    assert {e.resource for e in reads} == {"model:m/1"}
    assert len(reads) == 4  # count and list, per invocation


def test_models_decisions_without_any(cli: Cli, populated: Populated) -> None:
    r = cli("-w", populated.root, "models", "decisions")
    assert r.code == 0, r.err
    assert "no decisions recorded" in r.out


def test_audit_reads_the_log_through_its_verb(cli: Cli, populated: Populated) -> None:
    r = cli("-w", populated.root, "audit", "--action", "run.create")
    assert r.code == 0, r.err
    assert r.out.count("run.create") == 3
    assert "run.end" not in r.out

"""Row helpers of the SQL metadata store: input checks, row building, run hydration."""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, select

from closedloop.core import Metric, Run, RunInput, RunStatus
from closedloop.errors import InvalidArgumentError
from closedloop.metadata._sql.tables import latest_metrics, params, run_inputs, tags

__all__ = [
    "check_artifact_path",
    "check_name",
    "check_pairs",
    "hydrate_runs",
    "metric_row",
    "pair_rows",
]

MAX_KEY = 255
_NAN = float("nan")


def metric_row(run_id: str, m: Metric) -> dict[str, Any]:
    value = None if math.isnan(m.value) else m.value  # SQLite cannot store NaN; NULL means NaN
    return {
        "run_id": run_id,
        "key": m.key,
        "value": value,
        "step": m.step,
        "timestamp": m.timestamp,
    }


def pair_rows(run_id: str, pairs: Mapping[str, str]) -> list[dict[str, str]]:
    return [{"run_id": run_id, "key": k, "value": v} for k, v in pairs.items()]


def check_name(what: str, name: str) -> None:
    if not isinstance(name, str) or not name.strip():
        raise InvalidArgumentError(f"{what} name must be a non-empty string, got {name!r}")
    if len(name) > MAX_KEY:
        raise InvalidArgumentError(
            f"{what} name {name[:40]!r}… is {len(name)} characters; at most {MAX_KEY} fit"
        )


def check_pairs(what: str, pairs: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for k, v in pairs.items():
        check_name(what, k)
        out[k] = (
            v if isinstance(v, str) else json.dumps(v) if isinstance(v, dict | list) else str(v)
        )
    return out


def check_artifact_path(path: str) -> str:
    clean = path.replace("\\", "/").strip("/")
    parts = clean.split("/")
    if not clean or any(p in ("", ".", "..") for p in parts) or len(clean) > 1024:
        raise InvalidArgumentError(
            f"artifact path {path!r} is not a clean relative path",
            hint="use a relative path such as 'model/model.pkl' without '..'",
        )
    return clean


def hydrate_runs(conn: Connection, rows: Sequence[Any]) -> list[Run]:
    """Full ``Run`` snapshots for ``runs`` rows: one query per child table."""
    ids = [r.id for r in rows]
    if not ids:
        return []
    p: dict[str, dict[str, str]] = defaultdict(dict)
    for run_id, k, v in conn.execute(select(params).where(params.c.run_id.in_(ids))):
        p[run_id][k] = v
    t: dict[str, dict[str, str]] = defaultdict(dict)
    for run_id, k, v in conn.execute(select(tags).where(tags.c.run_id.in_(ids))):
        t[run_id][k] = v
    m: dict[str, dict[str, Metric]] = defaultdict(dict)
    q = select(latest_metrics).where(latest_metrics.c.run_id.in_(ids))
    for run_id, k, v, step, ts in conn.execute(q):
        m[run_id][k] = Metric(k, _NAN if v is None else v, step, ts)
    inputs: dict[str, list[RunInput]] = defaultdict(list)
    for run_id, kind, ref, name in conn.execute(
        select(run_inputs).where(run_inputs.c.run_id.in_(ids))
    ):
        inputs[run_id].append(RunInput(kind, ref, name))
    return [
        Run(
            id=r.id,
            experiment_id=r.experiment_id,
            name=r.name,
            status=RunStatus(r.status),
            user=r.user,
            start_time=r.start_time,
            end_time=r.end_time,
            params=p.get(r.id, {}),
            metrics=m.get(r.id, {}),
            tags=t.get(r.id, {}),
            inputs=tuple(inputs.get(r.id, ())),
        )
        for r in rows
    ]

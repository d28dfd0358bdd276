"""Evidently 0.7.23, the peer: its venv (``benchmarks/.venv-evidently``) and its drift run.

The first half runs in the benchmark's interpreter (stdlib only): it creates the venv on
first use. The second half runs inside that venv, in a worker process: ``end_to_end`` is
``Report([DataDriftPreset()]).run(current, reference)`` with a ``DataDefinition`` naming the
numeric and categorical columns, so Evidently picks each column's method itself (for more
than 1,000 reference rows: normed Wasserstein for numeric columns, Jensen-Shannon for
categorical ones, both with threshold 0.1), and the per-column scores are read back from
``snapshot.dict()`` (its ``ValueDrift`` metrics).

Evidently 0.7.23 does not import with pandas 3 (it imports
``pandas.core.dtypes.common.infer_dtype_from_object``), so the venv pins ``pandas<3``.
Telemetry is switched off in the workers (``DO_NOT_TRACK=1``).
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = [
    "EVIDENTLY_SPEC",
    "build_profile",
    "end_to_end",
    "ensure_evidently_venv",
    "evidently_versions",
    "score_profile",
]

EVIDENTLY_SPEC = ["evidently==0.7.23", "pandas<3"]
#: Evidently's method names (``ValueDrift.method`` once resolved) → the benchmark's names.
METHODS = {
    "Wasserstein distance (normed)": "wasserstein",
    "Jensen-Shannon distance": "jensenshannon",
}


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def ensure_evidently_venv(venv: Path) -> Path:
    """The ``python`` of ``venv``, creating it and installing Evidently when missing."""
    spec = [*EVIDENTLY_SPEC, f"pyarrow=={metadata.version('pyarrow')}"]
    stamp = venv / ".bench-installed"
    python = venv / "bin" / "python"
    if python.exists() and stamp.exists() and stamp.read_text().split() == spec:
        return python
    _log(f"installing {' '.join(spec)} into {venv} (once)")
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, *spec], check=True)
    stamp.write_text(" ".join(spec))
    return python


def evidently_versions(python: Path) -> dict[str, str]:
    """Versions of Evidently's stack inside its venv."""
    packages = ["evidently", "pandas", "numpy", "scipy", "pyarrow"]
    code = (
        "import json, importlib.metadata as m\n"
        f"print(json.dumps({{p: m.version(p) for p in {packages!r}}}))"
    )
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=False)
    try:
        versions: dict[str, str] = json.loads(out.stdout)
    except json.JSONDecodeError:
        return {"evidently": "unknown"}
    return versions


# inside Evidently's venv -----------------------------------------------------------------------
def prepare() -> None:
    """Import Evidently before the timer starts."""
    import evidently  # noqa: F401
    from evidently.presets import DataDriftPreset  # noqa: F401


def end_to_end(ref_df: Any, cur_df: Any, numeric: Sequence[str], categorical: Sequence[str]) -> Any:
    """Evidently's ``DataDriftPreset`` report on the two frames: one score per column."""
    from evidently import DataDefinition, Dataset, Report
    from evidently.presets import DataDriftPreset

    from _monitoring_data import Score

    definition = DataDefinition(
        numerical_columns=list(numeric), categorical_columns=list(categorical)
    )
    current = Dataset.from_pandas(cur_df, data_definition=definition)
    reference = Dataset.from_pandas(ref_df, data_definition=definition)
    snapshot = Report([DataDriftPreset()]).run(current, reference)
    scores: dict[str, Score] = {}
    for metric in snapshot.dict()["metrics"]:
        config = metric["config"]
        if not config.get("type", "").endswith(":ValueDrift"):
            continue
        method = METHODS.get(config["method"], config["method"])
        value = float(metric["value"])
        scores[config["column"]] = Score(method, value, value >= float(config["threshold"]))
    missing = [c for c in [*numeric, *categorical] if c not in scores]
    if missing:
        raise RuntimeError(f"Evidently's report has no ValueDrift for {missing}")
    return scores


def build_profile(*args: Any) -> Path:
    raise NotImplementedError("Evidently 0.7 has no stored reference profile to score against")


def score_profile(*args: Any) -> Any:
    raise NotImplementedError("Evidently 0.7 has no stored reference profile to score against")

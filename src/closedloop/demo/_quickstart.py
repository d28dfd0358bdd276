"""The quickstart demo: a real, tracked model comparison on a dataset scikit-learn ships.

Two candidate learning rates of a logistic-loss SGD classifier are trained epoch by epoch on
the Wisconsin breast-cancer data (569 rows, 30 features). Each candidate is a run with its
params, a metric series per epoch, the fitted model and its test report as artifacts. The
better candidate is tagged. Nothing here is simulated: every number is computed.
"""

from __future__ import annotations

import io
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from closedloop._client import Client, init
from closedloop.config import WORKSPACE_DIR

__all__ = ["QuickstartResult", "run_quickstart"]


@dataclass(frozen=True, slots=True)
class QuickstartResult:
    """What the demo recorded."""

    workspace: Path
    run_ids: list[str]
    best_run_id: str
    best_auc: float
    plot: Path


def run_quickstart(
    path: str | Path, *, epochs: int = 30, say: Callable[[str], None] = print
) -> QuickstartResult:
    """Create (or reuse) a workspace at ``path`` and record the demo runs in it."""
    import numpy as np
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import SGDClassifier
    from sklearn.metrics import accuracy_score, log_loss, roc_auc_score
    from sklearn.model_selection import train_test_split
    from sklearn.preprocessing import StandardScaler

    root = Path(path).resolve()
    client = init(root) if not (root / WORKSPACE_DIR).is_dir() else Client(root)
    say(f"workspace: {root}")
    data = load_breast_cancer()
    x_train, x_test, y_train, y_test = train_test_split(
        data.data, data.target, test_size=0.25, random_state=0, stratify=data.target
    )
    scaler = StandardScaler().fit(x_train)
    x_train, x_test = scaler.transform(x_train), scaler.transform(x_test)
    classes = np.unique(y_train)
    say(f"data: breast cancer, {len(x_train)} train / {len(x_test)} test rows, 30 features")

    results: list[tuple[str, float]] = []
    with client:
        for eta0 in (0.001, 0.05):
            params = {
                "model": "SGDClassifier",
                "loss": "log_loss",
                "learning_rate": "constant",
                "eta0": eta0,
                "epochs": epochs,
                "scaler": "StandardScaler",
            }
            with client.start_run("quickstart", params=params, tags={"demo": "quickstart"}) as run:
                model = SGDClassifier(
                    loss="log_loss", learning_rate="constant", eta0=eta0, random_state=0
                )
                for epoch in range(epochs):
                    model.partial_fit(x_train, y_train, classes=classes)
                    p_train = model.predict_proba(x_train)[:, 1]
                    p_test = model.predict_proba(x_test)[:, 1]
                    run.log_metrics(
                        {
                            "train_log_loss": log_loss(y_train, p_train),
                            "test_log_loss": log_loss(y_test, p_test),
                            "test_accuracy": accuracy_score(y_test, p_test > 0.5),
                        },
                        step=epoch,
                    )
                auc = float(roc_auc_score(y_test, model.predict_proba(x_test)[:, 1]))
                run.log_metric("test_roc_auc", auc)
                buffer = io.BytesIO()
                pickle.dump({"scaler": scaler, "model": model}, buffer)
                run.log_bytes(buffer.getvalue(), "model/model.pkl")
                run.log_dict(
                    {"test_roc_auc": auc, "feature_names": list(data.feature_names)},
                    "report.json",
                )
                results.append((run.id, auc))
                say(f"run {run.id[:12]}  eta0={eta0:<6}  test ROC-AUC {auc:.4f}")
        best_id, best_auc = max(results, key=lambda r: r[1])
        curves = client.runs.plot([r[0] for r in results])
        plot_path = root / "learning_curves.html"
        plot_path.write_text(curves, encoding="utf-8")
        with client.start_run("quickstart", name="selection", tags={"demo": "quickstart"}) as sel:
            sel.log_params({"candidates": [r[0] for r in results], "criterion": "test_roc_auc"})
            sel.log_metric("best_test_roc_auc", best_auc)
            sel.set_tag("best_run", best_id)
            sel.log_artifact(plot_path, "learning_curves.html")
    say(f"best: run {best_id[:12]} with test ROC-AUC {best_auc:.4f}")
    say(f"learning curves: {plot_path}")
    return QuickstartResult(root, [r[0] for r in results], best_id, best_auc, plot_path)

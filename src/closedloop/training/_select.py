"""Model selection by cross-validation; every candidate is a tracked run."""

from __future__ import annotations

import io
import pickle
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from closedloop.core import DatasetVersion, ProgressCallback, report_progress
from closedloop.data import get_version, load
from closedloop.errors import InvalidArgumentError
from closedloop.features import FeatureSpec
from closedloop.tracking import start_run
from closedloop.training._candidates import get_candidate
from closedloop.workspace import Workspace

__all__ = [
    "PIPELINE_ARTIFACT",
    "CandidateResult",
    "Selection",
    "frame_and_version",
    "select_model",
]

PIPELINE_ARTIFACT = "model/pipeline.pkl"


@dataclass(frozen=True, slots=True)
class CandidateResult:
    """One candidate's cross-validated scores."""

    name: str
    run_id: str
    scores: dict[str, float]
    fold_scores: list[float]


@dataclass(frozen=True, slots=True)
class Selection:
    """The outcome of model selection.

    Attributes:
        best: The winning candidate.
        results: Every candidate, in the order tried.
        pipeline: The winner refitted on all the training data (features + model).
        classes: Class labels in ``predict_proba`` column order.
        metric: The selection metric (higher is better).
        run_id: The refit run, which holds the final pipeline (``model/pipeline.pkl``).
        artifact_path: The pipeline's artifact path in the refit run (what
            ``registry.register_model_from_run`` registers without storing it again).
        dataset_version: The training data version, when the data came with one.
    """

    best: CandidateResult
    results: list[CandidateResult]
    pipeline: Any
    classes: list[str]
    metric: str
    run_id: str
    artifact_path: str = PIPELINE_ARTIFACT
    dataset_version: DatasetVersion | None = None


def select_model(
    ws: Workspace,
    data: pd.DataFrame | DatasetVersion | str,
    *,
    target: str,
    spec: FeatureSpec,
    candidates: Sequence[str] = ("logistic_regression", "hist_gradient_boosting"),
    dataset_version: DatasetVersion | None = None,
    cv: int = 5,
    experiment: str = "training",
    seed: int = 0,
    tags: dict[str, str] | None = None,
    say: Callable[[str], None] | None = None,
    progress: ProgressCallback | None = None,
) -> Selection:
    """Cross-validate classification candidates and refit the best on all of ``data``.

    ``data`` is a dataset version (or its reference, ``name@latest`` / ``name/<number>``),
    loaded through ``closedloop.data.load`` (verified and audited) and linked to every run,
    or an in-memory frame, linked to ``dataset_version`` when that is given.

    Each candidate becomes a run with its params, the feature spec, its per-fold and mean
    ROC-AUC and log loss, and a link to the dataset version. The selection metric is mean
    cross-validated ROC-AUC; the winner is refitted on all the data in a run of its own that
    stores the fitted pipeline.

    Folds are fitted one after another in this process; ``progress`` hears of each one
    (task ``"cv <candidate>"``, in folds) and of the refit (task ``"refit <candidate>"``).

    Raises:
        InvalidArgumentError: The target is missing, not binary, a candidate is unknown,
            or ``data`` is a version other than ``dataset_version``.
        NotFoundError: ``data`` names no dataset version.
    """
    from sklearn.model_selection import StratifiedKFold, cross_validate
    from sklearn.pipeline import Pipeline

    data, dataset_version = frame_and_version(ws, data, dataset_version)

    if target not in data.columns:
        raise InvalidArgumentError(f"target {target!r} is not a column of the training data")
    y = data[target].astype(str)
    if y.nunique() != 2:
        raise InvalidArgumentError(
            f"target {target!r} has {y.nunique()} classes; this selection handles binary "
            "classification",
            hint="give a two-class target",
        )
    x = data[spec.columns]
    folds = StratifiedKFold(n_splits=cv, shuffle=True, random_state=seed)
    results: list[CandidateResult] = []
    for name in candidates:
        candidate = get_candidate(name)
        if candidate.task != "classification":
            raise InvalidArgumentError(f"candidate {name!r} is a {candidate.task} model")
        pipeline = Pipeline([("features", spec.build()), ("model", candidate.make(seed))])
        params: dict[str, Any] = {
            "candidate": name,
            "loss": candidate.loss,
            "cv_folds": cv,
            "seed": seed,
            "target": target,
            "features": spec.to_dict(),
            **{f"model.{k}": v for k, v in pipeline.named_steps["model"].get_params().items()},
        }
        with start_run(
            ws, experiment, name=name, params=params, tags={"stage": "selection", **(tags or {})}
        ) as run:
            if dataset_version is not None:
                run.log_input("dataset", dataset_version.id, "train")
            task = f"cv {name}"
            report_progress(progress, task, 0, cv, "folds")
            aucs: list[float] = []
            losses: list[float] = []
            fit_seconds = 0.0
            for fold, (train_idx, test_idx) in enumerate(folds.split(x, y)):
                # One fold at a time (what cross_validate does with n_jobs=1), so each
                # finished fold is logged and reported as it comes.
                result = cross_validate(
                    pipeline,
                    x,
                    y,
                    cv=[(train_idx, test_idx)],
                    scoring=("roc_auc", "neg_log_loss"),
                    n_jobs=1,
                )
                auc = float(result["test_roc_auc"][0])
                loss = float(-result["test_neg_log_loss"][0])
                fit_seconds += float(result["fit_time"][0])
                aucs.append(auc)
                losses.append(loss)
                run.log_metrics({"cv_fold_roc_auc": auc, "cv_fold_log_loss": loss}, step=fold)
                report_progress(progress, task, fold + 1, cv, "folds")
            scores = {
                "cv_roc_auc": float(sum(aucs) / len(aucs)),
                "cv_roc_auc_std": float(pd.Series(aucs).std(ddof=0)),
                "cv_log_loss": float(sum(losses) / len(losses)),
                "cv_fit_seconds": fit_seconds,
            }
            run.log_metrics(scores)
        results.append(CandidateResult(name, run.id, scores, aucs))
        if say is not None:
            say(
                f"candidate {name}: CV ROC-AUC {scores['cv_roc_auc']:.4f} "
                f"± {scores['cv_roc_auc_std']:.4f}, log loss {scores['cv_log_loss']:.4f} "
                f"(run {run.id[:12]})"
            )
    best = max(results, key=lambda r: r.scores["cv_roc_auc"])
    final = Pipeline([("features", spec.build()), ("model", get_candidate(best.name).make(seed))])
    final_params = {
        "candidate": best.name,
        "selected_by": "cv_roc_auc",
        "candidate_runs": [r.run_id for r in results],
        "target": target,
        "features": spec.to_dict(),
        "seed": seed,
    }
    with start_run(
        ws,
        experiment,
        name=f"{best.name} (refit)",
        params=final_params,
        tags={"stage": "refit", **(tags or {})},
    ) as run:
        if dataset_version is not None:
            run.log_input("dataset", dataset_version.id, "train")
        report_progress(progress, f"refit {best.name}", 0, 1, "fits")
        final.fit(x, y)
        report_progress(progress, f"refit {best.name}", 1, 1, "fits")
        run.log_metrics({"cv_roc_auc": best.scores["cv_roc_auc"], "train_rows": float(len(x))})
        buffer = io.BytesIO()
        pickle.dump(final, buffer, protocol=5)
        run.log_bytes(buffer.getvalue(), PIPELINE_ARTIFACT)
    if say is not None:
        say(f"selected {best.name}; refitted on {len(x)} rows (run {run.id[:12]})")
    classes = [str(c) for c in final.classes_]
    return Selection(
        best, results, final, classes, "cv_roc_auc", run.id, PIPELINE_ARTIFACT, dataset_version
    )


def frame_and_version(
    ws: Workspace,
    data: pd.DataFrame | DatasetVersion | str,
    dataset_version: DatasetVersion | None = None,
) -> tuple[pd.DataFrame, DatasetVersion | None]:
    """A frame and its dataset version from a version, a reference, or a frame.

    A version or reference is loaded through ``closedloop.data.load``; a frame is kept as
    it is, with ``dataset_version`` (if any) as its lineage.

    Raises:
        InvalidArgumentError: ``data`` is a version other than ``dataset_version``.
        NotFoundError: ``data`` names no dataset version.
    """
    if isinstance(data, pd.DataFrame):
        return data, dataset_version
    version = data if isinstance(data, DatasetVersion) else get_version(ws, data)
    if dataset_version is not None and dataset_version.id != version.id:
        raise InvalidArgumentError(
            f"the data are {version.id} but dataset_version is {dataset_version.id}",
            hint="give the dataset version once, as data",
        )
    return load(ws, version), version

"""Challenger against champion: retrain, evaluate both on the same holdout, decide, record."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pandas as pd

from closedloop.core import DatasetVersion, LoopDecision, ModelVersion, ProgressCallback
from closedloop.evaluation import Evaluation, evaluate_classifier
from closedloop.features import FeatureSpec
from closedloop.registry import load_model, register_model_from_run, set_alias
from closedloop.training import frame_and_version, select_model
from closedloop.workspace import Actions, Workspace

__all__ = ["LoopOutcome", "PromotionPolicy", "challenge_champion", "decide"]


@dataclass(frozen=True, slots=True)
class PromotionPolicy:
    """When a challenger replaces the champion.

    Attributes:
        metric: The deciding metric (higher is better).
        min_improvement: The challenger must beat the champion by at least this much.
        max_log_loss_increase: Calibration guard: the challenger's log loss may not exceed
            the champion's by more than this.
        max_fairness_regression: The challenger's demographic-parity difference may not
            exceed the champion's by more than this (when a sensitive feature is given).
    """

    metric: str = "roc_auc"
    min_improvement: float = 0.0
    max_log_loss_increase: float = 0.01
    max_fairness_regression: float = 0.02


@dataclass(frozen=True, slots=True)
class LoopOutcome:
    """Everything one turn of the loop produced."""

    decision: LoopDecision
    champion: ModelVersion
    challenger: ModelVersion
    champion_eval: Evaluation
    challenger_eval: Evaluation
    promoted: bool
    reasons: tuple[str, ...] = field(default=())


def decide(
    champion: Evaluation, challenger: Evaluation, policy: PromotionPolicy
) -> tuple[bool, list[str]]:
    """Apply ``policy``; return whether to promote and the reasons, one per check."""
    reasons: list[str] = []
    ok = True
    old, new = champion.metrics[policy.metric], challenger.metrics[policy.metric]
    if new >= old + policy.min_improvement:
        reasons.append(
            f"{policy.metric} {new:.4f} vs champion {old:.4f} "
            f"(needs ≥ +{policy.min_improvement:g}): better"
        )
    else:
        ok = False
        reasons.append(
            f"{policy.metric} {new:.4f} vs champion {old:.4f} "
            f"(needs ≥ +{policy.min_improvement:g}): not better enough"
        )
    old_ll, new_ll = champion.metrics["log_loss"], challenger.metrics["log_loss"]
    if new_ll <= old_ll + policy.max_log_loss_increase:
        reasons.append(f"log_loss {new_ll:.4f} vs {old_ll:.4f}: within tolerance")
    else:
        ok = False
        reasons.append(
            f"log_loss {new_ll:.4f} vs {old_ll:.4f}: worse by more than "
            f"{policy.max_log_loss_increase:g}"
        )
    key = "demographic_parity_difference"
    if key in champion.metrics and key in challenger.metrics:
        old_dp, new_dp = champion.metrics[key], challenger.metrics[key]
        if new_dp <= old_dp + policy.max_fairness_regression:
            reasons.append(f"{key} {new_dp:.4f} vs {old_dp:.4f}: within tolerance")
        else:
            ok = False
            reasons.append(
                f"{key} {new_dp:.4f} vs {old_dp:.4f}: fairness worse by more than "
                f"{policy.max_fairness_regression:g}"
            )
    return ok, reasons


def challenge_champion(
    ws: Workspace,
    model: str,
    *,
    train: pd.DataFrame | DatasetVersion | str,
    holdout: pd.DataFrame | DatasetVersion | str,
    spec: FeatureSpec,
    target: str,
    positive_class: str,
    sensitive: str | None = None,
    dataset_version: DatasetVersion | None = None,
    trigger: Sequence[str] = (),
    policy: PromotionPolicy | None = None,
    candidates: Sequence[str] = ("logistic_regression", "hist_gradient_boosting"),
    say: Callable[[str], None] | None = None,
    progress: ProgressCallback | None = None,
) -> LoopOutcome:
    """Retrain on ``train``, compare with ``model@champion`` on ``holdout``, decide, record.

    The challenger is registered (alias ``challenger``); if it wins it also takes the
    ``champion`` alias. The decision, its reasons, the trigger and both evaluations are
    stored as a ``LoopDecision``. The challenger's version points at the pipeline its refit
    run stored (one blob for both).

    ``train`` and ``holdout`` are each a dataset version (or its reference), loaded through
    ``closedloop.data.load``, or an in-memory frame (e.g. a holdout built on the fly). A
    training version is the challenger's lineage; ``dataset_version`` names it for a
    training frame.

    Raises:
        InvalidArgumentError: ``train`` is a version other than ``dataset_version``, or
            selection refuses the data.
        NotFoundError: No champion, or a reference names no dataset version.
    """
    policy = policy or PromotionPolicy()
    champion_loaded = load_model(ws, f"{model}@champion")
    champion = champion_loaded.version
    train, dataset_version = frame_and_version(ws, train, dataset_version)
    holdout, _ = frame_and_version(ws, holdout)
    selection = select_model(
        ws,
        train,
        target=target,
        spec=spec,
        candidates=candidates,
        dataset_version=dataset_version,
        experiment="retraining",
        tags={"challenger_for": champion.id},
        say=say,
        progress=progress,
    )
    champion_eval = evaluate_classifier(
        champion_loaded.model,
        holdout,
        target=target,
        positive_class=positive_class,
        sensitive=sensitive,
    )
    challenger_eval = evaluate_classifier(
        selection.pipeline,
        holdout,
        target=target,
        positive_class=positive_class,
        sensitive=sensitive,
    )
    challenger = register_model_from_run(
        ws,
        model,
        selection.run_id,
        selection.artifact_path,
        signature=champion.signature,
        target=target,
        classes=selection.classes,
        metrics=challenger_eval.metrics,
        dataset_version_id=dataset_version.id if dataset_version else None,
        aliases=("challenger",),
    )
    promoted, reasons = decide(champion_eval, challenger_eval, policy)
    if promoted:
        challenger = set_alias(
            ws,
            model,
            "champion",
            challenger.version,
            reason=f"loop promoted {challenger.id} over {champion.id}: " + "; ".join(reasons),
        )
    detail = {
        "trigger": list(trigger),
        "policy": {
            "metric": policy.metric,
            "min_improvement": policy.min_improvement,
            "max_log_loss_increase": policy.max_log_loss_increase,
            "max_fairness_regression": policy.max_fairness_regression,
        },
        "champion_metrics": champion_eval.metrics,
        "challenger_metrics": challenger_eval.metrics,
        "holdout_rows": len(holdout),
        "train_rows": len(train),
    }
    verdict = "promote" if promoted else "keep"
    with ws.action(Actions.LOOP_DECIDE, f"model:{model}", decision=verdict) as act:
        decision = ws.metadata.decisions.record(
            model,
            champion_version_id=champion.id,
            challenger_version_id=challenger.id,
            decision=verdict,
            reasons=reasons,
            detail=detail,
            audit=act,
        )
    return LoopOutcome(
        decision, champion, challenger, champion_eval, challenger_eval, promoted, tuple(reasons)
    )

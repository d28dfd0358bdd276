"""The walking skeleton: one real pass through every stage of the lifecycle on Adult.

ingest → validate → features + train (CV selection) → evaluate (with fairness by sex) →
register (``adult@champion``) → serve over HTTP with a prediction log → traffic → drift
monitoring → a shifted second batch is flagged → retrain on the combined labelled data →
challenger against champion on the same holdout → promote or keep, with reasons.

The second traffic batch is shifted on purpose: ``AGE_SHIFT`` years are added to ``age``
(an ageing customer base), which the monitor must flag while leaving the other features be.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from rich import get_console

from closedloop.config import WORKSPACE_DIR
from closedloop.core import DatasetVersion, LoopDecision, ModelVersion, ProgressCallback
from closedloop.errors import DataValidationError

__all__ = ["AGE_SHIFT", "LifecycleResult", "run_lifecycle"]

AGE_SHIFT = 15
TARGET = "income_per_year"
POSITIVE = ">50K"
SENSITIVE = "sex"
NUMERIC = ("age", "education_num", "capital_gain", "capital_loss", "hours_per_week")
CATEGORICAL = (
    "workclass",
    "marital_status",
    "occupation",
    "relationship",
    "race",
    "sex",
    "native_country",
)


@dataclass(frozen=True, slots=True)
class LifecycleResult:
    """What one pass produced (ids, counts and decisions, all from the stores)."""

    workspace: Path
    train_version: DatasetVersion
    same_version_twice: bool
    bad_batch_refused: bool
    bad_batch_message: str
    champion: ModelVersion
    metrics: dict[str, float]
    bad_request_status: int
    requests_sent: int
    rows_sent: int
    predictions_logged: int
    warned_requests: tuple[int, int]
    drift_a: dict[str, bool]
    drift_b: dict[str, bool]
    reports: tuple[Path, ...]
    decision: LoopDecision


def _batches(frame: pd.DataFrame, size: int) -> list[pd.DataFrame]:
    return [frame.iloc[i : i + size] for i in range(0, len(frame), size)]


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    # JSON round trip turns NaN into null and numpy scalars into plain numbers.
    return list(json.loads(frame.to_json(orient="records")))


def run_lifecycle(
    path: str | Path,
    *,
    sample: int | None = None,
    cv: int = 5,
    batch_size: int = 256,
    seed: int = 0,
    say: Callable[[Any], None] | None = None,
    progress: ProgressCallback | None = None,
) -> LifecycleResult:
    """Run the whole pass in the workspace at ``path`` (created if needed).

    Args:
        path: Workspace folder.
        sample: Use this many training rows and a proportional share of the test rows
            (a quick run for tests); ``None`` uses all of Adult.
        cv: Cross-validation folds for model selection.
        batch_size: Rows per HTTP request.
        seed: Random seed for sampling, splits and models.
        say: Where progress lines (and the drift table, a rich renderable) go; by default
            rich's console, with text never read as markup (a path may hold ``[/x]``).
        progress: Hears of each cross-validation fold and refit (training is the long step).
    """
    import httpx

    from closedloop import data, datasets, monitoring, registry, serving
    from closedloop._client import init
    from closedloop.evaluation import evaluate_classifier
    from closedloop.features import FeatureSpec
    from closedloop.loop import challenge_champion
    from closedloop.tracking import start_run
    from closedloop.training import select_model
    from closedloop.workspace import Workspace

    say = say or _print
    root = Path(path).resolve()
    if not (root / WORKSPACE_DIR).is_dir():
        init(root).close()
    ws = Workspace.open(root)
    reports_dir = root / "reports"
    reports_dir.mkdir(exist_ok=True)
    try:
        # 1. ingest ---------------------------------------------------------------------------
        train_file, test_file = datasets.adult_files()
        if sample is None:
            first = data.ingest(ws, train_file, "adult", format="csv", options=datasets.ADULT_CSV)
            again = data.ingest(ws, train_file, "adult", format="csv", options=datasets.ADULT_CSV)
        else:
            frame = datasets.read_adult(train_file).sample(n=sample, random_state=seed)
            source = f"{train_file} (sample of {sample} rows, seed {seed})"
            first = data.ingest_frame(ws, frame, "adult", source=source)
            again = data.ingest_frame(ws, frame, "adult", source=source)
        train_version = first.version
        say(
            f"[1 ingest] {train_version.id} v{train_version.version}: {train_version.n_rows} rows "
            f"and {train_version.n_columns} columns; ingesting again gives "
            f"{again.version.id} ({'same' if again.version == train_version else 'NEW'} version)"
        )

        # 2. validate a second batch, refuse a bad one ----------------------------------------
        test = datasets.read_adult(test_file)
        if sample is not None:
            test = test.sample(n=max(sample // 2, 400), random_state=seed)
        report = data.validate_batch(ws, train_version, test)
        say(
            f"[2 validate] second batch ({len(test)} rows): "
            f"{'accepted' if report.ok else 'refused'}, {len(report.warnings)} warning(s)"
        )
        if report.issues:
            say(report.render())
        bad = test.head(50).copy()
        bad["age"] = bad["age"].astype(object)
        bad.loc[bad.index[:7], "age"] = "unknown"
        bad["comment"] = "typed by hand"
        versions_before = len(data.list_versions(ws, "adult"))
        try:
            data.validate_batch(ws, train_version, bad)
            refused, refusal = False, "accepted (unexpected)"
        except DataValidationError as e:
            refused, refusal = True, e.message
            render = getattr(e.report, "render", None)  # a data.ValidationReport
            if callable(render):
                say(render())
        assert len(data.list_versions(ws, "adult")) == versions_before  # nothing stored
        say(f"[2 validate] bad batch refused: {refusal}")

        # 3. features + train -------------------------------------------------------------------
        spec = FeatureSpec(numeric=NUMERIC, categorical=CATEGORICAL)
        selection = select_model(
            ws,
            train_version,
            target=TARGET,
            spec=spec,
            cv=cv,
            seed=seed,
            say=lambda m: say(f"[3 train] {m}"),
            progress=progress,
        )

        # 4. evaluate on held-out data ---------------------------------------------------------
        holdout_idx = test.sample(frac=0.5, random_state=seed).index
        holdout = test.loc[holdout_idx]
        traffic = test.drop(index=holdout_idx)
        evaluation = evaluate_classifier(
            selection.pipeline,
            holdout,
            target=TARGET,
            positive_class=POSITIVE,
            sensitive=SENSITIVE,
        )
        with start_run(ws, "evaluation", name="holdout", tags={"stage": "evaluation"}) as run:
            run.log_input("dataset", train_version.id, "train")
            run.log_params({"model_run": selection.run_id, "holdout_rows": len(holdout)})
            run.log_metrics(evaluation.flat())
        m = evaluation.metrics
        say(
            f"[4 evaluate] holdout {len(holdout)} rows: accuracy {m['accuracy']:.4f} "
            f"(majority baseline {m['baseline_accuracy']:.4f}), ROC-AUC {m['roc_auc']:.4f}, "
            f"log loss {m['log_loss']:.4f}"
        )
        for group, values in evaluation.by_group.items():
            say(
                f"[4 evaluate]   sex={group}: selection rate {values['selection_rate']:.3f}, "
                f"TPR {values['true_positive_rate']:.3f}"
            )
        say(
            f"[4 evaluate]   demographic-parity difference {m['demographic_parity_difference']:.3f}"
        )

        # 5. register --------------------------------------------------------------------------
        champion = registry.register_model_from_run(
            ws,
            "adult",
            selection.run_id,
            selection.artifact_path,
            signature=spec.signature(train_version.schema),
            target=TARGET,
            classes=selection.classes,
            metrics=m,
            dataset_version_id=train_version.id,
            aliases=("champion",),
        )
        say(
            f"[5 register] {champion.id} aliases {list(champion.aliases)}, "
            f"digest {champion.artifact_digest[:19]}…, {len(champion.signature)} input columns"
        )

        # 6-7. serve and send traffic over HTTP --------------------------------------------------
        half = len(traffic) // 2
        batch_a = traffic.iloc[:half]
        batch_b = traffic.iloc[half:].copy()
        batch_b["age"] = batch_b["age"] + AGE_SHIFT
        features = list(spec.columns)
        requests_sent = rows_sent = 0
        with serving.BackgroundServer(ws, "adult@champion") as server:
            say(f"[6 serve] adult@champion listening on {server.url}")
            with httpx.Client(base_url=server.url, timeout=60) as http:
                bad_request = http.post("/predict", json={"records": [{"age": "old"}]})
                say(f"[6 serve] a request with age='old' answers {bad_request.status_code}")
                windows = []
                warned: list[int] = []  # requests whose answer carried a warning, per batch
                for batch in (batch_a, batch_b):
                    start = _now_ms()
                    warned.append(0)
                    for chunk in _batches(batch[features], batch_size):
                        response = http.post("/predict", json={"records": _records(chunk)})
                        response.raise_for_status()
                        warned[-1] += bool(response.json()["warnings"])
                        requests_sent += 1
                        rows_sent += len(chunk)
                    windows.append((start, _now_ms() + 1))
        logged = serving.count_predictions(ws, champion)
        say(
            f"[7 traffic] sent {rows_sent} rows in {requests_sent} requests; "
            f"prediction log holds {logged}; answers with a warning (a value off the training "
            f"range or categories): batch A {warned[0]}, batch B {warned[1]}"
        )

        # 8. monitor ----------------------------------------------------------------------------
        flags = []
        paths = []
        for label, (since, until) in zip(("a", "b"), windows, strict=True):
            # the reference is the champion's own training data (its dataset lineage)
            result = monitoring.monitor_drift(ws, "adult@champion", since=since, until=until)
            out = reports_dir / f"drift_batch_{label}.html"
            out.write_text(result.html, encoding="utf-8")
            paths.append(out)
            flags.append({f.name: f.drifted for f in result.report.features})
            drifted = result.report.drifted_features or ["none"]
            say(
                f"[8 monitor] batch {label.upper()} ({result.n_predictions} predictions): "
                f"drifted {', '.join(drifted)}; report {out}"
            )
            if label == "b":
                say(result.report.render())

        # 9. close the loop ------------------------------------------------------------------------
        train = data.load(ws, train_version)
        labelled = pd.concat([train, batch_a, batch_b], ignore_index=True)
        combined = data.ingest_frame(
            ws,
            labelled,
            "adult-retrain",
            source="adult train + labelled traffic batches A and B",
            parents=(train_version.id,),
        ).version
        fresh_holdout = holdout.copy()
        fresh_holdout["age"] = fresh_holdout["age"] + AGE_SHIFT
        trigger = [f"drift in {name}" for name, flag in flags[1].items() if flag]
        outcome = challenge_champion(
            ws,
            "adult",
            train=combined,
            holdout=fresh_holdout,
            spec=spec,
            target=TARGET,
            positive_class=POSITIVE,
            sensitive=SENSITIVE,
            trigger=trigger,
            say=lambda msg: say(f"[9 retrain] {msg}"),
            progress=progress,
        )
        verdict = outcome.decision.decision.upper()
        say(f"[9 loop] {outcome.challenger.id} vs {outcome.champion.id}: {verdict}")
        for reason in outcome.reasons:
            say(f"[9 loop]   {reason}")
        return LifecycleResult(
            workspace=root,
            train_version=train_version,
            same_version_twice=again.version == train_version and not again.created,
            bad_batch_refused=refused,
            bad_batch_message=refusal,
            champion=champion,
            metrics=m,
            bad_request_status=bad_request.status_code,
            requests_sent=requests_sent,
            rows_sent=rows_sent,
            predictions_logged=logged,
            warned_requests=(warned[0], warned[1]),
            drift_a=flags[0],
            drift_b=flags[1],
            reports=tuple(paths),
            decision=outcome.decision,
        )
    finally:
        ws.close()


def _print(message: Any) -> None:
    get_console().print(message, markup=False, emoji=False)


def _now_ms() -> int:
    from closedloop.core import now_ms

    return now_ms()

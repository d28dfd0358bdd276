"""``monitor_drift``: the workspace verb that checks a model's logged traffic for drift."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from closedloop.core import (
    DatasetVersion,
    LogicalType,
    ModelVersion,
    Prediction,
    TableSchema,
    ms_to_datetime,
)
from closedloop.data import load
from closedloop.errors import InvalidArgumentError
from closedloop.monitoring._drift import DriftDetector
from closedloop.monitoring._report import DriftReport
from closedloop.monitoring._rules import DEFAULT_ALPHA, DEFAULT_DRIFT_SHARE, ColumnRule
from closedloop.predictions import read_predictions
from closedloop.tracking import start_run
from closedloop.workspace import Actions, Workspace

__all__ = ["MonitorResult", "logged_inputs", "monitor_drift", "predictions_frame"]

REPORT_ARTIFACT = "drift_report.html"


@dataclass(frozen=True, slots=True)
class MonitorResult:
    """The outcome of :func:`monitor_drift`.

    Attributes:
        report: Per-feature drift results.
        run_id: The tracked run that recorded it (experiment ``monitoring`` by default).
        html: The HTML report, also stored as the run's ``drift_report.html`` artifact.
        n_predictions: Logged predictions (input rows) in the window.
        model_version_id: The model version checked (``<model>/<version>``).
    """

    report: DriftReport
    run_id: str
    html: str
    n_predictions: int
    model_version_id: str


def monitor_drift(
    ws: Workspace,
    model_ref: str,
    reference: pd.DataFrame | DatasetVersion | str | None = None,
    *,
    since: int | None = None,
    until: int | None = None,
    alpha: float = DEFAULT_ALPHA,
    rules: Mapping[str, ColumnRule] | None = None,
    drift_share: float = DEFAULT_DRIFT_SHARE,
    bins: int = 10,
    experiment: str = "monitoring",
) -> MonitorResult:
    """Check the inputs a model version received against its reference data.

    The model version's signature says which columns to check and which are numeric. The
    current data are the inputs of the rows logged for that version in ``[since, until)``
    (answered or shadow-scored; read with :func:`~closedloop.predictions.read_predictions`);
    values are read as the signature's types (unreadable numbers count as missing). Each
    feature is judged by its rule (default: the automatic rule of ``DriftDetector``, a test
    up to 1,000 values and a distance beyond). The result is recorded as a run in
    ``experiment``: metrics ``drift.share``, ``drift.dataset`` (1 when the dataset drifted),
    ``drift.statistic.<feature>`` and, for tests, ``drift.p_value.<feature>``; tags
    ``model_version``, ``kind=drift``, ``drifted_features`` (comma-separated) and
    ``dataset_drifted``; and the HTML page as artifact ``drift_report.html``.

    Args:
        ws: The workspace.
        model_ref: ``name/<number>``, ``name@<alias>`` or ``name@latest``.
        reference: The reference data: a dataset version or its reference (loaded through
            ``closedloop.data.load``, verified and audited) or a frame; it must hold the
            signature's columns. By default the version's own training data
            (``ModelVersion.dataset_version_id``), restricted to the signature's columns.
        since: Start of the window, epoch milliseconds (inclusive); default: the first log.
        until: End of the window, epoch milliseconds (exclusive); default: now.
        alpha: Significance level of the tests, and false-positive rate of the distances'
            noise floor.
        rules: A ``ColumnRule`` per feature that should not use the automatic rule.
        drift_share: Share of drifted features at which the dataset counts as drifted.
        bins: Quantile bins of numeric PSI (for features whose rule is ``psi``).
        experiment: Experiment of the recorded run.

    Returns:
        The report, the run id, the HTML page and the number of predictions checked.

    Raises:
        NotFoundError: No such model version.
        InvalidArgumentError: The window holds no predictions, the reference lacks
            signature columns, no reference is given and the model version has no dataset
            lineage, or a parameter is out of range.
    """
    if since is not None and until is not None and since >= until:
        raise InvalidArgumentError(
            f"the window is empty: since ({since}) is not before until ({until})"
        )
    with ws.action(Actions.MONITOR_DRIFT, f"model:{model_ref}") as act:
        version = ws.metadata.models.get_version(model_ref)
        act["model_version"] = version.id
        logged = read_predictions(ws, version.id, role=None, since=since, until=until)
        n_predictions = len(logged)
        if not n_predictions:
            raise InvalidArgumentError(
                f"no predictions of {version.id} were logged {_window_text(since, until)}",
                hint="widen the window with since/until, or serve the model first; "
                "predictions are logged per input row",
            )
        detector = DriftDetector(
            version.signature, rules=rules, alpha=alpha, drift_share=drift_share, bins=bins
        ).fit(_reference_frame(ws, version, reference))
        current = logged_inputs(logged, version.signature)
        report = detector.compare(current)
        title = f"Drift of {version.id}: {n_predictions} predictions {_window_text(since, until)}"
        page = report.to_html(title)
        run_id = _record(
            ws,
            version,
            model_ref,
            report,
            page,
            experiment,
            n_predictions,
            since=since,
            until=until,
            bins=bins,
            rules=rules,
        )
        act.update(run_id=run_id, n_predictions=n_predictions, drifted=len(report.drifted_features))
    return MonitorResult(report, run_id, page, n_predictions, version.id)


def _reference_frame(
    ws: Workspace, version: ModelVersion, reference: pd.DataFrame | DatasetVersion | str | None
) -> pd.DataFrame:
    """The reference data as a frame: given, loaded by reference, or the training data."""
    if isinstance(reference, pd.DataFrame):
        return reference
    if reference is not None:
        return load(ws, reference)
    if version.dataset_version_id is None:
        raise InvalidArgumentError(
            f"{version.id} has no training dataset version to compare its traffic with",
            hint="name the reference data: --reference DATASET_REF on the command line, "
            "reference= in the SDK (a dataset version, its reference or a frame)",
        )
    training = load(ws, version.dataset_version_id)
    present = [n for n in version.signature.names if n in training.columns]
    return training[present]  # a missing column is named by DriftDetector.fit


def predictions_frame(predictions: Sequence[Prediction], columns: Sequence[str]) -> pd.DataFrame:
    """The ``inputs`` of logged predictions as a frame of ``columns`` (absent keys → missing).

    Values keep their logged Python types (object columns); ``DriftDetector`` reads them as
    the schema's types, so an integer category with gaps does not turn into floats here.
    """
    records = [dict(p.inputs) for p in predictions]
    return pd.DataFrame(records, columns=list(columns), dtype=object)


def logged_inputs(logged: pd.DataFrame, signature: TableSchema) -> pd.DataFrame:
    """The signature's columns of a :func:`~closedloop.predictions.read_predictions` frame.

    Columns become ``object`` with missing values ``None`` (absent ones too), like
    :func:`predictions_frame`; a column the log stored as floats only because it had gaps
    (an integer or a category with missing values) gets its integers back, so category
    ``3`` is not compared as ``3.0``.
    """
    out: dict[str, pd.Series] = {}
    for col in signature:
        if col.name not in logged.columns:
            out[col.name] = pd.Series([None] * len(logged), dtype=object)
            continue
        series = logged[col.name]
        present = series.notna()
        if (
            col.type is not LogicalType.FLOAT
            and series.dtype.kind == "f"
            and bool((series[present] % 1 == 0).all())
        ):
            series = series.astype("Int64")
        values = series.astype(object)
        out[col.name] = values.where(present, None).reset_index(drop=True)
    return pd.DataFrame(out, columns=signature.names)


def _record(
    ws: Workspace,
    version: ModelVersion,
    model_ref: str,
    report: DriftReport,
    page: str,
    experiment: str,
    n_predictions: int,
    *,
    since: int | None,
    until: int | None,
    bins: int,
    rules: Mapping[str, ColumnRule] | None,
) -> str:
    """Record the check as a finished run; returns its id."""
    metrics = {"drift.share": report.share_drifted, "drift.dataset": float(report.dataset_drifted)}
    for f in report.features:
        for key, value in (("statistic", f.statistic), ("p_value", f.p_value)):
            if math.isfinite(value):  # a distance has no p-value; an empty side no statistic
                metrics[f"drift.{key}.{f.name}"] = value
    rule_text = ",".join(f"{name}={rule.spec}" for name, rule in (rules or {}).items())
    with start_run(
        ws,
        experiment,
        name=f"drift {model_ref}",
        params={
            "alpha": report.alpha,
            "drift_share": report.drift_share,
            "bins": bins,
            **({"rules": rule_text} if rule_text else {}),
            "n_predictions": n_predictions,
            "reference_rows": report.reference_rows,
            **({"since": since} if since is not None else {}),
            **({"until": until} if until is not None else {}),
        },
        tags={"model_version": version.id, "kind": "drift"},
    ) as run:
        run.log_input("model", version.id)
        run.log_metrics(metrics)
        run.set_tags(
            {
                "drifted_features": ",".join(report.drifted_features),
                "dataset_drifted": str(report.dataset_drifted).lower(),
            }
        )
        run.log_text(page, REPORT_ARTIFACT)
    return run.id


def _window_text(since: int | None, until: int | None) -> str:
    def fmt(ms: int) -> str:
        dt = ms_to_datetime(ms)
        return "?" if dt is None else dt.strftime("%Y-%m-%d %H:%M:%S UTC")

    if since is None and until is None:
        return "so far"
    if until is None:
        return f"since {fmt(since)}" if since is not None else ""
    if since is None:
        return f"before {fmt(until)}"
    return f"from {fmt(since)} to {fmt(until)}"

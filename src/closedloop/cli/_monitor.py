"""``closedloop monitor …``: check a model's logged traffic for drift."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from closedloop.cli._safe import line
from closedloop.cli._state import console, state
from closedloop.errors import InvalidArgumentError

__all__ = ["app", "parse_time"]

app = typer.Typer(help="Monitor served models: input drift.", no_args_is_help=True)

TimeOption = Annotated[
    str | None,
    typer.Option(help="ISO 8601 time (UTC unless it names a zone) or epoch milliseconds."),
]


@app.command("drift")
def drift(
    ctx: typer.Context,
    model_ref: Annotated[
        str, typer.Argument(help="Model version: name/<number>, name@alias or name@latest.")
    ],
    reference: Annotated[
        str | None,
        typer.Option(
            "--reference",
            "-r",
            help="Reference dataset version, e.g. churn@latest or churn/1; default: the "
            "model version's training data.",
        ),
    ] = None,
    since: TimeOption = None,
    until: TimeOption = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the HTML report to this file.")
    ] = None,
    alpha: Annotated[
        float,
        typer.Option(
            help="Significance level of the tests (KS, chi-square), and false-positive rate "
            "of the distances' noise floor."
        ),
    ] = 0.05,
    rule: Annotated[
        list[str] | None,
        typer.Option(
            "--rule",
            help="A feature's own method: COLUMN=METHOD[:THRESHOLD], repeatable; methods: "
            "ks, chi2 (tests: THRESHOLD is the p-value level), psi, jensenshannon, "
            "wasserstein, tv, hellinger (distances), auto. E.g. --rule age=psi:0.25.",
        ),
    ] = None,
    drift_share: Annotated[
        float,
        typer.Option(
            "--drift-share",
            help="Share of drifted features at which the dataset counts as drifted.",
        ),
    ] = 0.5,
    experiment: Annotated[
        str, typer.Option("--experiment", "-e", help="Experiment of the recorded run.")
    ] = "monitoring",
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Compare the inputs a model version received with a reference dataset version.

    Without --reference the reference is the dataset version the model was trained on.

    Each feature is judged by the automatic rule unless --rule names another: on windows
    of up to 1,000 values a test (Kolmogorov-Smirnov for numbers, chi-square for
    categories) flags drift when its p-value is below --alpha; on larger windows a distance
    (normed Wasserstein for numbers, Jensen-Shannon for categories) flags drift when it is
    at least 0.1 and above its small-sample noise floor. The dataset drifted when at least
    --drift-share of the features did. The check is recorded as a run with the HTML report
    as artifact drift_report.html.
    """
    # pandas and scipy: for this command only
    from closedloop.monitoring import monitor_drift, parse_rule

    rules = dict(parse_rule(text) for text in rule or ())

    ws = state(ctx).client().workspace
    window = (parse_time(since, "--since"), parse_time(until, "--until"))
    result = monitor_drift(
        ws,
        model_ref,
        reference,
        since=window[0],
        until=window[1],
        alpha=alpha,
        rules=rules or None,
        drift_share=drift_share,
        experiment=experiment,
    )
    if output is not None:
        output.parent.mkdir(parents=True, exist_ok=True)
        output.write_text(result.html, encoding="utf-8")
    if as_json:
        doc = {
            "model_version": result.model_version_id,
            "run_id": result.run_id,
            "n_predictions": result.n_predictions,
            "report": result.report.to_dict(),
            "html": str(output) if output is not None else None,
        }
        print(json.dumps(doc, indent=2, allow_nan=False))
        return
    console.print(result.report.render())
    if output is not None:
        console.print(line("report: ", output))
    console.print(
        line(
            f"run: {result.run_id} (experiment ",
            experiment,
            f", {result.n_predictions} predictions of ",
            result.model_version_id,
            ")",
        )
    )


def parse_time(value: str | None, option: str = "time") -> int | None:
    """``2024-05-01``, ``2024-05-01T12:00:00+02:00`` or ``1714521600000`` → epoch ms.

    Raises:
        InvalidArgumentError: Neither an ISO time nor an integer.
    """
    if value is None:
        return None
    text = value.strip()
    if text.lstrip("-").isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidArgumentError(
            f"{option} {value!r} is not a time",
            hint="give an ISO 8601 time such as 2024-05-01T12:00:00 or epoch milliseconds",
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)

"""``closedloop models onnx``: convert a model version to ONNX, kept only if it is faithful."""

from __future__ import annotations

from typing import Annotated

import typer

from closedloop.cli._safe import line
from closedloop.cli._state import console, state

__all__ = ["onnx"]


def onnx(
    ctx: typer.Context,
    ref: Annotated[str, typer.Argument(help="Model version (name@alias or name/<n>).")],
    dataset: Annotated[
        str | None,
        typer.Option(
            "--dataset",
            "-d",
            metavar="NAME@VERSION",
            help="Rows to compare predictions on (default: a sample of the training data).",
        ),
    ] = None,
    atol: Annotated[
        float, typer.Option("--atol", min=0.0, help="Largest accepted probability difference.")
    ] = 1e-4,
) -> None:
    """Convert a model version to ONNX for fast serving, if it predicts what the model does.

    Both score the validation rows; the conversion is recorded on the version only when every
    label is identical and every probability is within --atol. Exit code 1 when refused.
    """
    client = state(ctx).client()
    validation = client.datasets.load(dataset) if dataset is not None else None
    version = client.models.get(ref)
    outcome = client.models.convert_to_onnx(version, validation, atol=atol)
    if outcome.ok:
        console.print(
            line(
                ("converted", "bold green"),
                " ",
                version.id,
                f" to ONNX: {outcome.rows_checked:,} rows checked, "
                f"max probability difference {outcome.max_abs_diff:.3g}",
            )
        )
        console.print(line("    ", outcome.reason))
        return
    console.print(line(("refused", "bold yellow"), " ", version.id, ": ", outcome.reason))
    console.print(line("    the model is served as it is (scikit-learn)"))
    raise typer.Exit(1)

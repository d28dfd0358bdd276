"""``closedloop serve``: answer predictions of a registered model over HTTP."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from closedloop.cli._safe import line
from closedloop.cli._state import console, state

__all__ = ["OffTraining", "serve"]


class OffTraining(StrEnum):
    """What the server does with a value off the training data."""

    warn = "warn"
    refuse = "refuse"


def serve(
    ctx: typer.Context,
    model_ref: Annotated[
        str, typer.Argument(help="name@alias, name@latest or name/<version>, e.g. churn@champion.")
    ],
    host: Annotated[
        str, typer.Option(help="Interface to bind; 0.0.0.0 listens on every interface.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port (0: a free one).")] = 8000,
    log_level: Annotated[
        str, typer.Option(help="Server log level: critical, error, warning, info, debug.")
    ] = "info",
    log_predictions: Annotated[
        bool,
        typer.Option(
            "--log-predictions/--no-log-predictions",
            help="Write every served row to the prediction log (monitoring reads it).",
        ),
    ] = True,
    max_body_bytes: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Most bytes of a request body; more gets 413. Default: the "
            "serving_max_body_bytes setting (16 MiB).",
            show_default=False,
        ),
    ] = None,
    max_string_length: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Most characters of a text value; more gets 422. Default: the "
            "serving_max_string_length setting (1000).",
            show_default=False,
        ),
    ] = None,
    out_of_range: Annotated[
        OffTraining | None,
        typer.Option(
            help="A number outside the range seen in training: serve it with a warning, "
            "or refuse the request (422). Default: the serving_out_of_range setting (warn).",
            show_default=False,
        ),
    ] = None,
    unseen_categories: Annotated[
        OffTraining | None,
        typer.Option(
            help="A category not seen in training: serve it with a warning, or refuse "
            "the request (422). Default: the serving_unseen_categories setting (warn).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve a registered model: POST /predict, GET /health, GET /metadata.

    Limits and policies left unset come from the settings (serving_max_body_bytes,
    serving_max_string_length, serving_out_of_range, serving_unseen_categories in
    closedloop.yaml or CLOSEDLOOP_* variables).
    """
    # FastAPI and uvicorn load only for this command, keeping every other command fast.
    from closedloop import serving

    ws = state(ctx).client().workspace

    def ready(url: str) -> None:
        console.print(line(("serving", "bold green"), " ", model_ref, " at ", url))
        console.print(line(f"  POST {url}/predict   GET {url}/health   GET {url}/metadata"))
        console.print(line("  press Ctrl-C to stop"))

    serving.serve(
        ws,
        model_ref,
        host=host,
        port=port,
        log_level=log_level,
        log_predictions=log_predictions,
        on_ready=ready,
        max_body_bytes=max_body_bytes,
        max_string_length=max_string_length,
        out_of_range=None if out_of_range is None else out_of_range.value,
        unseen_categories=None if unseen_categories is None else unseen_categories.value,
    )

"""``closedloop serve``: answer predictions of a registered model over HTTP."""

from __future__ import annotations

from typing import Annotated

import typer

from closedloop.cli._safe import line
from closedloop.cli._state import console, state

__all__ = ["serve"]


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
) -> None:
    """Serve a registered model: POST /predict, GET /health, GET /metadata."""
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
    )

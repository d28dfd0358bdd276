"""``closedloop serve``: answer predictions of a registered model over HTTP."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

from closedloop.cli._safe import line
from closedloop.cli._state import console, state
from closedloop.errors import InvalidArgumentError

__all__ = ["OffTraining", "serve"]


class OffTraining(StrEnum):
    """What the server does with a value off the training data."""

    warn = "warn"
    refuse = "refuse"


def serve(
    ctx: typer.Context,
    model_refs: Annotated[
        list[str] | None,
        typer.Argument(
            help="Models to serve: name@alias, name@latest or name/<version>, e.g. "
            "churn@champion; each is served as the endpoint named after its model.",
            show_default=False,
        ),
    ] = None,
    endpoint: Annotated[
        list[str] | None,
        typer.Option(
            "--endpoint",
            "-e",
            help="A registry endpoint to serve (canary routes and shadows); repeatable.",
            show_default=False,
        ),
    ] = None,
    host: Annotated[
        str, typer.Option(help="Interface to bind; 0.0.0.0 listens on every interface.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="TCP port (0: a free one).")] = 8000,
    workers: Annotated[
        int | None,
        typer.Option(
            min=1,
            max=64,
            help="Worker processes sharing the port and the prediction log. Default: the "
            "serving_workers setting (1).",
            show_default=False,
        ),
    ] = None,
    onnx: Annotated[
        bool,
        typer.Option(
            "--onnx/--no-onnx",
            help="Score with a version's verified ONNX conversion when it has one "
            "(closedloop models onnx); --no-onnx always runs the pipeline as is.",
        ),
    ] = True,
    reload_seconds: Annotated[
        float | None,
        typer.Option(
            min=0,
            help="How often to look at the registry for moved aliases and changed endpoints "
            "(0: never). Default: the serving_reload_seconds setting (2).",
            show_default=False,
        ),
    ] = None,
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
    monitor: Annotated[
        bool,
        typer.Option(
            "--monitor/--no-monitor",
            help="While serving, run monitoring rounds (closedloop monitor run) for every "
            "served version in the background: windows, drift, alerts, per the monitoring "
            "settings. One process runs them (the supervisor with --workers N).",
        ),
    ] = False,
    monitor_interval: Annotated[
        float | None,
        typer.Option(
            min=0.001,
            help="With --monitor: seconds between monitoring rounds. Default: the "
            "monitoring interval setting (60s).",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve models and endpoints over the native, MLflow and Open Inference v2 protocols.

    Scoring: POST /v1/models/NAME/predict (and /predict), POST /invocations (MLflow),
    POST /v2/models/NAME/infer (OIP v2). Also GET /healthz, /readyz, /metrics,
    /v1/models, POST /v1/feedback. Every answered row is committed to the prediction log
    before its answer is sent; requests refused for bad input (400/413/415/422) are
    counted for monitoring's refused rate. Limits and policies left unset come from the
    settings (serving_* in closedloop.yaml or CLOSEDLOOP_* variables).

    With --monitor the server also runs a monitoring round every --monitor-interval
    seconds for each served version (aliases and endpoints followed), in the background;
    a failing round is logged and tried again, and each round logs one summary line.
    """
    # FastAPI and uvicorn load only for this command, keeping every other command fast.
    from closedloop import serving

    refs = list(model_refs or [])
    endpoints = list(endpoint or [])
    if not refs and not endpoints:
        raise InvalidArgumentError(
            "nothing to serve",
            hint="give a model reference (closedloop serve churn@champion) or --endpoint NAME",
        )
    if monitor_interval is not None and not monitor:
        raise InvalidArgumentError(
            "--monitor-interval needs --monitor",
            hint="add --monitor to run monitoring rounds while serving",
        )
    ws = state(ctx).client().workspace
    names = [r.split("@", 1)[0].split("/", 1)[0] for r in refs] + endpoints

    def ready(url: str) -> None:
        console.print(
            line(("serving", "bold green"), " ", ", ".join(refs + endpoints), " at ", url)
        )
        for name in names:
            console.print(
                line(
                    f"  POST {url}/v1/models/",
                    name,
                    "/predict   ",
                    f"{url}/v2/models/",
                    name,
                    "/infer",
                )
            )
        console.print(line(f"  POST {url}/invocations   GET {url}/metrics   GET {url}/readyz"))
        if monitor:
            console.print(line("  monitoring every served version in the background"))
        console.print(line("  press Ctrl-C to stop"))

    serving.serve(
        ws,
        refs,
        endpoints=endpoints,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        log_predictions=log_predictions,
        use_onnx=onnx,
        reload_interval=reload_seconds,
        on_ready=ready,
        max_body_bytes=max_body_bytes,
        max_string_length=max_string_length,
        out_of_range=None if out_of_range is None else out_of_range.value,
        unseen_categories=None if unseen_categories is None else unseen_categories.value,
        monitor=monitor,
        monitor_interval=monitor_interval,
    )

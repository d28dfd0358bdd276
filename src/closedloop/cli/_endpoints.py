"""``closedloop endpoints …``: named traffic splits over model versions (canary, shadow)."""

from __future__ import annotations

import math
from typing import Annotated

import typer
from rich.text import Text

from closedloop.cli._format import fmt_time
from closedloop.cli._safe import SafeTable, line
from closedloop.cli._state import console, state
from closedloop.core import Endpoint
from closedloop.errors import ClosedLoopError, InvalidArgumentError

__all__ = ["app", "parse_route"]

app = typer.Typer(
    help="Endpoints: weighted routes over model versions, and shadows.", no_args_is_help=True
)

_ROUTE_HELP = "REF=WEIGHT, e.g. adult@champion=90 (repeat it; weights are relative)."
_SHADOW_HELP = "A version that sees a copy of every request, e.g. adult/3 (repeatable)."
_RouteOpt = Annotated[list[str] | None, typer.Option("--route", "-r", help=_ROUTE_HELP)]
_ShadowOpt = Annotated[list[str] | None, typer.Option("--shadow", "-s", help=_SHADOW_HELP)]


def parse_route(text: str) -> tuple[str, float]:
    """``"adult@champion=90"`` → ``("adult@champion", 90.0)``.

    Raises:
        InvalidArgumentError: No ``=``, or the weight is not a number.
    """
    ref, sep, weight = text.rpartition("=")
    if not sep or not ref:
        raise InvalidArgumentError(
            f"route {text!r} has no weight",
            hint="write a route as REF=WEIGHT, e.g. --route adult@champion=90",
        )
    try:
        value = float(weight)
    except ValueError:
        raise InvalidArgumentError(
            f"route {text!r} has weight {weight!r}, which is not a number",
            hint="write a route as REF=WEIGHT with a positive number, e.g. adult/3=10",
        ) from None
    return ref, value


@app.command("create")
def create(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Endpoint name.")],
    route: _RouteOpt = None,
    shadow: _ShadowOpt = None,
    description: Annotated[str | None, typer.Option("--description", "-d")] = None,
) -> None:
    """Create an endpoint from weighted routes (and shadows)."""
    routes = [parse_route(r) for r in route or []]
    ep = (
        state(ctx)
        .client()
        .endpoints.create(name, routes, shadows=shadow or (), description=description)
    )
    console.print(line("created endpoint ", ep.name))
    _show(ctx, ep)


@app.command("update")
def update(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Endpoint name.")],
    route: Annotated[
        list[str] | None,
        typer.Option("--route", "-r", help=_ROUTE_HELP + " Replaces every route."),
    ] = None,
    shadow: Annotated[
        list[str] | None,
        typer.Option("--shadow", "-s", help=_SHADOW_HELP + " Replaces every shadow."),
    ] = None,
    no_shadows: Annotated[bool, typer.Option("--no-shadows", help="Remove the shadows.")] = False,
    description: Annotated[
        str | None, typer.Option("--description", "-d", help="Empty: clear it.")
    ] = None,
) -> None:
    """Replace an endpoint's routes, shadows or description (what is not given stays)."""
    if no_shadows and shadow:
        raise InvalidArgumentError(
            "--no-shadows and --shadow contradict each other", hint="give one of them"
        )
    ep = (
        state(ctx)
        .client()
        .endpoints.update(
            name,
            routes=None if not route else [parse_route(r) for r in route],
            shadows=() if no_shadows else (shadow or None),
            description=description,
        )
    )
    console.print(line("updated endpoint ", ep.name))
    _show(ctx, ep)


@app.command("list")
def list_endpoints(ctx: typer.Context) -> None:
    """List endpoints with their routes and shadows (as written)."""
    found = state(ctx).client().endpoints.list()
    if not found:
        console.print(line("no endpoints"))
        return
    table = SafeTable(header_style="bold")
    for col in ("endpoint", "routes", "shadows", "updated", "by"):
        table.add_column(col)
    for ep in found:
        total = sum(r.weight for r in ep.routes)
        routes = ", ".join(f"{r.ref} {_percent(r.weight / total)}" for r in ep.routes)
        table.add_row(
            ep.name,
            routes,
            ", ".join(ep.shadows) or "-",
            fmt_time(ep.updated_at),
            ep.updated_by,
        )
    console.print(table)


@app.command("show")
def show(ctx: typer.Context, name: Annotated[str, typer.Argument(help="Endpoint name.")]) -> None:
    """Show an endpoint: routes as % of traffic and the versions they resolve to now."""
    _show(ctx, state(ctx).client().endpoints.get(name))


@app.command("delete")
def delete(ctx: typer.Context, name: Annotated[str, typer.Argument(help="Endpoint name.")]) -> None:
    """Delete an endpoint (the model versions it routed to stay)."""
    state(ctx).client().endpoints.delete(name)
    console.print(line("deleted endpoint ", name))


def _percent(share: float) -> str:
    pct = 100 * share
    return f"{pct:.0f}%" if math.isclose(pct, round(pct)) else f"{pct:.1f}%"


def _show(ctx: typer.Context, ep: Endpoint) -> None:
    head = SafeTable.grid(padding=(0, 2))
    for label, value in (
        ("endpoint", ep.name),
        ("description", ep.description or "-"),
        ("updated", f"{fmt_time(ep.updated_at)} by {ep.updated_by}"),
        ("created", fmt_time(ep.created_at)),
    ):
        head.add_row(Text(label, style="bold"), value)
    console.print(head)
    try:
        resolved = state(ctx).client().endpoints.resolve(ep)
    except ClosedLoopError as e:  # e.g. an alias was deleted since: say so, show the rest
        console.print(line(("does not resolve now: ", "bold yellow"), e.message))
        now: dict[str, str] = {}
    else:
        now = {r.ref: r.version.id for r in resolved.routes}
        now |= {s.ref: s.version.id for s in resolved.shadows}
    total = sum(r.weight for r in ep.routes)
    table = SafeTable(header_style="bold")
    for col in ("role", "ref", "traffic", "weight", "resolves to"):
        table.add_column(col)
    for r in ep.routes:
        table.add_row(
            "route", r.ref, _percent(r.weight / total), f"{r.weight:g}", now.get(r.ref, "?")
        )
    for s in ep.shadows:
        table.add_row("shadow", s, "copy", "-", now.get(s, "?"))
    console.print(table)

"""The ``closedloop`` command: the root app, global options and error rendering."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Annotated

import typer

from closedloop import __version__
from closedloop.cli import (
    _admin,
    _artifacts,
    _data,
    _endpoints,
    _feedback,
    _models,
    _monitor,
    _monitoring,  # noqa: F401  (registers monitor run|profile|windows|report|alerts)
    _onnx,
    _runs,
    _serve,
    _verify,
)
from closedloop.cli._safe import line
from closedloop.cli._state import CliState, err_console, workspace_path
from closedloop.errors import ClosedLoopError

__all__ = ["app", "main"]

app = typer.Typer(
    name="closedloop",
    help="closedloop: the machine-learning lifecycle with its loop closed.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        print(f"closedloop {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    workspace: Annotated[
        str | None,
        typer.Option(
            "--workspace",
            "-w",
            envvar="CLOSEDLOOP_WORKSPACE",
            help="Workspace folder or metadata URI (default: found from the current folder).",
        ),
    ] = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version.")
    ] = False,
) -> None:
    """closedloop: the machine-learning lifecycle with its loop closed."""
    cli_state = CliState(workspace=workspace_path(workspace), debug=debug)
    ctx.obj = cli_state
    ctx.call_on_close(cli_state.close)


app.command("init")(_admin.init)
app.command("demo")(_admin.demo)
app.command("quickstart")(_admin.quickstart)
app.command("serve")(_serve.serve)
app.command("doctor")(_admin.doctor)
app.command("gc")(_admin.gc)
app.command("verify")(_verify.verify)
app.command("experiments")(_admin.experiments)
app.command("audit")(_admin.audit)
app.add_typer(_runs.app, name="runs")
app.add_typer(_data.app, name="data")
_models.app.command("onnx")(_onnx.onnx)
app.add_typer(_models.app, name="models")
app.add_typer(_endpoints.app, name="endpoints")
app.add_typer(_monitor.app, name="monitor")
app.add_typer(_feedback.app, name="feedback")
app.add_typer(_artifacts.app, name="artifacts")
app.add_typer(_admin.db_app, name="db")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit code.

    A closedloop error prints one line naming the problem and one naming the fix, and exits
    with the error's own code; ``--debug`` shows the traceback instead.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        result = app(args=args, prog_name="closedloop", standalone_mode=False)
    except ClosedLoopError as e:
        if debug:
            raise
        # Messages and hints name what the user gave (run names, paths): shown literally.
        _say_error(e.code, e.message, e.hint)
        return e.exit_code
    except typer.Abort:
        err_console.print(line("aborted"))
        return 1
    except typer.TyperException as e:  # usage errors: unknown command, bad option value
        show = getattr(e, "show", None)
        if callable(show):
            show()
        return int(getattr(e, "exit_code", 2))
    except KeyboardInterrupt:
        err_console.print(line("interrupted"))
        return 130
    except OSError as e:  # a file the user named: missing, unreadable, a folder, a full disk
        if debug:
            raise
        where = f"{e.filename}: " if e.filename else ""
        _say_error("OS", f"{where}{e.strerror or e}", "check the path and its permissions")
        return 1
    except Exception as e:  # a bug: still one line, and the way to the traceback
        if debug:
            raise
        _say_error(
            "INTERNAL",
            f"unexpected {type(e).__name__}: {e}",
            "run again with --debug for the traceback, and report it",
        )
        return 70  # EX_SOFTWARE
    return result if isinstance(result, int) else 0


def _say_error(code: str, message: str, hint: str | None) -> None:
    # One logical line each, even when stderr is piped (no wrapping at the console width).
    err_console.print(line(("error", "bold red"), f" [{code}]: ", message), soft_wrap=True)
    if hint:
        err_console.print(line(("hint:", "bold"), " ", hint), soft_wrap=True)

"""The command line starts light: no data stack, no model stack, no web framework.

Typer registers every command when ``closedloop.cli`` is imported, so each command module
imports what its commands need (pandas, SciPy, scikit-learn, FastAPI) inside them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from closedloop.cli import _data


def test_the_cli_help_does_not_import_the_data_stack(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from closedloop.cli import main\n"
        "for args in (['--help'], ['serve', '--help'], ['data', 'ingest', '--help']):\n"
        "    sys.argv = ['closedloop', *args]\n"
        "    try:\n"
        "        main()\n"
        "    except SystemExit:\n"
        "        pass\n"
        "heavy = ('pandas', 'pyarrow', 'scipy', 'sklearn', 'fastapi', 'onnx', 'onnxruntime')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "[]"


def test_the_formats_the_help_lists_are_the_readers() -> None:
    from closedloop import data

    assert _data._FORMATS == data.FORMATS

"""The servers of the serving benchmark: set up, start, probe, measure, stop.

closedloop runs as ``closedloop --workspace <tmp> serve bench@latest`` in a fresh workspace;
MLServer 1.7.1 runs as ``mlserver start <folder>`` from its own virtual environment
(``benchmarks/.venv-mlserver``, created on first use). Both are child processes in their
own session, so a stop reaches their whole process tree and nothing else.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx
import numpy as np

__all__ = [
    "BENCH_DIR",
    "REPO",
    "compile_sources",
    "MLSERVER_SPEC",
    "MODEL",
    "N_FEATURES",
    "Endpoint",
    "ServerProcess",
    "closedloop_candidates",
    "columns_body",
    "records_body",
    "rows_of",
    "mlserver_server",
    "mlserver_endpoint",
    "descendants",
    "cmdline",
    "closedloop_server",
    "closedloop_has_flag",
    "ensure_mlserver_venv",
    "fit_model",
    "free_port",
    "mlserver_versions",
    "native_candidates",
    "oip_body",
    "prepare_mlserver_folder",
    "prepare_workspace",
    "tree_rss_mib",
]

MODEL = "bench"
N_FEATURES = 30
MLSERVER_VERSION = "1.7.1"
MLSERVER_SPEC = (f"mlserver=={MLSERVER_VERSION}", f"mlserver-sklearn=={MLSERVER_VERSION}")
BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
CLOSEDLOOP_BIN = Path(sys.executable).with_name("closedloop")


# the model and its payloads -----------------------------------------------------------------
def fit_model() -> tuple[Any, np.ndarray]:
    """``LogisticRegression(max_iter=5000)`` fit on the breast-cancer ndarray, and its X."""
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression

    x, y = load_breast_cancer(return_X_y=True)
    x = np.asarray(x, dtype=np.float64)
    return LogisticRegression(max_iter=5000).fit(x, y), x


def rows_of(x: np.ndarray, n: int) -> np.ndarray:
    """``n`` training rows, cycling through the data (so every value is inside its range)."""
    return x[np.arange(n) % len(x)]


def oip_body(rows: np.ndarray) -> bytes:
    """An Open Inference Protocol v2 request: one FP64 tensor of shape ``[n, 30]``."""
    tensor = {
        "name": "input-0",
        "shape": [int(rows.shape[0]), int(rows.shape[1])],
        "datatype": "FP64",
        "data": rows.ravel().tolist(),
    }
    return json.dumps({"inputs": [tensor]}).encode()


def records_body(rows: np.ndarray) -> bytes:
    """closedloop's native records form: ``{"records": [{"f0": …, …}, …]}``."""
    names = [f"f{i}" for i in range(rows.shape[1])]
    return json.dumps(
        {"records": [dict(zip(names, r, strict=True)) for r in rows.tolist()]}
    ).encode()


def columns_body(rows: np.ndarray) -> bytes:
    """closedloop's native columns form: ``{"columns": {"f0": [...], …}}``."""
    return json.dumps(
        {"columns": {f"f{i}": rows[:, i].tolist() for i in range(rows.shape[1])}}
    ).encode()


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where and in which form a server takes predictions."""

    label: str
    path: str
    encode: Callable[[np.ndarray], bytes]

    def describe(self) -> str:
        return f"`POST {self.path}` ({self.label})"


def closedloop_candidates(name: str = MODEL) -> list[Endpoint]:
    """The OIP v2 route of the new server, then the current server's ``/predict``."""
    return [
        Endpoint("OIP v2 JSON", f"/v2/models/{name}/infer", oip_body),
        Endpoint(
            "records JSON, fallback: the server has no OIP v2 route", "/predict", records_body
        ),
    ]


def native_candidates(name: str = MODEL) -> list[Endpoint]:
    """closedloop's native ``/v1`` route in its records form, then its columns form."""
    path = f"/v1/models/{name}/predict"
    return [
        Endpoint("native records JSON", path, records_body),
        Endpoint("native columns JSON", path, columns_body),
    ]


def mlserver_endpoint(name: str = MODEL) -> Endpoint:
    return Endpoint("OIP v2 JSON", f"/v2/models/{name}/infer", oip_body)


# setup --------------------------------------------------------------------------------------
def prepare_workspace(path: Path, model: Any, x: np.ndarray) -> str:
    """A fresh workspace at ``path`` with the model registered; returns its version id."""
    import pandas as pd

    from closedloop.core import ColumnSchema, LogicalType, TableSchema
    from closedloop.registry import convert_to_onnx, register_model
    from closedloop.workspace import Workspace

    Workspace.init(path)
    columns = [
        ColumnSchema(
            f"f{i}",
            LogicalType.FLOAT,
            nullable=False,
            minimum=float(x[:, i].min()),
            maximum=float(x[:, i].max()),
        )
        for i in range(x.shape[1])
    ]
    with Workspace.open(path) as ws:
        version = register_model(
            ws, MODEL, model, signature=TableSchema(columns), target="diagnosis", classes=["0", "1"]
        )
        # closedloop's fast path: an ONNX conversion, used only because it matches the
        # model on the training rows (identical labels, probabilities within 1e-4).
        validation = pd.DataFrame(x, columns=[c.name for c in columns])
        conversion = convert_to_onnx(ws, version.id, validation)
        _log(f"ONNX conversion of {version.id}: {conversion.reason}")
        if not conversion.ok:
            raise SystemExit(f"the benchmark model did not convert to ONNX: {conversion.reason}")
    return version.id


def prepare_mlserver_folder(path: Path, model: Any) -> Path:
    """``path/bench/{model.joblib, model-settings.json}`` (settings.json is per start)."""
    import joblib

    folder = path / MODEL
    folder.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, folder / "model.joblib")
    settings = {
        "name": MODEL,
        "implementation": "mlserver_sklearn.SKLearnModel",
        "parameters": {"uri": "./model.joblib", "version": "v1"},
    }
    (folder / "model-settings.json").write_text(json.dumps(settings, indent=2))
    return path


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def compile_sources() -> None:
    """Byte-compile closedloop's sources, as installing a wheel does (an editable install
    does not, and under ``PYTHONDONTWRITEBYTECODE`` every start would compile them again;
    MLServer's venv is a regular install, compiled by pip)."""
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(REPO / "src" / "closedloop")], check=True
    )


def ensure_mlserver_venv(venv: Path) -> Path:
    """The ``mlserver`` executable of ``venv``, creating and installing it when missing."""
    sklearn = metadata.version("scikit-learn")
    spec = [*MLSERVER_SPEC, f"scikit-learn=={sklearn}", f"joblib=={metadata.version('joblib')}"]
    stamp = venv / ".bench-installed"
    exe = venv / "bin" / "mlserver"
    if exe.exists() and stamp.exists() and stamp.read_text().split() == spec:
        return exe
    _log(f"installing {' '.join(spec)} into {venv} (once)")
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [
        str(venv / "bin" / "python"),
        "-m",
        "pip",
        "install",
        "--quiet",
        "--disable-pip-version-check",
    ]
    subprocess.run([*pip, *spec], check=True)
    stamp.write_text(" ".join(spec))
    return exe


def mlserver_versions(venv: Path) -> dict[str, str]:
    """Versions of MLServer's stack inside its environment."""
    packages = ["mlserver", "mlserver-sklearn", "scikit-learn", "numpy", "fastapi", "uvicorn"]
    code = (
        "import json, importlib.metadata as m\n"
        f"print(json.dumps({{p: m.version(p) for p in {packages!r}}}))"
    )
    out = subprocess.run(
        [str(venv / "bin" / "python"), "-c", code], capture_output=True, text=True, check=False
    )
    try:
        versions: dict[str, str] = json.loads(out.stdout)
    except json.JSONDecodeError:
        return {"mlserver": "unknown"}
    return versions


def closedloop_has_flag(flag: str) -> bool:
    """Whether ``closedloop serve --help`` lists ``flag`` (e.g. ``--workers``)."""
    env = {**os.environ, "COLUMNS": "400", "NO_COLOR": "1", "TERM": "dumb"}
    out = subprocess.run(
        [str(CLOSEDLOOP_BIN), "serve", "--help"],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    return re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", out.stdout) is not None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# the process tree's memory --------------------------------------------------------------------
def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        tree.setdefault(ppid, []).append(int(entry.name))
    return tree


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it."""
    tree, out, todo = _children(), [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(tree.get(p, []))
    return out


def _rss_kib(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def tree_rss_mib(pid: int) -> float:
    """Resident memory of ``pid`` and its descendants (sum of VmRSS), MiB."""
    return sum(_rss_kib(p) for p in descendants(pid)) / 1024


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return "?"


# a running server --------------------------------------------------------------------------------
@dataclass(slots=True)
class ServerProcess:
    """A server child process, started in its own session, and what its start showed."""

    kind: str
    argv: list[str]
    port: int
    log_path: Path
    cwd: Path
    proc: subprocess.Popen[bytes] | None = None
    start_seconds: float = float("nan")
    endpoint: Endpoint | None = None
    probe_notes: list[str] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def start(
        self, candidates: Sequence[Endpoint], probe_rows: np.ndarray, timeout: float = 60.0
    ) -> None:
        """Spawn the server and poll until a candidate endpoint answers 200.

        ``start_seconds`` is the time from spawning to that first 200; ``endpoint`` is the
        candidate that gave it. A candidate answering 404/405 (no such route) or 4xx (form
        refused) is dropped with a note, unless it is the last one left.
        """
        left = list(candidates)
        bodies = {id(c): c.encode(probe_rows) for c in left}
        log = self.log_path.open("ab")
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            self.argv, stdout=log, stderr=subprocess.STDOUT, cwd=self.cwd, start_new_session=True
        )
        log.close()
        deadline = t0 + timeout
        with httpx.Client(base_url=self.url, timeout=5.0) as client:
            while time.perf_counter() < deadline:
                if self.proc.poll() is not None:
                    break
                for candidate in list(left):
                    try:
                        r = client.post(
                            candidate.path,
                            content=bodies[id(candidate)],
                            headers={"Content-Type": "application/json"},
                        )
                    except httpx.TransportError:
                        time.sleep(0.01)
                        break
                    if r.status_code == 200:
                        self.start_seconds = time.perf_counter() - t0
                        self.endpoint = candidate
                        return
                    if len(left) > 1 and (
                        r.status_code in (404, 405) or 400 <= r.status_code < 500
                    ):
                        self.probe_notes.append(
                            f"{self.kind}: `POST {candidate.path}` answered {r.status_code} "
                            f"({r.text[:120]!r}); fell back"
                        )
                        left.remove(candidate)
                        continue
                    time.sleep(0.02)  # e.g. 503 while loading
                    break
        tail = self.log_path.read_text(errors="replace")[-2000:]
        self.stop()
        raise RuntimeError(f"{self.kind} gave no prediction within {timeout:.0f} s:\n{tail}")

    def probe(self, candidates: Sequence[Endpoint], rows: np.ndarray) -> Endpoint | None:
        """The first of ``candidates`` answering 200 on the running server, or ``None``."""
        with httpx.Client(base_url=self.url, timeout=10.0) as client:
            for candidate in candidates:
                r = client.post(
                    candidate.path,
                    content=candidate.encode(rows),
                    headers={"Content-Type": "application/json"},
                )
                if r.status_code == 200:
                    return candidate
                self.probe_notes.append(
                    f"{self.kind}: `POST {candidate.path}` ({candidate.label}) answered "
                    f"{r.status_code}"
                )
        return None

    def rss_mib(self) -> float:
        return tree_rss_mib(self.pid)

    def signal(self, sig: signal.Signals) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, sig)

    def wait(self, timeout: float) -> float | None:
        """Seconds until the process exits (``None`` if it is still running after ``timeout``)."""
        assert self.proc is not None
        t0 = time.perf_counter()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        return time.perf_counter() - t0

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM, then SIGKILL of its process group if it has not exited in ``timeout``."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.signal(signal.SIGTERM)
            if self.wait(timeout) is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(5)
        # children left behind by a killed parent (same session, started by us)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)


def closedloop_server(
    ws: Path, port: int, log_path: Path, extra: Sequence[str] = ()
) -> ServerProcess:
    argv = [
        str(CLOSEDLOOP_BIN),
        "--workspace",
        str(ws),
        "serve",
        f"{MODEL}@latest",
        "--port",
        str(port),
        *extra,
    ]
    return ServerProcess("closedloop", argv, port, log_path, cwd=ws)


def mlserver_server(exe: Path, folder: Path, port: int, log_path: Path) -> ServerProcess:
    settings = {
        "parallel_workers": 0,
        "host": "127.0.0.1",
        "http_port": port,
        "grpc_port": free_port(),
        "metrics_port": free_port(),
    }
    (folder / "settings.json").write_text(json.dumps(settings, indent=2))
    return ServerProcess("MLServer", [str(exe), "start", str(folder)], port, log_path, cwd=folder)

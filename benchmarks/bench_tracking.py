"""Run-tracking benchmark: closedloop against the targets of the issue, and against MLflow.

Usage::

    .venv/bin/python benchmarks/bench_tracking.py [--peer mlflow] [--quick] [--repeat N]
                                                 [--output FILE.md] [--profile WORKLOAD]

Workloads (each repeat of each workload gets a fresh temporary workspace):

1. ``buffered``: ``log_metric`` one call at a time in the default buffered mode, timed from
   ``start_run`` to the return of ``end()`` (so the final flush is counted).
2. ``sync``: the same with ``synchronous=True`` (every call durable before it returns).
3. ``batch``: ``run.log_batch`` with 1,000 ``(key, value, step)`` points per call.
4. ``runs``: ``with client.start_run(exp, params=<10 params>) as run`` + 10 ``log_metric``.
5. ``search``: ``search_runs("metrics.auc > 0.8", max_results=100)`` over populations of 200,
   2,000 and 10,000 runs (10 params, 10 metrics each, ``auc`` uniform in [0, 1)). The
   population is built once and grown; only the searches are timed.
6. ``import``: ``import closedloop`` in fresh interpreters.

With ``--peer mlflow`` the same workloads run through MLflow (SQLite backend, ``MlflowClient``)
after the closedloop ones, with smaller counts because MLflow is slower.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import datetime as dt
import hashlib
import importlib.util
import io
import logging
import pstats
import random
import sys
import tempfile
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import closedloop
from _common import (
    DURATION,
    RATE_METRICS,
    RATE_RUNS,
    Row,
    Stats,
    Stopwatch,
    Target,
    Unit,
    command_line,
    environment,
    load_average,
    log,
    machine_info,
    markdown_info,
    markdown_table,
    measure,
    print_table,
    time_import,
    verdict,
)

if TYPE_CHECKING:
    from closedloop import Client
    from closedloop.core import RunPage

EXPERIMENT = "bench"
SEARCH_EXPERIMENT = "search"
SEARCH_FILTER = "metrics.auc > 0.8"
SEARCH_ORDER = "metrics.auc DESC"
PAGE = 100
N_PARAMS = N_METRICS = 10
IMPORT_SAMPLES = 5  # at least this many fresh interpreters per import measurement


# the MLflow 3.x numbers (this 2-core machine, SQLite) and the targets built on them ----
@dataclass(frozen=True, slots=True)
class Baseline:
    log_metric: float = 310.0  # metrics/s, one call at a time
    log_batch: float = 15_600.0  # metrics/s
    runs: float = 57.0  # runs/s with 10 params + 10 metrics
    search_200: float = 0.025  # s
    import_s: float = 1.0  # s (0.9-1.1)


BASE = Baseline()
TARGETS = {
    "buffered": Target(100 * BASE.log_metric, "≥ 31,000/s (100x MLflow's 310/s)", 100),
    "sync": Target(5 * BASE.log_metric, "≥ 1,550/s (5x MLflow's 310/s)", 5),
    "batch": Target(3 * BASE.log_batch, "≥ 46,800/s (3x MLflow's 15.6k/s)", 3),
    "runs": Target(10 * BASE.runs, "≥ 570 runs/s (10x MLflow's 57/s)", 10),
    "search": Target(0.020, "≤ 20 ms"),
    "import": Target(0.3, "≤ 0.3 s"),
}


@dataclass(frozen=True, slots=True)
class Sizes:
    """How much work each workload does (closedloop, then the slower peer)."""

    buffered_calls: int
    sync_calls: int
    batch_size: int
    batches: int
    runs: int
    search_sizes: tuple[int, ...]
    searches: int  # timed searches per repeat; the repeat's value is their median
    peer_calls: int
    peer_batches: int
    peer_runs: int
    peer_search_sizes: tuple[int, ...]


FULL = Sizes(
    buffered_calls=100_000,
    sync_calls=3_000,
    batch_size=1_000,
    batches=50,
    runs=500,
    search_sizes=(200, 2_000, 10_000),
    searches=20,
    peer_calls=300,
    peer_batches=10,
    peer_runs=100,
    peer_search_sizes=(200, 2_000, 10_000),
)
QUICK = Sizes(
    buffered_calls=20_000,
    sync_calls=500,
    batch_size=1_000,
    batches=10,
    runs=100,
    search_sizes=(200, 2_000),
    searches=10,
    peer_calls=100,
    peer_batches=3,
    peer_runs=30,
    peer_search_sizes=(200,),
)


class WrongResultError(RuntimeError):
    """A workload's data did not read back as written: a correctness bug, not slowness."""


def check(condition: bool, message: str) -> None:
    if not condition:
        raise WrongResultError(message)


@contextlib.contextmanager
def timed(profiler: cProfile.Profile | None = None) -> Iterator[Stopwatch]:
    """Time the block (and profile it when a profiler is given)."""
    if profiler is not None:
        profiler.enable()
    try:
        with Stopwatch() as sw:
            yield sw
    finally:
        if profiler is not None:
            profiler.disable()


# synthetic data, identical for both libraries -------------------------------------------------
def run_params(i: int) -> dict[str, str]:
    return {f"p{j}": f"{i}-{j}" for j in range(N_PARAMS)}


def run_metrics(i: int) -> dict[str, float]:
    return {f"m{j}": (i * 7 + j) % 1000 / 1000 for j in range(N_METRICS)}


@dataclass(frozen=True, slots=True)
class RunSpec:
    params: dict[str, str]
    metrics: dict[str, float]


def search_population(n: int, seed: int = 20240611) -> list[RunSpec]:
    """``n`` runs: a ``model`` param + 9 more, ``auc`` uniform in [0, 1) + 9 more metrics."""
    rng = random.Random(seed)
    models = ("rf", "xgb", "lr", "svm")
    specs = []
    for _ in range(n):
        params = {"model": rng.choice(models)}
        params.update({f"p{j}": str(rng.randrange(100)) for j in range(1, N_PARAMS)})
        metrics = {"auc": rng.random()}
        metrics.update({f"m{j}": rng.random() for j in range(1, N_METRICS)})
        specs.append(RunSpec(params, metrics))
    return specs


def batch_points(batches: int, size: int) -> list[list[tuple[str, float, int]]]:
    """``batches`` lists of ``size`` ``(key, value, step)`` points over 10 keys."""
    per_key = size // 10
    out = []
    for b in range(batches):
        points = []
        for i in range(size):
            key, step = f"m{i % 10}", b * per_key + i // 10
            points.append((key, (b * size + i) * 1e-3, step))
        out.append(points)
    return out


# closedloop --------------------------------------------------------------------------------------
@contextlib.contextmanager
def cl_workspace() -> Iterator[Client]:
    """A fresh closedloop workspace in a temporary folder (default settings)."""
    with tempfile.TemporaryDirectory(prefix="clbench-") as tmp:
        client = closedloop.init(tmp)
        try:
            yield client
        finally:
            client.close()


def cl_log_metric(
    calls: int, *, synchronous: bool, profiler: cProfile.Profile | None = None
) -> float:
    with cl_workspace() as client:
        with timed(profiler) as sw:
            run = client.start_run(EXPERIMENT, synchronous=synchronous)
            for i in range(calls):
                run.log_metric("loss", i * 1e-3, step=i)
            run.end()
        history = client.get_metric_history(run.id, "loss")
        check(len(history) == calls, f"logged {calls} points, read back {len(history)}")
    return calls / sw.seconds


def cl_log_batch(batches: int, size: int, profiler: cProfile.Profile | None = None) -> float:
    data = batch_points(batches, size)
    with cl_workspace() as client:
        with timed(profiler) as sw:
            run = client.start_run(EXPERIMENT)
            for points in data:
                run.log_batch(points)
            run.end()
        history = client.get_metric_history(run.id, "m0")
        check(len(history) == batches * size // 10, f"m0 has {len(history)} points")
    return batches * size / sw.seconds


def cl_runs(n: int, profiler: cProfile.Profile | None = None) -> float:
    with cl_workspace() as client:
        with timed(profiler) as sw:
            for i in range(n):
                with client.start_run(EXPERIMENT, params=run_params(i)) as run:
                    for key, value in run_metrics(i).items():
                        run.log_metric(key, value)
        page = client.search_runs(experiment=EXPERIMENT, max_results=min(n, 10_000))
        check(len(page.runs) == min(n, 10_000), f"{len(page.runs)} runs found, {n} created")
        last = page.runs[0]
        check(
            len(last.params) == N_PARAMS and len(last.metrics) == N_METRICS,
            f"run {last.id} has {len(last.params)} params and {len(last.metrics)} metrics",
        )
        check(str(last.status) == "FINISHED", f"run {last.id} is {last.status}")
    return n / sw.seconds


def matching(specs: Sequence[RunSpec]) -> int:
    """How many runs ``SEARCH_FILTER`` must find."""
    return sum(1 for spec in specs if spec.metrics["auc"] > 0.8)


def check_page(aucs: Sequence[float], matches: int, has_next: bool, sorted_by_auc: bool) -> None:
    """A first page must hold ``min(PAGE, matches)`` matching runs and say if more follow."""
    expected = min(PAGE, matches)
    check(len(aucs) == expected, f"first page holds {len(aucs)} runs, expected {expected}")
    check(all(a > 0.8 for a in aucs), "a run with auc <= 0.8 matched metrics.auc > 0.8")
    check(has_next == (matches > PAGE), f"next page token is {has_next}, {matches} runs match")
    if sorted_by_auc:
        check(aucs == sorted(aucs, reverse=True), "order_by metrics.auc DESC is not sorted")


def time_searches(search: Callable[[], Any], searches: int, repeat: int, label: str) -> Stats:
    """Median latency of ``searches`` calls, once per repeat (after one warm-up call)."""

    def one_round() -> float:
        latencies = []
        for _ in range(searches):
            with Stopwatch() as sw:
                search()
            latencies.append(sw.seconds)
        latencies.sort()
        return latencies[len(latencies) // 2]

    search()
    return measure(label, one_round, repeat, warmup=0)


@dataclass(slots=True)
class Results:
    """What one library measured: ``Stats`` or an error message per workload key."""

    stats: dict[str, Stats] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)

    def run(self, key: str, work: Callable[..., Stats], *args: Any) -> None:
        try:
            self.stats[key] = work(*args)
        except Exception as e:  # record and go on: one broken workload must not hide the rest
            log(traceback.format_exc())
            self.errors[key] = f"{type(e).__name__}: {e}"


def cl_search(sizes: Sizes, repeat: int, results: Results) -> None:
    """Grow one population through the public API and time searches at each size."""
    specs = search_population(max(sizes.search_sizes))
    with cl_workspace() as client:
        built, build_seconds = 0, 0.0

        def search(order_by: str | None = None) -> RunPage:
            page = client.search_runs(
                SEARCH_FILTER, experiment=SEARCH_EXPERIMENT, order_by=order_by, max_results=PAGE
            )
            aucs = [r.metrics["auc"].value for r in page.runs]
            has_next = page.next_page_token is not None
            check_page(aucs, matching(specs[:built]), has_next, sorted_by_auc=bool(order_by))
            return page

        for size in sizes.search_sizes:
            log(f"  closedloop: populating {size:,} runs")
            with Stopwatch() as sw:
                for spec in specs[built:size]:
                    with client.start_run(SEARCH_EXPERIMENT, params=spec.params) as run:
                        run.log_metrics(spec.metrics)
            built, build_seconds = size, build_seconds + sw.seconds
            label = f"search {size:,}"
            results.run(f"search@{size}", time_searches, search, sizes.searches, repeat, label)
        results.notes["search_build"] = (
            f"closedloop built its {built:,}-run search population through the public API "
            f"(`start_run(params=…)` + `log_metrics` + end) in {build_seconds:.1f} s "
            f"({built / build_seconds:,.0f} runs/s)."
        )

        results.run(
            f"search_sorted@{built}",
            time_searches,
            lambda: search(SEARCH_ORDER),
            sizes.searches,
            repeat,
            "sorted search",
        )


def run_closedloop(sizes: Sizes, repeat: int) -> Results:
    results = Results()
    log("closedloop: import time")
    samples = max(IMPORT_SAMPLES, repeat)
    results.run("import", time_import, "import closedloop", samples)
    results.run("import_client", time_import, "import closedloop\nclosedloop.Client", samples)
    workloads = {
        "buffered": partial(cl_log_metric, sizes.buffered_calls, synchronous=False),
        "sync": partial(cl_log_metric, sizes.sync_calls, synchronous=True),
        "batch": partial(cl_log_batch, sizes.batches, sizes.batch_size),
        "runs": partial(cl_runs, sizes.runs),
    }
    for key, once in workloads.items():
        log(f"closedloop: {key}")
        results.run(key, measure, key, once, repeat)
    log("closedloop: search")
    cl_search(sizes, repeat, results)
    return results


# MLflow ------------------------------------------------------------------------------------------
class MlflowPeer:
    """The same workloads through ``MlflowClient`` on a SQLite tracking store.

    Every call is what a user of the client API writes: ``log_metric`` one call at a time,
    ``log_batch`` with ``Metric``/``Param`` entities, and for runs ``create_run`` +
    ``log_batch(params, metrics)`` + ``set_terminated`` (the fastest plain-API way; the fluent
    ``mlflow.start_run`` + ``log_params`` + ``log_metrics`` is slower).
    """

    def __init__(self) -> None:
        for name in ("mlflow", "alembic", "sqlalchemy"):
            logging.getLogger(name).setLevel(logging.ERROR)
        import mlflow
        from mlflow.entities import Metric, Param

        self.mlflow: Any = mlflow
        self.Metric: Any = Metric
        self.Param: Any = Param
        self.version: str = mlflow.__version__

    @contextlib.contextmanager
    def workspace(self) -> Iterator[tuple[Any, str]]:
        """A fresh SQLite tracking store and experiment in a temporary folder."""
        with tempfile.TemporaryDirectory(prefix="mlbench-") as tmp:
            uri = f"sqlite:///{tmp}/mlflow.db"
            self.mlflow.set_tracking_uri(uri)
            client = self.mlflow.MlflowClient(tracking_uri=uri)
            experiment_id = client.create_experiment(
                EXPERIMENT, artifact_location=Path(tmp, "artifacts").as_uri()
            )
            yield client, experiment_id

    def log_metric(self, calls: int) -> float:
        with self.workspace() as (client, eid), timed() as sw:
            run_id = client.create_run(eid).info.run_id
            for i in range(calls):
                client.log_metric(run_id, "loss", i * 1e-3, step=i)
            client.set_terminated(run_id)
        return calls / sw.seconds

    def log_batch(self, batches: int, size: int) -> float:
        now = int(time.time() * 1000)
        data = [
            [self.Metric(k, v, now, s) for k, v, s in points]
            for points in batch_points(batches, size)
        ]
        with self.workspace() as (client, eid):
            with timed() as sw:
                run_id = client.create_run(eid).info.run_id
                for metrics in data:
                    client.log_batch(run_id, metrics=metrics)
                client.set_terminated(run_id)
            history = client.get_metric_history(run_id, "m0")
            check(len(history) == batches * size // 10, f"MLflow m0 has {len(history)} points")
        return batches * size / sw.seconds

    def _create_run(
        self, client: Any, eid: str, params: dict[str, str], metrics: dict[str, float]
    ) -> None:
        run_id = client.create_run(eid).info.run_id
        now = int(time.time() * 1000)
        client.log_batch(
            run_id,
            metrics=[self.Metric(k, v, now, 0) for k, v in metrics.items()],
            params=[self.Param(k, v) for k, v in params.items()],
        )
        client.set_terminated(run_id)

    def runs(self, n: int) -> float:
        with self.workspace() as (client, eid), timed() as sw:
            for i in range(n):
                self._create_run(client, eid, run_params(i), run_metrics(i))
        return n / sw.seconds

    def search(self, sizes: Sizes, repeat: int, budget: float, results: Results) -> None:
        specs = search_population(max(sizes.peer_search_sizes))
        with self.workspace() as (client, eid):
            built, build_seconds = 0, 0.0

            def search() -> Any:
                page = client.search_runs([eid], SEARCH_FILTER, max_results=PAGE)
                aucs = [r.data.metrics["auc"] for r in page]
                check_page(aucs, matching(specs[:built]), bool(page.token), sorted_by_auc=False)
                return page

            for size in sizes.peer_search_sizes:
                if built:
                    projected = size / (built / build_seconds)
                    if projected > budget:
                        results.notes["search_skipped_size"] = f"{size}"
                        results.notes["search_skip"] = (
                            f"MLflow search at {size:,} runs was not measured: building that "
                            f"population would take about {projected:.0f} s at the "
                            f"{built / build_seconds:.0f} runs/s measured (budget {budget:.0f} s, "
                            "`--peer-build-budget`)."
                        )
                        break
                log(f"  mlflow: populating {size:,} runs")
                with Stopwatch() as sw:
                    for spec in specs[built:size]:
                        self._create_run(client, eid, spec.params, spec.metrics)
                built, build_seconds = size, build_seconds + sw.seconds
                label = f"mlflow search {size:,}"
                results.run(f"search@{size}", time_searches, search, sizes.searches, repeat, label)
            results.notes["search_build"] = (
                f"MLflow built its {built:,}-run population (`create_run` + `log_batch` + "
                f"`set_terminated`) in {build_seconds:.1f} s ({built / build_seconds:,.0f} runs/s)."
            )


def run_mlflow(sizes: Sizes, repeat: int, budget: float) -> Results:
    results = Results()
    log("mlflow: import time")  # first: set_tracking_uri below exports MLFLOW_TRACKING_URI
    samples = max(IMPORT_SAMPLES, repeat)
    results.run("import", time_import, "import mlflow", samples)
    results.run("import_client", time_import, "import mlflow\nmlflow.MlflowClient", samples)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peer = MlflowPeer()
        workloads = {
            "log_metric": partial(peer.log_metric, sizes.peer_calls),
            "batch": partial(peer.log_batch, sizes.peer_batches, sizes.batch_size),
            "runs": partial(peer.runs, sizes.peer_runs),
        }
        for key, once in workloads.items():
            log(f"mlflow: {key}")
            results.run(key, measure, f"mlflow {key}", once, repeat)
        log("mlflow: search")
        peer.search(sizes, repeat, budget, results)
    return results


# report ------------------------------------------------------------------------------------------
def source_fingerprint() -> str:
    """A digest of closedloop's source files, to tie numbers to a code state without git."""
    root = Path(closedloop.__file__).parent
    digest = hashlib.sha256()
    files = sorted(root.rglob("*.py"))
    for path in files:
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    newest = max(path.stat().st_mtime for path in files)
    when = dt.datetime.fromtimestamp(newest, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"sha256 {digest.hexdigest()[:16]} over {len(files)} files, newest change {when}"


def build_rows(sizes: Sizes, ours: Results, peer: Results | None) -> list[Row]:
    theirs = peer or Results()
    peer_missing = "not run" if peer is None else ""

    def row(label: str, unit: Unit, key: str, peer_key: str | None, target: Target | None) -> Row:
        peer_stats = theirs.stats.get(peer_key) if peer_key else None
        peer_note = theirs.errors.get(peer_key, "") if peer_key else ""
        return Row(
            label,
            unit,
            ours.stats.get(key),
            peer_stats,
            target,
            note="not run",
            peer_note=f"error: {peer_note}" if peer_note else (peer_missing or "not run"),
            error=ours.errors.get(key, ""),
        )

    s = sizes
    rows = [
        row(
            f"log_metric, buffered ({s.buffered_calls:,} calls; MLflow {s.peer_calls:,})",
            RATE_METRICS,
            "buffered",
            "log_metric",
            TARGETS["buffered"],
        ),
        row(
            f"log_metric, synchronous ({s.sync_calls:,} calls; MLflow {s.peer_calls:,})",
            RATE_METRICS,
            "sync",
            "log_metric",
            TARGETS["sync"],
        ),
        row(
            f"log_batch, {s.batch_size:,}/batch ({s.batches * s.batch_size:,} metrics; "
            f"MLflow {s.peer_batches * s.batch_size:,})",
            RATE_METRICS,
            "batch",
            "batch",
            TARGETS["batch"],
        ),
        row(
            f"runs: start + 10 params + 10 metrics + end ({s.runs:,} runs; MLflow {s.peer_runs:,})",
            RATE_RUNS,
            "runs",
            "runs",
            TARGETS["runs"],
        ),
    ]
    largest = max(s.search_sizes)
    for size in sorted({*s.search_sizes, 10_000}):
        target = TARGETS["search"] if size == 10_000 else None
        rows.append(
            row(
                f"search `{SEARCH_FILTER}`, first {PAGE}, over {size:,} runs",
                DURATION,
                f"search@{size}",
                f"search@{size}",
                target,
            )
        )
        if size not in s.search_sizes:
            rows[-1].note = "not run (--quick)"
    rows.append(
        row(
            f"same over {largest:,} runs + order_by `{SEARCH_ORDER}`",
            DURATION,
            f"search_sorted@{largest}",
            None,
            None,
        )
    )
    rows[-1].peer_note = "not run"
    rows.append(
        row(
            "`import closedloop` / `import mlflow`", DURATION, "import", "import", TARGETS["import"]
        )
    )
    rows.append(
        row(
            "import + client class loaded (`closedloop.Client` / `mlflow.MlflowClient`)",
            DURATION,
            "import_client",
            "import_client",
            None,
        )
    )
    skipped = theirs.notes.get("search_skipped_size")
    if skipped:
        for r in rows:
            if r.label.endswith(f"over {int(skipped):,} runs") and r.peer is None:
                r.peer_note = "not built (see notes)"
    return rows


def notes(sizes: Sizes, repeat: int, ours: Results, peer: Results | None) -> list[str]:
    out = [
        f"Each cell: median of {repeat} repeats, (min - max) in brackets; each repeat of a "
        "logging workload runs in a fresh temporary workspace / MLflow SQLite database, after "
        "one discarded warm-up repeat. "
        "Speed-up = closedloop ÷ MLflow for rates, MLflow ÷ closedloop for latencies, both "
        "measured in this run.",
        "Targets are the issue's absolute numbers (its MLflow 3.x baseline x the required "
        "multiple). PASS* = the absolute target is met but the speed-up over the MLflow "
        "measured in this run is below the multiple.",
        "Logging workloads are timed from `start_run` (MLflow: `create_run`) to the return of "
        "`end()` (MLflow: `set_terminated`), so closedloop's final flush is counted. Both "
        "libraries log `loss` with an explicit `step=i`. The MLflow `log_metric` number appears "
        "on both log_metric rows (MLflow has no buffered mode).",
        f"Batches hold {sizes.batch_size:,} points over 10 keys (closedloop: "
        "`run.log_batch([(key, value, step), …])`; MLflow: `client.log_batch(run_id, "
        "metrics=[Metric…])`); the point lists are built before the timer starts.",
        "Runs: closedloop `with client.start_run(exp, params=<10>) as run:` + 10 x "
        "`run.log_metric`; MLflow `create_run` + `log_batch(params=<10>, metrics=<10>)` + "
        "`set_terminated` (the fastest MlflowClient path; the fluent API is slower).",
        f"Search: `search_runs({SEARCH_FILTER!r}, max_results={PAGE})` in one experiment whose "
        "runs have 10 params and 10 metrics (`auc` uniform in [0, 1), so ~20 % match). The "
        "population is built once and grown (200 → 2,000 → 10,000); each repeat is the median "
        f"of {sizes.searches} searches after one warm-up. Every page is checked (min(100, matches) "
        "runs, all with auc > 0.8, a next-page token exactly when more runs match).",
        "Import: seconds the import statement takes inside a fresh interpreter (interpreter "
        f"start-up excluded), median of {max(IMPORT_SAMPLES, repeat)} processes.",
    ]
    if "search_build" in ours.notes:
        out.append(ours.notes["search_build"])
    if peer is not None:
        out.extend(peer.notes[k] for k in ("search_build", "search_skip") if k in peer.notes)
    errors = {**ours.errors, **{f"mlflow {k}": v for k, v in (peer.errors if peer else {}).items()}}
    out.extend(f"Error in `{k}`: {v}" for k, v in errors.items())
    return out


def markdown_section(rows: Sequence[Row], info: dict[str, str], notes_: Sequence[str]) -> str:
    return "\n".join(
        [
            f"## Results, {info['date']}",
            "",
            "Command:",
            "",
            "```",
            command_line(),
            "```",
            "",
            markdown_table(rows),
            "",
            *(f"- {n}" for n in notes_),
            "",
            "Machine:",
            "",
            markdown_info(info),
            "",
        ]
    )


HEADER = """# closedloop run-tracking benchmark

`benchmarks/bench_tracking.py` measures closedloop's run tracking against the performance
targets of the issue, side by side with MLflow 3.x on the same machine (SQLite backends for
both).

## How to run

```bash
.venv/bin/python benchmarks/bench_tracking.py --peer mlflow --output benchmarks/RESULTS.md
.venv/bin/python benchmarks/bench_tracking.py --quick            # a ~1 minute smoke run
.venv/bin/python benchmarks/bench_tracking.py --profile runs     # cProfile one workload
```

Options: `--peer mlflow` adds MLflow (skipped with a note when it is not importable;
`pip install -e '.[bench]'`), `--repeat N` (default 5, 3 with `--quick`), `--quick` (smaller
counts, no 10,000-run search), `--output FILE.md` (appends a section like the one below),
`--peer-build-budget S` (largest time MLflow may spend building its search population,
default 120 s). Progress goes to stderr, the table to stdout. A full run with MLflow takes
about 3 minutes on a 2-core machine (exit status 1 if a target fails).

"""


def write_markdown(path: Path, section: str) -> None:
    if path.exists() and path.read_text(encoding="utf-8").strip():
        with path.open("a", encoding="utf-8") as f:
            f.write("\n" + section)
    else:
        path.write_text(HEADER + section, encoding="utf-8")


# profiling -----------------------------------------------------------------------------------
PROFILED = ("buffered", "sync", "batch", "runs", "search")


def profile(workload: str, sizes: Sizes, top: int = 30) -> None:
    """Run one closedloop workload once under cProfile and print the top entries."""
    profiler = cProfile.Profile()
    if workload == "buffered":
        value = (
            f"{cl_log_metric(sizes.buffered_calls, synchronous=False, profiler=profiler):,.0f}/s"
        )
    elif workload == "sync":
        value = f"{cl_log_metric(sizes.sync_calls, synchronous=True, profiler=profiler):,.0f}/s"
    elif workload == "batch":
        value = f"{cl_log_batch(sizes.batches, sizes.batch_size, profiler=profiler):,.0f}/s"
    elif workload == "runs":
        value = f"{cl_runs(sizes.runs, profiler=profiler):,.0f} runs/s"
    else:
        size = max(sizes.search_sizes)
        with cl_workspace() as client:
            for spec in search_population(size):
                with client.start_run(SEARCH_EXPERIMENT, params=spec.params) as run:
                    run.log_metrics(spec.metrics)
            client.search_runs(SEARCH_FILTER, experiment=SEARCH_EXPERIMENT, max_results=PAGE)
            with timed(profiler) as sw:
                for _ in range(sizes.searches):
                    client.search_runs(
                        SEARCH_FILTER, experiment=SEARCH_EXPERIMENT, max_results=PAGE
                    )
            value = f"{sw.seconds / sizes.searches * 1000:.1f} ms/search over {size:,} runs"
    print(f"# {workload}: {value} (under the profiler, so slower than unprofiled)")
    for order in ("cumulative", "tottime"):
        buf = io.StringIO()
        stats = pstats.Stats(profiler, stream=buf)
        stats.strip_dirs().sort_stats(order).print_stats(top)
        print(f"\n## top {top} by {order}\n")
        print(buf.getvalue())


# entry point -------------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--peer", choices=["mlflow"], help="also run the workloads through MLflow")
    parser.add_argument("--quick", action="store_true", help="smaller counts, fewer repeats")
    parser.add_argument("--repeat", type=int, help="repeats per workload (default 5, quick 3)")
    parser.add_argument("--output", type=Path, help="append a Markdown section to this file")
    parser.add_argument(
        "--peer-build-budget",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="skip a peer search size whose population would take longer than this to build",
    )
    parser.add_argument(
        "--profile",
        choices=PROFILED,
        help="run one closedloop workload once under cProfile, print the top entries, exit",
    )
    args = parser.parse_args(argv)
    if args.repeat is not None and args.repeat < 1:
        parser.error("--repeat must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = QUICK if args.quick else FULL
    if args.profile:
        profile(args.profile, sizes)
        return 0
    repeat = args.repeat or (3 if args.quick else 5)
    wants_peer = args.peer == "mlflow"
    has_peer = wants_peer and importlib.util.find_spec("mlflow") is not None
    if wants_peer and not has_peer:
        log("mlflow is not importable: measuring closedloop only (pip install -e '.[bench]')")
    started, load_at_start = time.perf_counter(), load_average()
    env_at_start = environment(("CLOSEDLOOP_", "MLFLOW_"))
    source_at_start = source_fingerprint()
    ours = run_closedloop(sizes, repeat)
    source_after = source_fingerprint()  # later edits cannot change closedloop's numbers
    theirs = run_mlflow(sizes, repeat, args.peer_build_budget) if has_peer else None
    elapsed = time.perf_counter() - started
    log(f"done in {elapsed:.0f} s")

    rows = build_rows(sizes, ours, theirs)
    info = machine_info(["closedloop", "mlflow", "sqlalchemy"])
    info["closedloop source measured"] = (
        source_at_start
        if source_at_start == source_after
        else f"{source_at_start}; CHANGED while closedloop was measured, to {source_after}"
    )
    info["environment at the start"] = env_at_start
    info["load average (1/5/15 min) at the start"] = load_at_start
    info["benchmark wall time"] = f"{elapsed:.0f} s"
    print_table(rows, f"closedloop run tracking vs MLflow ({info['date']})")
    notes_ = notes(sizes, repeat, ours, theirs)
    for n in notes_:
        print(f"- {n}")
    if args.output:
        write_markdown(args.output, markdown_section(rows, info, notes_))
        log(f"wrote {args.output}")
    failed = [r.label for r in rows if verdict(r) in ("FAIL", "ERROR")]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

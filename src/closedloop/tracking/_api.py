"""Run-tracking verbs over a ``Workspace``. Each passes through the workspace's action gate."""

from __future__ import annotations

import random
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from closedloop.core import ArtifactRef, Experiment, Metric, Run, RunPage, now_ms
from closedloop.errors import InvalidArgumentError, NotFoundError
from closedloop.tracking._run import ActiveRun, _text
from closedloop.workspace import Actions, Workspace

__all__ = [
    "DeleteReport",
    "RunComparison",
    "compare_runs",
    "delete_run",
    "download_artifact",
    "get_experiment",
    "get_metric_history",
    "get_run",
    "list_artifacts",
    "list_experiments",
    "read_artifact",
    "resolve_run_id",
    "search_runs",
    "start_run",
]

_ADJECTIVES = (
    "amber",
    "bold",
    "brisk",
    "calm",
    "clever",
    "crisp",
    "daring",
    "eager",
    "fair",
    "gentle",
    "glad",
    "keen",
    "lively",
    "lucid",
    "mellow",
    "nimble",
    "noble",
    "quiet",
    "rapid",
    "serene",
    "sharp",
    "steady",
    "swift",
    "tidy",
    "vivid",
    "warm",
    "witty",
)
_NOUNS = (
    "badger",
    "cedar",
    "comet",
    "crane",
    "delta",
    "ember",
    "falcon",
    "fjord",
    "gecko",
    "harbor",
    "heron",
    "lark",
    "lynx",
    "maple",
    "meadow",
    "orca",
    "otter",
    "quartz",
    "raven",
    "reef",
    "river",
    "sparrow",
    "summit",
    "tiger",
    "willow",
    "wren",
    "yak",
)


def _run_name(run_id: str) -> str:
    rnd = random.Random(run_id)
    return f"{rnd.choice(_ADJECTIVES)}-{rnd.choice(_NOUNS)}-{rnd.randrange(1000):03d}"


def start_run(
    workspace: Workspace,
    experiment: str = "default",
    *,
    project: str = "default",
    name: str | None = None,
    params: Mapping[str, Any] | None = None,
    tags: Mapping[str, Any] | None = None,
    synchronous: bool | None = None,
    owns_workspace: bool = False,
) -> ActiveRun:
    """Start a run in ``project/experiment`` (both created on first use).

    Args:
        workspace: Where to record.
        experiment: Experiment name.
        project: Project name.
        name: Run name; a readable one is generated when omitted.
        params: Initial params, written with the run.
        tags: Initial tags.
        synchronous: Write every ``log_*`` call before it returns; defaults to the
            ``synchronous_logging`` setting.
        owns_workspace: Close ``workspace`` when the run ends (for callers that opened it
            only for this run).
    """
    run_id = uuid.uuid4().hex
    with workspace.action(
        Actions.RUN_CREATE, f"run:{run_id}", experiment=f"{project}/{experiment}"
    ) as act:
        exp = workspace.metadata.get_or_create_experiment(project, experiment)
        run = workspace.metadata.create_run(
            exp.id,
            name=name or _run_name(run_id),
            user=workspace.actor,
            start_time=now_ms(),
            params={k: _text(v) for k, v in (params or {}).items()},
            tags={k: _text(v) for k, v in (tags or {}).items()},
            run_id=run_id,
            audit=act,
        )
    sync = workspace.settings.synchronous_logging if synchronous is None else synchronous
    return ActiveRun(workspace, run, synchronous=sync, owns_workspace=owns_workspace)


def resolve_run_id(workspace: Workspace, prefix: str) -> str:
    """The full id of the one run whose id starts with ``prefix`` (like git's short hashes).

    Raises:
        NotFoundError: No run id starts with it.
        InvalidArgumentError: It is not hexadecimal, or several runs match.
    """
    prefix = prefix.strip().lower()
    if not prefix or any(c not in "0123456789abcdef" for c in prefix) or len(prefix) > 32:
        raise InvalidArgumentError(
            f"{prefix!r} is not a run id", hint="run ids are 32 hexadecimal characters"
        )
    expression = f"id = '{prefix}'" if len(prefix) == 32 else f"id like '{prefix}%'"
    page = workspace.metadata.search_runs(None, expression, None, 2, None)
    if not page.runs:
        raise NotFoundError(f"no run id starts with {prefix!r}", hint="see `closedloop runs list`")
    if len(page.runs) > 1:
        raise InvalidArgumentError(
            f"run id prefix {prefix!r} is ambiguous", hint="give more characters of the id"
        )
    return page.runs[0].id


def get_run(workspace: Workspace, run_id: str) -> Run:
    """One run with its params, latest metrics, tags and inputs."""
    with workspace.action(Actions.RUN_READ, f"run:{run_id}"):
        return workspace.metadata.get_run(run_id)


def list_experiments(workspace: Workspace, project: str | None = None) -> list[Experiment]:
    """Experiments of one project (or all), by project then name."""
    with workspace.action(Actions.EXPERIMENT_LIST, f"project:{project or '*'}"):
        return workspace.metadata.list_experiments(project)


def get_experiment(workspace: Workspace, experiment_id: int) -> Experiment:
    """One experiment by id."""
    with workspace.action(Actions.EXPERIMENT_READ, f"experiment:{experiment_id}"):
        return workspace.metadata.get_experiment(experiment_id)


def get_metric_history(workspace: Workspace, run_id: str, key: str) -> list[Metric]:
    """Every point of one metric series of a run."""
    with workspace.action(Actions.RUN_READ, f"run:{run_id}", metric=key):
        return workspace.metadata.get_metric_history(run_id, key)


def _experiment_ids(
    workspace: Workspace, project: str | None, experiment: str | None
) -> list[int] | None:
    if project is None and experiment is None:
        return None
    found = [
        e
        for e in workspace.metadata.list_experiments(project)
        if experiment is None or e.name == experiment
    ]
    if not found:
        where = f"{project or '*'}/{experiment or '*'}"
        raise NotFoundError(
            f"no experiment matches {where}", hint="list them with `closedloop experiments`"
        )
    return [e.id for e in found]


def search_runs(
    workspace: Workspace,
    filter: str | None = None,
    *,
    project: str | None = None,
    experiment: str | None = None,
    order_by: Sequence[str] | str | None = None,
    max_results: int = 100,
    page_token: str | None = None,
) -> RunPage:
    """Find runs, e.g. ``search_runs(ws, "metrics.auc > 0.8 and params.model = 'rf'")``.

    Args:
        workspace: Where to look.
        filter: A filter expression (see ``closedloop.core.parse_filter``); ``None`` for all.
        project: Only runs of this project.
        experiment: Only runs of experiments with this name.
        order_by: Clauses such as ``"metrics.auc DESC"``; newest first by default.
        max_results: Page size (1 to 10,000).
        page_token: ``next_page_token`` of the previous page.
    """
    with workspace.action(Actions.RUN_SEARCH, "runs:*", filter=filter or "") as facts:
        ids = _experiment_ids(workspace, project, experiment)
        page = workspace.metadata.search_runs(ids, filter, order_by, max_results, page_token)
        facts["returned"] = len(page.runs)
    return page


@dataclass(frozen=True, slots=True)
class DeleteReport:
    """What deleting a run freed."""

    run_id: str
    blobs_freed: int
    bytes_freed: int


def delete_run(workspace: Workspace, run_id: str) -> DeleteReport:
    """Delete a run, its data and every artifact blob no other record uses."""
    with workspace.action(Actions.RUN_DELETE, f"run:{run_id}") as facts:
        sizes = {a.digest: a.size for a in workspace.metadata.list_artifacts(run_id)}
        orphans = workspace.metadata.delete_run(run_id)
        still = workspace.metadata.referenced_digests(among=orphans) if orphans else set()
        freed = [d for d in orphans if d not in still and workspace.artifacts.delete(d)]
        facts.update(blobs_freed=len(freed))
    return DeleteReport(run_id, len(freed), sum(sizes.get(d, 0) for d in freed))


@dataclass(frozen=True, slots=True)
class RunComparison:
    """Runs side by side.

    Attributes:
        runs: The compared runs, in the order asked.
        params: Every param key → value per run (``None`` where a run lacks it).
        metrics: Every metric key → latest value per run.
        differing_params: Param keys whose values are not all equal.
    """

    runs: list[Run]
    params: dict[str, list[str | None]]
    metrics: dict[str, list[float | None]]
    differing_params: list[str]


def compare_runs(workspace: Workspace, run_ids: Sequence[str]) -> RunComparison:
    """Line up params and metrics of several runs."""
    if len(run_ids) < 2:
        raise InvalidArgumentError("compare needs at least two run ids")
    with workspace.action(Actions.RUN_READ, "runs:" + ",".join(run_ids)):
        runs = workspace.metadata.get_runs(list(run_ids))
    param_keys = sorted({k for r in runs for k in r.params})
    metric_keys = sorted({k for r in runs for k in r.metrics})
    params = {k: [r.params.get(k) for r in runs] for k in param_keys}
    metrics: dict[str, list[float | None]] = {
        k: [r.metrics[k].value if k in r.metrics else None for r in runs] for k in metric_keys
    }
    differing = [k for k, values in params.items() if len(set(values)) > 1]
    return RunComparison(runs, params, metrics, differing)


def list_artifacts(workspace: Workspace, run_id: str) -> list[ArtifactRef]:
    """A run's artifacts."""
    with workspace.action(Actions.ARTIFACT_LIST, f"run:{run_id}"):
        return workspace.metadata.list_artifacts(run_id)


def read_artifact(workspace: Workspace, run_id: str, path: str) -> bytes:
    """An artifact's content, verified against its digest."""
    with workspace.action(Actions.ARTIFACT_GET, f"run:{run_id}/{path}"):
        ref = workspace.metadata.get_artifact(run_id, path)
        return workspace.artifacts.get_bytes(ref.digest)


def download_artifact(
    workspace: Workspace, run_id: str, path: str, dest: str | Path | None = None
) -> Path:
    """Write an artifact to ``dest`` (a file, or a folder to put it in); returns the file.

    The file appears only after its content was verified in full.
    """
    with workspace.action(Actions.ARTIFACT_GET, f"run:{run_id}/{path}") as facts:
        ref = workspace.metadata.get_artifact(run_id, path)
        target = Path(dest) if dest is not None else Path(Path(path).name)
        if target.is_dir():
            target = target / Path(path).name
        workspace.artifacts.get_file(ref.digest, target)
        facts["digest"] = ref.digest
    return target

"""The action catalog: every action the gate knows, what it touches, whether it writes.

``Workspace.action`` takes an entry of :class:`Actions` (or its dotted name, which must name
an entry); permissions and the audit chain key on it. A new verb adds its entry here. The
read-audit policy (setting ``audit_reads``) is decided from an entry's resource kind and
access.
"""

from __future__ import annotations

from enum import Enum, StrEnum

from closedloop.config import AuditReads
from closedloop.errors import InvalidArgumentError

__all__ = ["Access", "Actions", "AuditReads", "ResourceKind", "is_audited", "lookup_action"]


class ResourceKind(StrEnum):
    """What an action acts on (the prefix of its ``resource`` text, mostly)."""

    RUN = "run"
    EXPERIMENT = "experiment"
    ARTIFACT = "artifact"
    DATASET = "dataset"
    MODEL = "model"
    PREDICTION = "prediction"
    DECISION = "decision"
    ENDPOINT = "endpoint"
    AUDIT = "audit"


class Access(Enum):
    """Whether an action only reads, or changes the workspace."""

    READ = "read"
    WRITE = "write"


#: Kinds whose reads ``audit_reads="data_and_models"`` records: content and models, the
#: things a data-protection review asks about. Run, experiment and decision reads
#: (metadata browsed while working) are not recorded under it.
DATA_AND_MODEL_KINDS = frozenset(
    {ResourceKind.DATASET, ResourceKind.MODEL, ResourceKind.PREDICTION, ResourceKind.ARTIFACT}
)


class Actions(StrEnum):
    """Every action of the gate: its dotted name, resource kind and access.

    An entry is a ``str`` equal to its dotted name (``Actions.RUN_CREATE == "run.create"``),
    so it can filter the audit log directly.
    """

    kind: ResourceKind
    access: Access

    def __new__(cls, dotted: str, kind: ResourceKind, access: Access) -> Actions:
        """An entry named ``dotted``."""
        entry = str.__new__(cls, dotted)
        entry._value_ = dotted
        entry.kind = kind
        entry.access = access
        return entry

    # runs and experiments
    RUN_CREATE = ("run.create", ResourceKind.RUN, Access.WRITE)
    RUN_LOG = ("run.log", ResourceKind.RUN, Access.WRITE)
    RUN_LOG_INPUT = ("run.log_input", ResourceKind.RUN, Access.WRITE)
    RUN_END = ("run.end", ResourceKind.RUN, Access.WRITE)
    RUN_DELETE = ("run.delete", ResourceKind.RUN, Access.WRITE)
    RUN_READ = ("run.read", ResourceKind.RUN, Access.READ)
    RUN_SEARCH = ("run.search", ResourceKind.RUN, Access.READ)
    EXPERIMENT_LIST = ("experiment.list", ResourceKind.EXPERIMENT, Access.READ)
    EXPERIMENT_READ = ("experiment.read", ResourceKind.EXPERIMENT, Access.READ)
    # artifacts (run files and the blob store)
    ARTIFACT_PUT = ("artifact.put", ResourceKind.ARTIFACT, Access.WRITE)
    ARTIFACT_GC = ("artifact.gc", ResourceKind.ARTIFACT, Access.WRITE)
    ARTIFACT_GET = ("artifact.get", ResourceKind.ARTIFACT, Access.READ)
    ARTIFACT_LIST = ("artifact.list", ResourceKind.ARTIFACT, Access.READ)
    ARTIFACT_VERIFY = ("artifact.verify", ResourceKind.ARTIFACT, Access.READ)
    # datasets
    DATASET_INGEST = ("dataset.ingest", ResourceKind.DATASET, Access.WRITE)
    DATASET_READ = ("dataset.read", ResourceKind.DATASET, Access.READ)
    DATASET_LIST = ("dataset.list", ResourceKind.DATASET, Access.READ)
    DATASET_VALIDATE = ("dataset.validate", ResourceKind.DATASET, Access.READ)
    # models: registry, serving, monitoring
    MODEL_REGISTER = ("model.register", ResourceKind.MODEL, Access.WRITE)
    MODEL_ALIAS = ("model.alias", ResourceKind.MODEL, Access.WRITE)
    MODEL_ALIAS_DELETE = ("model.alias_delete", ResourceKind.MODEL, Access.WRITE)
    MODEL_DESCRIBE = ("model.describe", ResourceKind.MODEL, Access.WRITE)
    MODEL_TAG = ("model.tag", ResourceKind.MODEL, Access.WRITE)
    MODEL_TAG_DELETE = ("model.tag_delete", ResourceKind.MODEL, Access.WRITE)
    MODEL_READ = ("model.read", ResourceKind.MODEL, Access.READ)
    MODEL_LIST = ("model.list", ResourceKind.MODEL, Access.READ)
    MODEL_LOAD = ("model.load", ResourceKind.MODEL, Access.READ)
    MODEL_CONVERT = ("model.convert", ResourceKind.MODEL, Access.WRITE)  # ONNX
    MODEL_PREDICT = ("model.predict", ResourceKind.MODEL, Access.WRITE)  # logs predictions
    MONITOR_DRIFT = ("monitor.drift", ResourceKind.MODEL, Access.WRITE)  # records a run
    MONITOR_PROFILE = ("monitor.profile", ResourceKind.MODEL, Access.WRITE)  # reference profile
    MONITOR_RUN = ("monitor.run", ResourceKind.MODEL, Access.WRITE)  # windows and alerts
    MONITOR_READ = ("monitor.read", ResourceKind.MODEL, Access.READ)  # windows, alerts, reports
    ALERT_UPDATE = ("alert.update", ResourceKind.MODEL, Access.WRITE)  # acknowledge, resolve
    PREDICTION_READ = ("prediction.read", ResourceKind.PREDICTION, Access.READ)
    PREDICTION_LABEL = ("prediction.label", ResourceKind.PREDICTION, Access.WRITE)  # feedback
    # endpoints: named traffic splits over model versions
    ENDPOINT_CREATE = ("endpoint.create", ResourceKind.ENDPOINT, Access.WRITE)
    ENDPOINT_UPDATE = ("endpoint.update", ResourceKind.ENDPOINT, Access.WRITE)
    ENDPOINT_DELETE = ("endpoint.delete", ResourceKind.ENDPOINT, Access.WRITE)
    ENDPOINT_READ = ("endpoint.read", ResourceKind.ENDPOINT, Access.READ)
    ENDPOINT_LIST = ("endpoint.list", ResourceKind.ENDPOINT, Access.READ)
    # the loop
    LOOP_DECIDE = ("loop.decide", ResourceKind.DECISION, Access.WRITE)
    LOOP_READ = ("loop.read", ResourceKind.DECISION, Access.READ)
    # the audit log itself
    AUDIT_READ = ("audit.read", ResourceKind.AUDIT, Access.READ)


_BY_NAME: dict[str, Actions] = {entry.value: entry for entry in Actions}


def lookup_action(action: Actions | str) -> Actions:
    """The catalog entry ``action`` is, or names.

    Raises:
        InvalidArgumentError: ``action`` names no entry of the catalog.
    """
    if isinstance(action, Actions):
        return action
    entry = _BY_NAME.get(action)
    if entry is None:
        raise InvalidArgumentError(
            f"{action!r} is not an action of the catalog",
            hint="use an entry of closedloop.workspace.Actions (add one for a new verb)",
        )
    return entry


def is_audited(action: Actions, policy: AuditReads) -> bool:
    """Whether ``action`` is recorded under the read-audit ``policy``.

    Writes are always recorded. Reads: every one under ``all``; those of datasets, models,
    predictions and artifacts under ``data_and_models``; none under ``none``.
    """
    if action.access is Access.WRITE or policy == "all":
        return True
    return policy == "data_and_models" and action.kind in DATA_AND_MODEL_KINDS

"""Reading the prediction log: what a served model version answered, oldest first.

Serving writes one :class:`~closedloop.core.Prediction` per answered row, together with the
request's audit event (see :mod:`closedloop.serving._app`). These verbs read the log back
through the gate (``prediction.read``, recorded under the default read-audit policy), so
the CLI, the SDK and a later REST API share one path. This module imports no web library.
"""

from __future__ import annotations

from closedloop.core import ModelVersion, Prediction
from closedloop.workspace import Actions, Workspace

__all__ = ["count_predictions", "list_predictions"]


def _version_id(model_version: str | ModelVersion | None) -> str | None:
    return model_version.id if isinstance(model_version, ModelVersion) else model_version


def count_predictions(ws: Workspace, model_version: str | ModelVersion | None = None) -> int:
    """How many predictions are logged for a model version (or for all versions).

    Args:
        ws: The workspace.
        model_version: A :class:`~closedloop.core.ModelVersion` or its id (``name/3``);
            ``None`` counts every logged prediction.

    Returns:
        The number of logged rows.
    """
    version_id = _version_id(model_version)
    with ws.action(Actions.PREDICTION_READ, f"model:{version_id or '*'}"):
        return ws.metadata.predictions.count(version_id)


def list_predictions(
    ws: Workspace,
    model_version: str | ModelVersion | None = None,
    *,
    since: int | None = None,
    until: int | None = None,
    limit: int | None = None,
) -> list[Prediction]:
    """Logged predictions of a model version (or of all versions) in logging order.

    Args:
        ws: The workspace.
        model_version: A :class:`~closedloop.core.ModelVersion` or its id (``name/3``);
            ``None`` lists the predictions of every version.
        since: Only predictions logged at or after this time (epoch milliseconds).
        until: Only predictions logged before this time (epoch milliseconds).
        limit: At most this many (the oldest first); ``None`` lists all.

    Returns:
        The predictions, each with its request id, row, inputs, output and latency.
    """
    version_id = _version_id(model_version)
    with ws.action(Actions.PREDICTION_READ, f"model:{version_id or '*'}"):
        return ws.metadata.predictions.list(version_id, since=since, until=until, limit=limit)

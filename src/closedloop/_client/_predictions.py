"""``client.predictions``: the prediction log (counts, rows, frames) and feedback (labels).

Thin methods over :mod:`closedloop.predictions`, imported on first call (pandas).
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from closedloop._client._tracking import Area
from closedloop.core import Label, ModelVersion, Prediction

if TYPE_CHECKING:
    import pandas as pd

    from closedloop.predictions import FeedbackReport

__all__ = ["PredictionsClient"]


class PredictionsClient(Area):
    """The prediction log: every row a served model version answered, and its labels."""

    def count(
        self,
        model_version: str | ModelVersion | None = None,
        *,
        endpoint: str | None = None,
        role: str | None = None,
        since: int | None = None,
        until: int | None = None,
    ) -> int:
        """Rows logged for a version (its id, ``name/3``) or for all; see ``count_predictions``."""
        from closedloop.predictions import count_predictions

        return count_predictions(
            self.workspace, model_version, endpoint=endpoint, role=role, since=since, until=until
        )

    def list(
        self,
        model_version: str | ModelVersion | None = None,
        *,
        endpoint: str | None = None,
        role: str | None = None,
        since: int | None = None,
        until: int | None = None,
        limit: int | None = None,
    ) -> builtins.list[Prediction]:
        """Logged rows in logging order; see :func:`closedloop.predictions.list_predictions`."""
        from closedloop.predictions import list_predictions

        return list_predictions(
            self.workspace,
            model_version,
            endpoint=endpoint,
            role=role,
            since=since,
            until=until,
            limit=limit,
        )

    def read(
        self,
        model_version: str | ModelVersion | None = None,
        *,
        endpoint: str | None = None,
        role: str | None = "primary",
        since: int | None = None,
        until: int | None = None,
        with_labels: bool = False,
    ) -> pd.DataFrame:
        """Logged rows as one frame; see :func:`closedloop.predictions.read_predictions`."""
        from closedloop.predictions import read_predictions

        return read_predictions(
            self.workspace,
            model_version,
            endpoint=endpoint,
            role=role,
            since=since,
            until=until,
            with_labels=with_labels,
        )

    def attach_labels(
        self, labels: Iterable[tuple[str, int | None, Any]] | pd.DataFrame
    ) -> FeedbackReport:
        """Attach true outcomes; see :func:`closedloop.predictions.attach_labels`."""
        from closedloop.predictions import attach_labels

        return attach_labels(self.workspace, labels)

    def import_labels(
        self,
        path: str | Path,
        *,
        request_id_column: str = "request_id",
        row_column: str = "row",
        label_column: str = "label",
    ) -> FeedbackReport:
        """Attach the labels of a CSV or Parquet file; see ``closedloop.predictions``."""
        from closedloop.predictions import import_labels

        return import_labels(
            self.workspace,
            path,
            request_id_column=request_id_column,
            row_column=row_column,
            label_column=label_column,
        )

    def list_labels(
        self,
        request_ids: Sequence[str] | None = None,
        *,
        since: int | None = None,
        until: int | None = None,
    ) -> builtins.list[Label]:
        """Attached labels by request id then row; see ``closedloop.predictions``."""
        from closedloop.predictions import list_labels

        return list_labels(self.workspace, request_ids, since=since, until=until)

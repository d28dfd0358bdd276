"""Logged predictions, one per served input row (no I/O)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["Prediction"]


@dataclass(frozen=True, slots=True)
class Prediction:
    """One logged prediction (one input row).

    Attributes:
        request_id: The serving request it belongs to (with ``row``, the log's key).
        row: Position of the row in the request.
        time: Epoch milliseconds.
        model_version_id: The model version that served it (``<model>/<version>``).
        inputs: The row's features as received.
        output: What the model answered (label, probabilities, ...).
        latency_ms: Time spent predicting the request.
    """

    request_id: str
    row: int
    time: int
    model_version_id: str
    inputs: Mapping[str, Any]
    output: Any
    latency_ms: float

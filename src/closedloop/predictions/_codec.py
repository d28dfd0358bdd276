"""The prediction log's payload: one request's inputs and outputs as one Arrow IPC stream.

A payload holds one record batch: the input columns in signature order (named as in the
signature), then the label column, then one probability column per class. The schema's
metadata says how many inputs there are and which classes the probability columns are,
so output columns never collide with input names. Payloads are sealed (AES-GCM under a
key derived from a workspace key) with the request's clear fields bound as associated
data (:func:`associated_data`); rows moved from the per-row log of schema 0003 are plain
JSON (``json-rows/1``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from closedloop.errors import StorageError

__all__ = [
    "FORMAT_ARROW",
    "FORMAT_JSON_ROWS",
    "LOG_PURPOSE",
    "DecodedRows",
    "associated_data",
    "decode_rows",
    "encode_rows",
]

FORMAT_ARROW = "arrow/1"
FORMAT_JSON_ROWS = "json-rows/1"
#: The purpose the log's sealing key is derived for.
LOG_PURPOSE = b"closedloop/prediction-log/v1"

_META_INPUTS = b"closedloop.inputs"
_META_CLASSES = b"closedloop.classes"


@dataclass(frozen=True, slots=True)
class DecodedRows:
    """A payload read back.

    Attributes:
        inputs: One row per request row, the input columns as logged.
        labels: One label per row.
        probabilities: ``n_rows x len(classes)``, or ``None`` (no probabilities).
        classes: The probability columns' classes.
    """

    inputs: pd.DataFrame
    labels: list[Any]
    probabilities: np.ndarray | None
    classes: list[str]


def associated_data(request_id: str, model_version_id: str, role: str, n_rows: int) -> bytes:
    """The clear fields a sealed payload is bound to."""
    return f"{request_id}\x00{model_version_id}\x00{role}\x00{n_rows}".encode()


def _array(values: np.ndarray) -> pa.Array:
    if values.dtype.kind == "O":
        return pa.array(values, from_pandas=True)
    if values.dtype.kind == "M":
        return pa.array(values.astype("datetime64[ns]"))
    return pa.array(values)


def encode_rows(
    columns: Mapping[str, np.ndarray],
    labels: np.ndarray,
    probabilities: np.ndarray | None,
    classes: Sequence[str],
) -> bytes:
    """One request's rows as an Arrow IPC stream (see the module docstring).

    Args:
        columns: Input column name → values (one per row), in signature order.
        labels: One label per row.
        probabilities: ``n_rows x len(classes)`` or ``None``.
        classes: The probability columns' classes.
    """
    names = list(columns)
    arrays = [_array(np.asarray(v)) for v in columns.values()]
    arrays.append(_array(np.asarray(labels)))
    if probabilities is not None:
        proba = np.asarray(probabilities, dtype=np.float64)
        for i in range(proba.shape[1]):
            arrays.append(pa.array(np.ascontiguousarray(proba[:, i])))
    metadata = {
        _META_INPUTS: json.dumps(names).encode(),
        _META_CLASSES: json.dumps([str(c) for c in classes] if probabilities is not None else []),
    }
    # Fields are positional (c0, c1, …): the input names live in the metadata.
    batch = pa.RecordBatch.from_arrays(
        arrays,
        schema=pa.schema([pa.field(f"c{i}", a.type) for i, a in enumerate(arrays)], metadata),
    )
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    return bytes(sink.getvalue())


def decode_rows(payload: bytes, fmt: str) -> DecodedRows:
    """Read a payload written by :func:`encode_rows` (or moved from schema 0003).

    Raises:
        StorageError: The payload is not in a format this closedloop reads.
    """
    if fmt == FORMAT_JSON_ROWS:
        return _decode_json_rows(payload)
    if fmt != FORMAT_ARROW:
        raise StorageError(
            f"a prediction log payload is in format {fmt!r}, which this closedloop does not read",
            hint="upgrade closedloop",
        )
    with pa.ipc.open_stream(pa.py_buffer(payload)) as reader:
        table = reader.read_all()
    meta = table.schema.metadata or {}
    names: list[str] = json.loads(meta.get(_META_INPUTS, b"[]"))
    classes: list[str] = json.loads(meta.get(_META_CLASSES, b"[]"))
    k = len(names)
    inputs = pd.DataFrame(
        {name: table.column(i).to_pandas() for i, name in enumerate(names)}, columns=names
    )
    labels = table.column(k).to_pylist()
    probabilities = (
        np.column_stack([table.column(k + 1 + j).to_numpy() for j in range(len(classes))])
        if classes
        else None
    )
    return DecodedRows(inputs, labels, probabilities, classes)


def _decode_json_rows(payload: bytes) -> DecodedRows:
    rows = json.loads(payload)["rows"]
    inputs = pd.DataFrame([r["inputs"] for r in rows])
    labels: list[Any] = []
    probas: list[dict[str, float] | None] = []
    for r in rows:
        out = r["output"]
        if isinstance(out, dict) and "label" in out:
            labels.append(out["label"])
            probas.append(out.get("probabilities"))
        else:
            labels.append(out)
            probas.append(None)
    classes = list(probas[0]) if probas and probas[0] else []
    probabilities = (
        np.array([[p[c] for c in classes] for p in probas if p is not None], dtype=np.float64)
        if classes and all(p is not None for p in probas)
        else None
    )
    return DecodedRows(inputs, labels, probabilities, classes if probabilities is not None else [])

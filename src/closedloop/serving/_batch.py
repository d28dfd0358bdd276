"""The two values every protocol and scorer agree on: a validated ``Batch`` and its ``Scored``.

A protocol decoder (native records or columns, MLflow's forms and CSV, Open Inference
Protocol v2) turns request bytes into a :class:`Batch`: the request's rows column by
column, each column one numpy array in the signature's order, already validated against
the signature. A scorer (the pipeline as is, or its ONNX conversion) turns a batch into a
:class:`Scored`, and a protocol encoder turns that into response bytes. No per-row Python
objects and no per-column pandas Series are built on the way; a pipeline that needs a
DataFrame gets one built in one step (:meth:`Batch.frame`).

Column arrays by logical type:

==============  ==========================================================================
type            array
==============  ==========================================================================
``float``       ``float64``; a missing value is NaN
``integer``     ``int64``; ``float64`` with NaN when a value is missing
``boolean``     ``bool``; ``object`` (``True``/``False``/``None``) when a value is missing
``category``,   ``object`` of ``str``, ``None`` for missing
``string``
``datetime``    ``datetime64[ns]`` (naive, UTC); ``NaT`` for missing
==============  ==========================================================================
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from closedloop.core import LogicalType, TableSchema

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Batch", "MatrixColumns", "Scored"]


class MatrixColumns(Mapping[str, np.ndarray]):
    """The columns of a row-major matrix by name, each a view made when asked for.

    A decoder that reads all-float rows builds one matrix; making thirty column views of
    it would cost more than the rest of a one-row request, and most requests never look
    at a column by itself.

    Args:
        positions: Column name → its position in the matrix, in signature order.
        matrix: ``n_rows x len(positions)``.
    """

    def __init__(self, positions: Mapping[str, int], matrix: np.ndarray) -> None:
        self._positions = positions
        self._matrix = matrix

    def __getitem__(self, name: str) -> np.ndarray:
        return self._matrix[:, self._positions[name]]

    def __iter__(self) -> Iterator[str]:
        return iter(self._positions)

    def __len__(self) -> int:
        return len(self._positions)


@dataclass(slots=True)
class Batch:
    """Validated rows of one request, one array per signature column.

    Attributes:
        signature: The schema the rows were validated against.
        columns: Column name → array of ``n_rows`` values (types in the module docstring),
            in signature order.
        n_rows: How many rows.
        warnings: Facts about the rows a client should see (filled by the range and
            category checks, not by decoders).
        numeric_matrix: The rows as one ``n_rows x n_columns`` float64 array, when every
            column is numeric; a decoder that has it (a 2-D tensor) sets it, else
            :meth:`matrix` builds it once.
    """

    signature: TableSchema
    columns: Mapping[str, np.ndarray]
    n_rows: int
    warnings: list[str] = field(default_factory=list)
    numeric_matrix: np.ndarray | None = field(default=None, repr=False)

    def frame(self) -> pd.DataFrame:
        """The rows as a DataFrame with the signature's columns in order, built in one step.

        Missing text values are NaN, as in the frames a pipeline is fitted on: an imputer
        does not see ``None`` in an object column as missing.
        """
        import pandas as pd  # only a pipeline scorer needs a frame; serving ONNX never does

        if self.numeric_matrix is not None:
            return pd.DataFrame(self.numeric_matrix, columns=self.signature.names, copy=False)
        # A plain dict: pandas reads another kind of mapping as a list of its keys.
        columns = {
            n: _nan_for_none(a) if a.dtype.kind == "O" else a for n, a in self.columns.items()
        }
        return pd.DataFrame(columns, columns=self.signature.names, copy=False)

    def matrix(self) -> np.ndarray | None:
        """The rows as one 2-D ``float64`` array when every column is numeric, else ``None``.

        Built once per batch (the range check and the scorer share it).
        """
        if self.numeric_matrix is not None:
            return self.numeric_matrix
        if not _all_numeric(self.signature):
            return None
        arrays = [self.columns[n] for n in self.signature.names]
        if self.n_rows <= 16:  # small: one conversion of nested lists beats k numpy copies
            matrix = np.array([a.tolist() for a in arrays], dtype=np.float64).T.copy()
        else:
            matrix = np.empty((self.n_rows, len(arrays)), dtype=np.float64)
            for j, a in enumerate(arrays):
                matrix[:, j] = a
        self.numeric_matrix = matrix
        return matrix

    def records(self) -> list[dict[str, Any]]:
        """The rows as JSON-ready dicts (missing values as ``None``): for small batches only."""
        values: list[list[Any]] = []
        for column in self.signature.columns:
            values.append(_jsonable(self.columns[column.name], column.type))
        names = self.signature.names
        return [dict(zip(names, row, strict=True)) for row in zip(*values, strict=True)]

    @classmethod
    def from_columns(cls, signature: TableSchema, columns: Mapping[str, np.ndarray]) -> Batch:
        """A batch of ready arrays (in any order; they are put in signature order)."""
        ordered = {name: columns[name] for name in signature.names}
        n_rows = len(next(iter(ordered.values()))) if ordered else 0
        return cls(signature, ordered, n_rows)


def _nan_for_none(values: np.ndarray) -> np.ndarray:
    import pandas as pd

    missing = np.asarray(pd.isna(values), dtype=bool)
    if not missing.any():
        return values
    out = values.copy()
    out[missing] = np.nan
    return out


_NUMERIC: dict[int, tuple[TableSchema, bool]] = {}


def _all_numeric(signature: TableSchema) -> bool:
    cached = _NUMERIC.get(id(signature))
    if cached is None or cached[0] is not signature:
        cached = (signature, all(c.type.is_numeric for c in signature.columns))
        _NUMERIC[id(signature)] = cached
    return cached[1]


def _jsonable(array: np.ndarray, logical: LogicalType) -> list[Any]:
    if logical is LogicalType.DATETIME:
        import pandas as pd

        return [None if pd.isna(v) else pd.Timestamp(v).isoformat() for v in array]
    if array.dtype.kind == "f":
        return [None if v != v else v for v in array.tolist()]
    out: list[Any] = array.tolist()
    return out


@dataclass(slots=True)
class Scored:
    """What a scorer answered for a batch.

    Attributes:
        labels: One label (or regression value) per row.
        probabilities: ``n_rows x len(classes)`` class probabilities, for classifiers that
            have them; ``None`` otherwise.
        classes: Class labels in the probability columns' order (empty for regressors).
        model_version_id: ``<name>/<version>`` that scored.
    """

    labels: np.ndarray
    probabilities: np.ndarray | None
    classes: Sequence[str]
    model_version_id: str

    def label_list(self) -> list[Any]:
        """The labels as JSON-ready Python values."""
        out: list[Any] = self.labels.tolist()
        return out

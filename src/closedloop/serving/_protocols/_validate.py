"""Signature-derived decoding and validation into column arrays, shared by every protocol.

Each signature gets one :class:`Plan` (cached): msgspec types for the fast path and the
pydantic row model of :mod:`closedloop.serving._schema_model` for the slow one.

- **Fast path.** The request bytes are decoded by a msgspec decoder whose types are the
  *strict* form of the signature's (``int`` within int64, ``float``, ``bool``, ``str`` of at
  most ``max_string_length`` characters, datetimes as ``str``), straight into rows or
  column lists, which become numpy arrays with one call per column. Nothing the slow path
  refuses gets through it: it is stricter, never looser.
- **Slow path.** Anything the fast path does not take (invalid JSON such as ``NaN``, a
  lax value such as ``"39"`` for an integer or ``7`` for a category, any error) is read
  again with the standard library's ``json.loads`` and validated row by row by the
  pydantic row model, the reference semantics of the server. It either gives the same
  batch the fast path would have, or a :class:`ProtocolError` naming every problem with
  its field location (at most :data:`MAX_LISTED_ERRORS` listed, the rest counted).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property, lru_cache
from operator import attrgetter
from typing import Annotated, Any, Optional

import msgspec
import numpy as np
from pydantic import TypeAdapter, ValidationError

from closedloop.core import ColumnSchema, LogicalType, TableSchema
from closedloop.serving._batch import Batch, MatrixColumns
from closedloop.serving._protocols._errors import (
    MAX_LISTED_ERRORS,
    ErrorList,
    Limits,
    Loc,
    ProtocolError,
    load_json,
)
from closedloop.serving._schema_model import (
    INT64_MAX,
    INT64_MIN,
    request_row_model,
)

__all__ = [
    "MAX_LISTED_ERRORS",
    "ErrorList",
    "Limits",
    "Loc",
    "Plan",
    "ProtocolError",
    "load_json",
    "plan_for",
]

# Datetimes the model gets are datetime64[ns]: about 1677-09-22 to 2262-04-11.
_NS_MIN = datetime(1677, 9, 22)
_NS_MAX = datetime(2262, 4, 11)
_SMALL = 16  # rows below which columns are built with np.array


class Fallback(Exception):  # noqa: N818 (a signal, not an error)
    """The fast path cannot take these values; the slow path decides."""


_INT = Annotated[int, msgspec.Meta(ge=INT64_MIN, le=INT64_MAX)]


def _fast_type(column: ColumnSchema, limits: Limits) -> Any:
    logical = column.type
    kind: Any
    if logical is LogicalType.INTEGER:
        kind = _INT
    elif logical is LogicalType.FLOAT:
        kind = float  # msgspec refuses numbers beyond the float range
    elif logical is LogicalType.BOOLEAN:
        kind = bool
    elif logical is LogicalType.DATETIME:
        kind = str  # parsed by pydantic's datetime, as in the row model
    else:
        kind = Annotated[str, msgspec.Meta(max_length=limits.max_string_length)]
    return Optional[kind] if column.nullable else kind  # noqa: UP045 (a runtime type)


_DATETIMES: TypeAdapter[list[datetime | None]] = TypeAdapter(list[datetime | None])


def _naive_utc(values: Iterable[Any]) -> list[Any]:
    return [
        v.astimezone(UTC).replace(tzinfo=None) if v is not None and v.tzinfo is not None else v
        for v in values
    ]


def _outside_ns(values: Sequence[Any]) -> list[int]:
    return [i for i, v in enumerate(values) if v is not None and not _NS_MIN <= v <= _NS_MAX]


def _floats(values: Sequence[Any], n: int) -> np.ndarray:
    if n <= _SMALL:
        return np.array(values, dtype=np.float64)  # None becomes NaN
    try:
        return np.fromiter(values, np.float64, n)
    except TypeError:  # None: missing
        return np.array(values, dtype=np.float64)


def _integers(values: Sequence[Any], n: int) -> np.ndarray:
    if None in values:  # a missing value makes the column float
        return np.array(values, dtype=np.float64)
    if n <= _SMALL:
        return np.array(values, dtype=np.int64)
    return np.fromiter(values, np.int64, n)


def _booleans(values: Sequence[Any], n: int) -> np.ndarray:
    if None in values:
        return _objects(values, n)
    if n <= _SMALL:
        return np.array(values, dtype=np.bool_)
    return np.fromiter(values, np.bool_, n)


def _objects(values: Sequence[Any], n: int) -> np.ndarray:
    if n <= _SMALL:
        return np.array(values, dtype=object)
    out = np.empty(n, dtype=object)
    out[:] = values
    return out


def _datetimes(values: Sequence[Any], n: int) -> np.ndarray:
    naive = _naive_utc(values)
    if _outside_ns(naive):
        raise Fallback
    return np.array(naive, dtype="datetime64[ns]")


_ARRAYS: dict[LogicalType, Callable[[Sequence[Any], int], np.ndarray]] = {
    LogicalType.FLOAT: _floats,
    LogicalType.INTEGER: _integers,
    LogicalType.BOOLEAN: _booleans,
    LogicalType.DATETIME: _datetimes,
    LogicalType.CATEGORY: _objects,
    LogicalType.STRING: _objects,
}


@dataclass(frozen=True, slots=True)
class ColumnPlan:
    """How one signature column is decoded.

    Attributes:
        schema: The column.
        field: Its internal (identifier) field name, ``c<i>``.
        fast: Its msgspec element type on the fast path.
        is_datetime: Whether the fast path reads it as text to parse.
    """

    schema: ColumnSchema
    field: str
    fast: Any
    is_datetime: bool
    _convert: Callable[[Sequence[Any], int], np.ndarray]

    @property
    def name(self) -> str:
        """The column name."""
        return self.schema.name

    def array(self, values: Sequence[Any], n: int, *, parsed: bool = False) -> np.ndarray:
        """``values`` (valid Python values, ``None`` for missing) as this column's array.

        Args:
            values: One value per row.
            n: How many.
            parsed: Datetimes are already ``datetime`` objects (else ISO strings).

        Raises:
            Fallback: Datetime text pydantic does not read, or outside ``datetime64[ns]``.
        """
        if self.is_datetime and not parsed:
            try:
                values = _DATETIMES.validate_python(values)
            except ValidationError:
                raise Fallback from None
        return self._convert(values, n)


class Plan:
    """Everything needed to decode requests for one signature under some limits.

    Build it with :func:`plan_for` (cached). Protocol modules cache their own decoders on
    it (``Plan.cache``).

    Args:
        signature: The model's input schema.
        limits: What a request may carry.
    """

    def __init__(self, signature: TableSchema, limits: Limits) -> None:
        self.signature = signature
        self.limits = limits
        self.columns = tuple(
            ColumnPlan(
                c,
                f"c{i}",
                _fast_type(c, limits),
                c.type is LogicalType.DATETIME,
                _ARRAYS[c.type],
            )
            for i, c in enumerate(signature.columns)
        )
        self.by_name: dict[str, ColumnPlan] = {c.name: c for c in self.columns}
        self.names = tuple(c.name for c in self.columns)
        self.required = tuple(c.name for c in self.columns if not c.schema.nullable)
        self.numeric = all(c.schema.type.is_numeric for c in self.columns)
        self.cache: dict[Any, Any] = {}
        self._fields = attrgetter(*(c.field for c in self.columns)) if self.columns else None
        #: Column name -> its position, in signature order.
        self.positions = {c.name: j for j, c in enumerate(self.columns)}
        #: Every column a float: a decoder's row-major matrix is the whole batch.
        self.all_float = bool(self.columns) and all(
            c.schema.type is LogicalType.FLOAT for c in self.columns
        )

    @cached_property
    def row_struct(self) -> type[msgspec.Struct]:
        """The msgspec struct of one record (fields ``c<i>`` renamed to the column names)."""
        fields: list[Any] = []
        for c in self.columns:
            fields.append((c.field, c.fast, None) if c.schema.nullable else (c.field, c.fast))
        return msgspec.defstruct(
            "Record",
            fields,
            rename={c.field: c.name for c in self.columns},
            forbid_unknown_fields=True,
            kw_only=True,
        )

    @cached_property
    def columns_struct(self) -> type[msgspec.Struct]:
        """The msgspec struct of a columnar body ``{column: [values…]}``."""
        fields: list[Any] = []
        for c in self.columns:
            kind = Annotated[list[c.fast], msgspec.Meta(max_length=self.limits.max_records)]  # type: ignore[name-defined]
            if c.schema.nullable:
                fields.append((c.field, kind | msgspec.UnsetType, msgspec.UNSET))
            else:
                fields.append((c.field, kind))
        return msgspec.defstruct(
            "Columns",
            fields,
            rename={c.field: c.name for c in self.columns},
            forbid_unknown_fields=True,
            kw_only=True,
        )

    @cached_property
    def records_type(self) -> Any:
        """``list[Record]`` of 1 to ``max_records`` items, for msgspec."""
        return Annotated[
            list[self.row_struct],  # type: ignore[name-defined]
            msgspec.Meta(min_length=1, max_length=self.limits.max_records),
        ]

    @cached_property
    def _rows_adapter(self) -> TypeAdapter[list[Any]]:
        model = request_row_model(self.signature, max_string_length=self.limits.max_string_length)
        return TypeAdapter(list[model])  # type: ignore[valid-type]

    # -- fast path -------------------------------------------------------------------------

    def batch_from_structs(self, rows: Sequence[msgspec.Struct]) -> Batch:
        """The batch of records decoded by :attr:`row_struct`.

        Raises:
            Fallback: A value the fast path cannot take (the slow path decides).
        """
        n = len(rows)
        getter = self._fields
        if getter is None:
            return Batch(self.signature, {}, n)
        if self.all_float:
            # Every column a float: one conversion builds the row-major matrix the range
            # check, the scorer and the log share; the columns are its views.
            matrix = np.array(list(map(getter, rows)), dtype=np.float64).reshape(n, -1)
            return Batch(
                self.signature, MatrixColumns(self.positions, matrix), n, numeric_matrix=matrix
            )
        if len(self.columns) == 1:
            (only,) = self.columns
            values: Sequence[Sequence[Any]] = [[getattr(r, only.field) for r in rows]]
        else:
            values = list(zip(*map(getter, rows), strict=True))
        columns = {c.name: c.array(v, n) for c, v in zip(self.columns, values, strict=True)}
        return Batch(self.signature, columns, n)

    def batch_from_lists(self, lists: Mapping[str, Sequence[Any] | None], n: int) -> Batch:
        """The batch of column lists of fast-path values (``None``: the column is absent).

        Raises:
            Fallback: A value the fast path cannot take (the slow path decides).
        """
        columns: dict[str, np.ndarray] = {}
        for c in self.columns:
            values = lists.get(c.name)
            if values is None:
                if not c.schema.nullable:
                    raise Fallback
                values = [None] * n
            columns[c.name] = c.array(values, n)
        return Batch(self.signature, columns, n)

    # -- slow path -------------------------------------------------------------------------

    def validate_rows(
        self, rows: list[Any], loc: Callable[[int, Any], Loc], errors: ErrorList
    ) -> Batch | None:
        """Validate ``rows`` (parsed JSON) with the pydantic row model.

        Args:
            rows: One mapping of column name → value per row (a missing key is a missing
                value).
            loc: ``loc(i, field)`` is the location of ``field`` of row ``i`` (``field`` is
                ``None`` for the row itself).
            errors: Where problems go.

        Returns:
            The batch, or ``None`` if there were problems (they are in ``errors``).
        """
        try:
            models = self._rows_adapter.validate_python(rows)
        except ValidationError as e:
            errors.add_pydantic(e, loc)
            return None
        n = len(models)
        columns: dict[str, np.ndarray] = {}
        for c in self.columns:
            values = [getattr(m, c.field) for m in models]
            if c.schema.type is LogicalType.DATETIME:
                bad = _outside_ns(_naive_utc(values))
                for i in bad:
                    errors.add(
                        loc(i, c.name),
                        "Datetime should be between 1677-09-22 and 2262-04-11",
                        "datetime_out_of_range",
                        values[i],
                    )
                if bad:
                    continue
            columns[c.name] = c.array(values, n, parsed=True)
        return None if errors else Batch(self.signature, columns, n)

    def check_row_count(self, n: int, loc: Loc, errors: ErrorList, value: Any) -> bool:
        """Whether ``n`` rows are allowed; if not, the problem goes to ``errors``."""
        if n < 1:
            errors.add(loc, "List should have at least 1 item after validation, not 0", "too_short")
            return False
        if n > self.limits.max_records:
            errors.add(
                loc,
                f"List should have at most {self.limits.max_records} items after validation, "
                f"not {n}",
                "too_long",
                value,
            )
            return False
        return True

    def validate_column_lists(
        self,
        data: Any,
        loc: Loc,
        errors: ErrorList,
        *,
        value_loc: Callable[[str, int], Loc] | None = None,
    ) -> Batch | None:
        """Validate a columnar mapping ``{column: [values…]}`` (parsed JSON).

        Unknown columns, missing required ones, lists of different lengths and too many or
        no rows are problems of the mapping; values are then validated row by row.

        Args:
            data: The mapping.
            loc: Its location.
            errors: Where problems go.
            value_loc: ``value_loc(column, i)`` is the location of a value (default
                ``loc + [column, i]``).

        Returns:
            The batch, or ``None`` if there were problems.
        """
        if not isinstance(data, dict):
            errors.add(loc, "Input should be a valid dictionary", "dict_type", data)
            return None
        lists: dict[str, list[Any]] = {}
        for key, value in data.items():
            if key not in self.by_name:
                errors.add([*loc, key], "Extra inputs are not permitted", "extra_forbidden", value)
            elif not isinstance(value, list):
                errors.add([*loc, key], "Input should be a valid list", "list_type", value)
            else:
                lists[key] = value
        for name in self.required:
            if name not in data:
                errors.add([*loc, name], "Field required", "missing")
        lengths = {len(v) for v in lists.values()}
        if len(lengths) > 1:
            shown = ", ".join(f"{k!r} has {len(v)}" for k, v in list(lists.items())[:4])
            errors.add(loc, f"columns must have the same length: {shown}", "length_mismatch")
        if errors:
            return None
        n = lengths.pop() if lengths else 0
        if not self.check_row_count(n, loc, errors, data):
            return None
        keys = list(lists)
        rows = [dict(zip(keys, row, strict=True)) for row in zip(*lists.values(), strict=True)]
        at = value_loc or (lambda name, i: [*loc, name, i])
        return self.validate_rows(rows, lambda i, f: at(f, i) if f is not None else loc, errors)


_BY_IDENTITY: dict[tuple[int, Limits], tuple[TableSchema, Plan]] = {}


@lru_cache(maxsize=64)
def _plan_for(signature: TableSchema, limits: Limits) -> Plan:
    return Plan(signature, limits)


def plan_for(signature: TableSchema, limits: Limits) -> Plan:
    """The (cached) :class:`Plan` of ``signature`` under ``limits``.

    A server passes the same signature object every time: it is found by identity first,
    without hashing the whole schema per request.
    """
    key = (id(signature), limits)
    known = _BY_IDENTITY.get(key)
    if known is not None and known[0] is signature:
        return known[1]
    plan = _plan_for(signature, limits)
    if len(_BY_IDENTITY) >= 64:
        _BY_IDENTITY.clear()
    _BY_IDENTITY[key] = (signature, plan)
    return plan

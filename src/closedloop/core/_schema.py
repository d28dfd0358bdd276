"""Table schemas: one object describes a table's columns.

Ingestion validation, the serving request model and drift monitoring all derive from it.
Pure data: inference from a DataFrame and validation live in ``closedloop.data``.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from closedloop.errors import InvalidArgumentError, NotFoundError

__all__ = ["ColumnSchema", "LogicalType", "TableSchema"]


class LogicalType(enum.StrEnum):
    """What a column holds, independent of its storage type."""

    INTEGER = "integer"
    FLOAT = "float"
    BOOLEAN = "boolean"
    STRING = "string"
    CATEGORY = "category"
    DATETIME = "datetime"

    @property
    def is_numeric(self) -> bool:
        """Integers and floats."""
        return self in (LogicalType.INTEGER, LogicalType.FLOAT)


@dataclass(frozen=True, slots=True)
class ColumnSchema:
    """One column.

    Attributes:
        name: Column name.
        type: Its logical type.
        nullable: Whether missing values are allowed.
        minimum: Smallest value seen (numeric columns), for range checks and reports.
        maximum: Largest value seen (numeric columns).
        categories: The allowed values of a category column, sorted.
    """

    name: str
    type: LogicalType
    nullable: bool = True
    minimum: float | None = None
    maximum: float | None = None
    categories: tuple[str, ...] | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (omitting empty fields)."""
        out: dict[str, Any] = {
            "name": self.name,
            "type": self.type.value,
            "nullable": self.nullable,
        }
        if self.minimum is not None:
            out["minimum"] = self.minimum
        if self.maximum is not None:
            out["maximum"] = self.maximum
        if self.categories is not None:
            out["categories"] = list(self.categories)
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ColumnSchema:
        """Inverse of :meth:`to_dict`.

        Raises:
            InvalidArgumentError: A field is missing or the type is unknown.
        """
        try:
            categories = data.get("categories")
            return cls(
                name=str(data["name"]),
                type=LogicalType(data["type"]),
                nullable=bool(data.get("nullable", True)),
                minimum=data.get("minimum"),
                maximum=data.get("maximum"),
                categories=None if categories is None else tuple(str(c) for c in categories),
            )
        except (KeyError, ValueError) as e:
            raise InvalidArgumentError(
                f"invalid column schema {dict(data)!r}: {e}",
                hint=f"type is one of {', '.join(t.value for t in LogicalType)}",
            ) from e


@dataclass(frozen=True, slots=True)
class TableSchema:
    """An ordered set of named columns."""

    columns: tuple[ColumnSchema, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        names = [c.name for c in self.columns]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise InvalidArgumentError(f"duplicate column names in schema: {duplicates}")

    def __iter__(self) -> Iterator[ColumnSchema]:
        return iter(self.columns)

    def __len__(self) -> int:
        return len(self.columns)

    def __contains__(self, name: object) -> bool:
        return any(c.name == name for c in self.columns)

    @property
    def names(self) -> list[str]:
        """Column names in order."""
        return [c.name for c in self.columns]

    def column(self, name: str) -> ColumnSchema:
        """The column called ``name``.

        Raises:
            NotFoundError: No such column.
        """
        for c in self.columns:
            if c.name == name:
                return c
        raise NotFoundError(f"no column {name!r} in schema", hint=f"columns: {self.names}")

    def select(self, names: Sequence[str]) -> TableSchema:
        """The schema of ``names`` only, in that order."""
        return TableSchema(tuple(self.column(n) for n in names))

    def drop(self, names: Sequence[str]) -> TableSchema:
        """The schema without ``names``."""
        return TableSchema(tuple(c for c in self.columns if c.name not in set(names)))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"columns": [c.to_dict() for c in self.columns]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TableSchema:
        """Inverse of :meth:`to_dict`."""
        return cls(tuple(ColumnSchema.from_dict(c) for c in data.get("columns", [])))

"""What a protocol request may carry (``Limits``) and how a refusal is told (``ProtocolError``).

Every protocol refuses a request with a :class:`ProtocolError`: its HTTP status, a message
naming the first problems with their field locations, and at most
:data:`MAX_LISTED_ERRORS` small JSON-safe ``detail`` entries (never the whole input), built
by an :class:`ErrorList`.
"""

from __future__ import annotations

import json
import reprlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from closedloop.errors import InvalidArgumentError
from closedloop.serving._schema_model import MAX_STRING_LENGTH

__all__ = ["MAX_LISTED_ERRORS", "ErrorList", "Limits", "Loc", "ProtocolError", "load_json"]

#: Most problems one error lists in ``detail``; the rest are counted in ``omitted``.
MAX_LISTED_ERRORS = 20
#: A field location: keys and indexes from the top of the body (``["body", "records", 3]``).
Loc = list[str | int]

_MAX_LOC_PART = 64  # characters of one field name shown in a location
_MAX_MESSAGE = 200  # characters of one message
_MAX_INPUT = 80  # characters of the repr of an offending value
_SHOWN_IN_MESSAGE = 5  # problems named in the message itself
_REPR = reprlib.Repr()
_REPR.maxlevel, _REPR.maxdict, _REPR.maxlist, _REPR.maxtuple = 2, 4, 4, 4
_REPR.maxstring = _REPR.maxother = 60
_NO_INPUT: Any = object()
_DEFAULT_HINT = "see 'detail': each entry's 'loc' names the field; the schema is at /metadata"
_LONG_TEXT_HINT = (
    "; to accept longer text, raise the serving_max_string_length setting "
    "(or 'closedloop serve --max-string-length')"
)


@dataclass(frozen=True, slots=True)
class Limits:
    """What one request may carry.

    Attributes:
        max_records: Most rows of one request.
        max_string_length: Most characters of one category or string value.
    """

    max_records: int = 10_000
    max_string_length: int = MAX_STRING_LENGTH

    def __post_init__(self) -> None:
        for name in ("max_records", "max_string_length"):
            value = getattr(self, name)
            if value < 1:
                raise InvalidArgumentError(f"{name} must be at least 1, got {value}")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _short_repr(value: Any) -> str:
    try:
        text = _REPR.repr(value)
    except Exception:  # a value whose repr fails still gets an answer
        text = f"<{type(value).__name__}>"
    return _clip(text, _MAX_INPUT)


class ProtocolError(InvalidArgumentError):
    """A request the protocol layer refuses, with what the HTTP answer needs.

    Args:
        message: Names the first problems with their field locations.
        hint: How to fix it.
        status: 400 (malformed body or unsupported shape), 415 (unsupported content type)
            or 422 (well-formed, but values are invalid).
        detail: At most :data:`MAX_LISTED_ERRORS` entries ``{"loc", "msg", "type",
            "input"}`` (``input`` a short repr, and only when there was one).
        omitted: How many problems were left out of ``detail``.
    """

    def __init__(
        self,
        message: str,
        *,
        hint: str | None = None,
        status: int = 422,
        detail: list[dict[str, Any]] | None = None,
        omitted: int = 0,
    ) -> None:
        super().__init__(message, hint=hint)
        self.status = status
        self.detail: list[dict[str, Any]] = list(detail or [])
        self.omitted = omitted

    @classmethod
    def single(
        cls,
        loc: Loc,
        msg: str,
        kind: str,
        *,
        status: int = 400,
        value: Any = _NO_INPUT,
        hint: str | None = None,
    ) -> ProtocolError:
        """An error of one problem."""
        errors = ErrorList()
        errors.add(loc, msg, kind, value)
        return errors.error(status=status, hint=hint)


@dataclass(slots=True)
class ErrorList:
    """Problems found in one request: the first ones as small JSON-safe entries, all counted."""

    entries: list[dict[str, Any]] = field(default_factory=list)
    total: int = 0

    def __bool__(self) -> bool:
        return self.total > 0

    def add(self, loc: Sequence[Any], msg: str, kind: str, value: Any = _NO_INPUT) -> None:
        """Record one problem at ``loc`` (``value`` is shown as a short repr, never whole)."""
        self.total += 1
        if len(self.entries) >= MAX_LISTED_ERRORS:
            return
        entry: dict[str, Any] = {
            "loc": [p if isinstance(p, int) else _clip(str(p), _MAX_LOC_PART) for p in loc],
            "msg": _clip(str(msg), _MAX_MESSAGE),
            "type": kind,
        }
        if value is not _NO_INPUT:
            entry["input"] = _short_repr(value)
        self.entries.append(entry)

    def add_pydantic(self, error: ValidationError, loc: Callable[[int, Any], Loc]) -> None:
        """Record the errors of a validated list; ``loc(i, field)`` places item ``i``'s."""
        listed = MAX_LISTED_ERRORS - len(self.entries)
        errors = error.errors(include_url=False, include_context=False) if listed > 0 else []
        for e in errors[:listed]:
            where = e["loc"]
            at = where[0] if where and isinstance(where[0], int) else 0
            place = loc(at, where[1] if len(where) > 1 else None)
            self.add(place, e["msg"], e["type"], e.get("input", _NO_INPUT))
        self.total += error.error_count() - min(len(errors), listed)

    def error(self, *, status: int = 422, hint: str | None = None) -> ProtocolError:
        """The :class:`ProtocolError` of these problems."""
        parts = []
        for e in self.entries[:_SHOWN_IN_MESSAGE]:
            loc = [str(p) for p in e["loc"] if p != "body"]
            parts.append(f"{'.'.join(loc) or 'body'}: {e['msg']}")
        more = (
            f" (and {self.total - _SHOWN_IN_MESSAGE} more)"
            if self.total > _SHOWN_IN_MESSAGE
            else ""
        )
        text = hint or _DEFAULT_HINT
        if any(e["type"] == "string_too_long" for e in self.entries):
            text += _LONG_TEXT_HINT
        return ProtocolError(
            "invalid request: " + "; ".join(parts) + more,
            hint=text,
            status=status,
            detail=list(self.entries),
            omitted=self.total - len(self.entries),
        )

    def raise_if_any(self, *, status: int = 422, hint: str | None = None) -> None:
        """Raise the :class:`ProtocolError` of these problems, if there are any.

        Raises:
            ProtocolError: There are.
        """
        if self.total:
            raise self.error(status=status, hint=hint)


def load_json(body: bytes | str) -> Any:
    """``body`` parsed by the standard library (which reads ``NaN`` and ``Infinity``).

    Raises:
        ProtocolError: 400, it is not JSON (or not UTF-8).
    """
    try:
        return json.loads(body)
    except RecursionError:
        raise ProtocolError.single(["body"], "JSON nested too deeply", "json_invalid") from None
    except ValueError as e:  # JSONDecodeError and UnicodeDecodeError
        raise ProtocolError.single(
            ["body"], f"invalid JSON: {e}", "json_invalid", hint="send a UTF-8 JSON body"
        ) from None

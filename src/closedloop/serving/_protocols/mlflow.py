"""MLflow's scoring protocol (``POST /invocations``), as ``mlflow models serve`` speaks it.

JSON bodies hold exactly one of ``dataframe_split`` (pandas ``split`` orient, columns in
any order, an optional ``index``), ``dataframe_records`` (``records`` orient),
``instances`` (rows: records or lists in signature order) and ``inputs`` (columnar
``{column: [values…]}``, or rows), plus optional ``params``; other keys are ignored, as
MLflow does. ``text/csv`` bodies have a header row. The answer is ``{"predictions":
[labels…]}``; errors are MLflow's ``{"error_code", "message"}``.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import msgspec

from closedloop.core import TableSchema
from closedloop.serving._batch import Batch, Scored
from closedloop.serving._protocols._validate import (
    ErrorList,
    Fallback,
    Limits,
    Loc,
    Plan,
    ProtocolError,
    load_json,
    plan_for,
)

__all__ = ["FORMATS", "decode_mlflow", "encode_mlflow", "mlflow_error_body"]

#: The JSON input fields, one of which a body must have.
FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")
_REQUIRED = (
    "The input must be a JSON dictionary with exactly one of the input fields "
    "{'dataframe_split', 'dataframe_records', 'instances', 'inputs'}"
)
_HINT = "see MLflow's scoring protocol; the signature is at /metadata"
# pandas.read_csv's default missing-value markers (MLflow parses CSV with it).
_CSV_MISSING = frozenset(
    (
        "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND",
        "1.#QNAN", "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
    )
)  # fmt: skip


class _Envelope(msgspec.Struct):
    dataframe_split: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    dataframe_records: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    instances: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    inputs: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET
    params: dict[str, Any] | None = None


class _Split(msgspec.Struct, forbid_unknown_fields=True):
    columns: list[str]
    data: msgspec.Raw
    index: msgspec.Raw | msgspec.UnsetType = msgspec.UNSET


_ENVELOPE = msgspec.json.Decoder(_Envelope)
_SPLIT = msgspec.json.Decoder(_Split)


def _check_content_type(content_type: str | None) -> str:
    if content_type is None:
        raise ProtocolError(
            "no content type; this predictor takes application/json or text/csv",
            status=415,
            hint="send Content-Type: application/json or text/csv",
        )
    mime, *params = (p.strip() for p in content_type.split(";"))
    values = {k.strip().lower(): v.strip() for k, _, v in (p.partition("=") for p in params)}
    if values.get("charset", "utf-8").lower() != "utf-8":
        raise ProtocolError("The scoring server only supports UTF-8", status=415)
    unexpected = sorted(set(values) - {"charset"})
    if unexpected:
        raise ProtocolError(
            f"Unrecognized content type parameters: {', '.join(unexpected)}", status=415
        )
    mime = mime.lower()
    if mime not in ("application/json", "text/csv"):
        raise ProtocolError(
            "This predictor only supports the following content types: "
            f"['text/csv', 'application/json']. Got {content_type[:80]!r}.",
            status=415,
        )
    return mime


def decode_mlflow(
    body: bytes, content_type: str | None, signature: TableSchema, limits: Limits
) -> Batch:
    """Decode and validate an ``/invocations`` body.

    Args:
        body: The request bytes.
        content_type: The request's ``Content-Type``.
        signature: The model's input schema.
        limits: What a request may carry.

    Returns:
        The validated rows.

    Raises:
        ProtocolError: 415 for another content type or charset; 400 for a body that is not
            one of the forms; 422 naming every invalid value.
    """
    plan = plan_for(signature, limits)
    if _check_content_type(content_type) == "text/csv":
        return _csv(plan, body)
    try:
        return _split_in_order(plan, body)
    except (msgspec.DecodeError, Fallback):
        pass
    try:
        envelope = _ENVELOPE.decode(body)
        given = [f for f in FORMATS if getattr(envelope, f) is not msgspec.UNSET]
        if len(given) == 1:
            raw = bytes(getattr(envelope, given[0]))
            return _fast(plan, given[0], raw)
    except (msgspec.DecodeError, Fallback):
        pass
    return _slow(plan, load_json(body))


def _split_in_order(plan: Plan, body: bytes) -> Batch:
    """One pass over a ``dataframe_split`` body whose columns are the signature's, in order.

    Raises:
        Fallback: Another body (the general path reads it).
    """
    decoder: msgspec.json.Decoder[Any] | None = plan.cache.get("mlflow-split")
    if decoder is None:
        kinds = tuple(c.fast for c in plan.columns)
        split = msgspec.defstruct(
            "Split",
            [
                ("columns", list[str]),
                ("data", list[tuple[kinds]]),  # type: ignore[valid-type]
                ("index", msgspec.Raw | msgspec.UnsetType, msgspec.UNSET),
            ],
            forbid_unknown_fields=True,
        )
        envelope = msgspec.defstruct(
            "SplitBody",
            [
                ("dataframe_split", split),
                ("params", dict[str, Any] | None, None),
                *((f, msgspec.UnsetType, msgspec.UNSET) for f in FORMATS[1:]),
            ],
        )
        decoder = plan.cache["mlflow-split"] = msgspec.json.Decoder(envelope)
    message = decoder.decode(body)
    split = message.dataframe_split
    n = len(split.data)
    if tuple(split.columns) != plan.names or not 1 <= n <= plan.limits.max_records:
        raise Fallback
    lists = dict(zip(plan.names, zip(*split.data, strict=True), strict=True))
    return plan.batch_from_lists(lists, n)


def _first(raw: bytes) -> bytes:
    """The first character of the first item of a JSON array (or the value's own)."""
    text = raw.lstrip()
    return text[1:].lstrip()[:1] if text[:1] == b"[" else text[:1]


def _rows_decoder(plan: Plan, names: tuple[str, ...]) -> msgspec.json.Decoder[Any]:
    key = ("mlflow-rows", names)
    decoder: msgspec.json.Decoder[Any] | None = plan.cache.get(key)
    if decoder is None:
        kinds = tuple(plan.by_name[n].fast for n in names)
        decoder = msgspec.json.Decoder(list[tuple[kinds]])  # type: ignore[valid-type]
        if len(plan.cache) < 256:
            plan.cache[key] = decoder
    return decoder


def _from_rows(plan: Plan, names: tuple[str, ...], raw: bytes) -> Batch:
    if len(set(names)) != len(names) or any(n not in plan.by_name for n in names):
        raise Fallback
    rows = _rows_decoder(plan, names).decode(raw)
    n = len(rows)
    if not 1 <= n <= plan.limits.max_records:
        raise Fallback
    lists = dict(zip(names, zip(*rows, strict=True), strict=True))
    return plan.batch_from_lists(lists, n)


def _records(plan: Plan, raw: bytes) -> Batch:
    decoder: msgspec.json.Decoder[Any] | None = plan.cache.get("records")
    if decoder is None:
        decoder = plan.cache["records"] = msgspec.json.Decoder(plan.records_type)
    return plan.batch_from_structs(decoder.decode(raw))


def _fast(plan: Plan, form: str, raw: bytes) -> Batch:
    if form == "dataframe_split":
        split = _SPLIT.decode(raw)
        return _from_rows(plan, tuple(split.columns), bytes(split.data))
    if form == "dataframe_records":
        return _records(plan, raw)
    first = _first(raw)
    if first == b"{" and raw.lstrip()[:1] == b"[":
        return _records(plan, raw)
    if first == b"[":
        return _from_rows(plan, plan.names, raw)
    if form == "inputs" and raw.lstrip()[:1] == b"{":
        decoder: msgspec.json.Decoder[Any] | None = plan.cache.get("columns")
        if decoder is None:
            decoder = plan.cache["columns"] = msgspec.json.Decoder(plan.columns_struct)
        columns = decoder.decode(raw)
        lists = {c.name: getattr(columns, c.field) for c in plan.columns}
        lists = {k: v for k, v in lists.items() if v is not msgspec.UNSET}
        lengths = {len(v) for v in lists.values()}
        if len(lengths) == 1 and (n := lengths.pop()) >= 1:
            return plan.batch_from_lists(lists, n)
    raise Fallback


def _slow(plan: Plan, data: Any) -> Batch:
    given = [f for f in FORMATS if f in data] if isinstance(data, dict) else []
    if len(given) != 1:
        got = (
            f"Received dictionary with input fields: {list(data)[:10]}"
            if isinstance(data, dict)
            else "Received a list"
            if isinstance(data, list)
            else f"Received unexpected input type '{type(data).__name__}'"
        )
        raise ProtocolError.single(
            ["body"], f"{_REQUIRED}. {got}", "body_shape", status=400, hint=_HINT
        )
    form = given[0]
    value = data[form]
    errors = ErrorList()
    at: Loc = ["body", form]
    batch: Batch | None = None
    if form == "dataframe_split":
        batch = _slow_split(plan, value, errors)
    elif form == "inputs" and isinstance(value, dict):
        batch = plan.validate_column_lists(value, at, errors)
    elif not isinstance(value, list):
        errors.add(at, "Input should be a valid list", "list_type", value)
    elif plan.check_row_count(len(value), at, errors, value):
        if value and all(isinstance(r, list) for r in value):
            batch = _slow_lists(plan, list(plan.names), value, at, errors)
        else:
            batch = plan.validate_rows(
                value, lambda i, f: [*at, i] if f is None else [*at, i, f], errors
            )
    errors.raise_if_any(hint=_HINT)
    assert batch is not None
    return batch


def _slow_lists(
    plan: Plan, names: list[str], rows: list[Any], at: Loc, errors: ErrorList
) -> Batch | None:
    width = len(names)
    for i, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != width:
            errors.add(
                [*at, i],
                f"a row must be a list of {width} values ({', '.join(names[:10])})",
                "row_length",
                row,
            )
    if errors:
        return None
    dicts = [dict(zip(names, row, strict=True)) for row in rows]
    return plan.validate_rows(dicts, lambda i, f: [*at, i] if f is None else [*at, i, f], errors)


def _slow_split(plan: Plan, value: Any, errors: ErrorList) -> Batch | None:
    at: Loc = ["body", "dataframe_split"]
    if not isinstance(value, dict):
        errors.add(at, "Input should be a valid dictionary", "dict_type", value)
        return None
    for key in value:
        if key not in ("columns", "data", "index"):
            errors.add([*at, key], "Extra inputs are not permitted", "extra_forbidden")
    columns, rows = value.get("columns"), value.get("data")
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        errors.add([*at, "columns"], "columns must be a list of column names", "list_type")
        return None
    for name in columns:
        if name not in plan.by_name:
            errors.add([*at, "columns"], f"unknown column {name!r}", "extra_forbidden", name)
        elif columns.count(name) > 1:
            errors.add([*at, "columns"], f"column {name!r} given twice", "duplicate_column")
    for name in plan.required:
        if name not in columns:
            errors.add([*at, "columns"], f"Field required: {name!r}", "missing")
    if not isinstance(rows, list):
        errors.add([*at, "data"], "Input should be a valid list", "list_type", rows)
    if errors or not isinstance(rows, list):
        return None
    if not plan.check_row_count(len(rows), [*at, "data"], errors, rows):
        return None
    return _slow_lists(plan, columns, rows, [*at, "data"], errors)


def _csv(plan: Plan, body: bytes) -> Batch:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ProtocolError.single(["body"], f"not UTF-8: {e}", "csv_invalid") from None
    try:
        reader = csv.reader(io.StringIO(text))
        header = next(reader, None)
        lines = list(reader)
    except csv.Error as e:
        raise ProtocolError.single(["body"], f"invalid CSV: {e}", "csv_invalid") from None
    errors = ErrorList()
    if header is None:
        errors.add(["body"], "the CSV has no header row", "csv_invalid")
        errors.raise_if_any(status=400, hint=_HINT)
        raise AssertionError  # pragma: no cover (raised above)
    for name in header:
        if name not in plan.by_name:
            errors.add(["body", "header"], f"unknown column {name!r}", "extra_forbidden", name)
    for name in plan.required:
        if name not in header:
            errors.add(["body", "header"], f"Field required: {name!r}", "missing")
    errors.raise_if_any(hint=_HINT)
    lines = [line for line in lines if line]  # pandas skips blank lines
    plan.check_row_count(len(lines), ["body"], errors, None)
    rows: list[dict[str, Any]] = []
    for i, line in enumerate(lines):
        if len(line) != len(header):
            errors.add(["body", i + 1], f"expected {len(header)} fields", "row_length", line)
        rows.append({k: v for k, v in zip(header, line, strict=False) if v not in _CSV_MISSING})
    errors.raise_if_any(hint=_HINT)
    batch = plan.validate_rows(rows, lambda i, f: ["body", i + 1, f], errors)
    errors.raise_if_any(hint=_HINT)
    assert batch is not None
    return batch


_ENCODER = msgspec.json.Encoder()


def encode_mlflow(scored: Scored) -> bytes:
    """``{"predictions": [labels…]}``: what MLflow's sklearn flavor answers (predict())."""
    return _ENCODER.encode({"predictions": scored.label_list()})


def mlflow_error_body(err: ProtocolError) -> bytes:
    """MLflow's error JSON for ``err``: ``{"error_code", "message"}``.

    ``BAD_REQUEST`` for a malformed body or content type, ``INVALID_PARAMETER_VALUE`` for
    invalid values (MLflow answers both with HTTP 400).
    """
    code = "INVALID_PARAMETER_VALUE" if err.status == 422 else "BAD_REQUEST"
    message = err.message if not err.hint else f"{err.message} ({err.hint})"
    return _ENCODER.encode({"error_code": code, "message": message})

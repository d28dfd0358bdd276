"""simdjson readers of large Open Inference Protocol v2 bodies: numbers straight into floats.

A 10,000 x 30 tensor is 300,000 numbers: msgspec would build as many Python floats, while
simdjson parses them and exports one float64 buffer. Two readers, both giving ``None`` for
anything they do not expect, so the msgspec path decides and names the problem:

- :func:`numbers`: one JSON array (flat or nested) of finite numbers;
- :func:`read_one_matrix`: a whole request holding one 2-D tensor without parameters,
  the common large request (numpy clients, MLServer's scikit-learn runtime), in a single
  parse of the body (no msgspec pass over the envelope to find the tensor first).

A parser is not thread-safe and keeps buffers sized for the largest body it parsed: each
thread has its own, and :func:`release_parser` drops the calling thread's.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["BUFFER_BYTES", "OneMatrix", "numbers", "read_one_matrix", "release_parser"]

#: A tensor's data (or a body) of at least this many bytes is parsed into a float buffer.
BUFFER_BYTES = 32 * 1024
_PARSERS = threading.local()
_BODY_KEYS = frozenset(("inputs", "id", "parameters", "outputs"))
_TENSOR_KEYS = frozenset(("name", "shape", "datatype", "data", "parameters"))
_OUTPUT_KEYS = frozenset(("name", "parameters"))


def release_parser() -> None:
    """Drop this thread's JSON parser and the buffers it keeps (sized for the largest body).

    A reused parser parses a 2.4 MB tensor in 3.8 ms against 5.1 ms for a fresh one; the
    server's large-request thread drops its parser once large requests stop (see
    ``Predictor``), with the allocator's free memory.
    """
    _PARSERS.parser = None


def _parser() -> Any:
    """This thread's simdjson parser, or ``None`` without simdjson."""
    try:
        import simdjson
    except ImportError:  # pragma: no cover - a dependency; msgspec still works without it
        return None
    parser = getattr(_PARSERS, "parser", None)
    if parser is None:
        parser = _PARSERS.parser = simdjson.Parser()
    return parser


def numbers(raw: bytes) -> np.ndarray | None:
    """A JSON array of numbers (nested or flat) as one float64 array, without Python floats.

    Anything but finite numbers (null, text, booleans, a number beyond float) gives
    ``None``.
    """
    parser = _parser()
    if parser is None:
        return None
    import simdjson

    try:
        parsed = parser.parse(raw)
        if not isinstance(parsed, simdjson.Array):
            return None
        values = np.frombuffer(parsed.as_buffer(of_type="d"), dtype=np.float64)
    except (TypeError, ValueError):
        return None
    return values if np.isfinite(values).all() else None


@dataclass(frozen=True, slots=True)
class OneMatrix:
    """A request of one 2-D tensor, read by :func:`read_one_matrix`.

    Attributes:
        name: The tensor's name.
        datatype: Its datatype (not checked here).
        rows: ``shape[0]``.
        columns: ``shape[1]``.
        values: Its numbers, row-major, finite.
        id: The request's ``id``.
        parameters: The request's ``parameters``.
        outputs: The requested outputs' names (``None``: all).
    """

    name: str
    datatype: str
    rows: int
    columns: int
    values: np.ndarray
    id: str | None
    parameters: dict[str, Any]
    outputs: list[str] | None


def _unique_keys(obj: Any, allowed: frozenset[str]) -> bool:
    keys = list(obj.keys())
    return len(keys) == len(set(keys)) and allowed.issuperset(keys)


def read_one_matrix(body: bytes) -> OneMatrix | None:
    """The request in ``body`` when it is one 2-D tensor without parameters; else ``None``.

    ``None`` also for anything the msgspec envelope would refuse or read differently: a key
    repeated, a field of the wrong type, a number that is not finite.
    """
    parser = _parser()
    if parser is None:
        return None
    import simdjson

    obj, arr = simdjson.Object, simdjson.Array
    try:
        doc = parser.parse(body)
        if not isinstance(doc, obj) or not _unique_keys(doc, _BODY_KEYS):
            return None
        inputs = doc.get("inputs")
        if not isinstance(inputs, arr) or len(inputs) != 1:
            return None
        t = inputs[0]
        if not isinstance(t, obj) or not _unique_keys(t, _TENSOR_KEYS):
            return None
        name, datatype, shape, data = (t.get(k) for k in ("name", "datatype", "shape", "data"))
        if t.get("parameters") is not None or not isinstance(data, arr):
            return None
        if type(name) is not str or type(datatype) is not str or not isinstance(shape, arr):
            return None
        dims = shape.as_list()
        if len(dims) != 2 or any(type(d) is not int for d in dims):
            return None
        request_id = doc.get("id")
        if request_id is not None and type(request_id) is not str:
            return None
        parameters = doc.get("parameters")
        if parameters is not None and not isinstance(parameters, obj):
            return None
        outputs = _outputs(doc.get("outputs"), obj, arr)
        if outputs is False:
            return None
        values = np.frombuffer(data.as_buffer(of_type="d"), dtype=np.float64)
        extra = {} if parameters is None else parameters.as_dict()
    except (TypeError, ValueError, KeyError, IndexError):
        return None
    if not np.isfinite(values).all():
        return None
    return OneMatrix(name, datatype, dims[0], dims[1], values, request_id, extra, outputs)


def _outputs(value: Any, obj: Any, arr: Any) -> list[str] | bool | None:
    """The requested outputs' names, ``None`` when absent, ``False`` when malformed."""
    if value is None:
        return None
    if not isinstance(value, arr):
        return False
    names: list[str] = []
    for o in value:
        if not isinstance(o, obj) or not _unique_keys(o, _OUTPUT_KEYS):
            return False
        name, parameters = o.get("name"), o.get("parameters")
        if type(name) is not str or not (parameters is None or isinstance(parameters, obj)):
            return False
        names.append(name)
    return names

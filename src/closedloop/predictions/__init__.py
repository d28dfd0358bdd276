"""The prediction log: sealed records of what served model versions answered, and labels.

Serving writes one sealed :class:`~closedloop.core.LoggedRequest` per answered request and
model version (:func:`logged_request`); readers open them (:func:`open_request`).
"""

from closedloop.predictions._codec import (
    FORMAT_COLUMNS,
    FORMAT_JSON_ROWS,
    LOG_PURPOSE,
    DecodedRows,
    associated_data,
    decode_rows,
    encode_rows,
)
from closedloop.predictions._records import logged_request, open_request

__all__ = [
    "FORMAT_COLUMNS",
    "FORMAT_JSON_ROWS",
    "LOG_PURPOSE",
    "DecodedRows",
    "associated_data",
    "decode_rows",
    "encode_rows",
    "logged_request",
    "open_request",
]

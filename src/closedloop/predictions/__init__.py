"""The prediction log: sealed records of what served model versions answered, and labels.

Serving writes one sealed :class:`~closedloop.core.LoggedRequest` per answered request and
model version (:func:`logged_request`); readers open them (:func:`open_request`). The verbs
read the log through the gate (:func:`count_predictions`, :func:`list_predictions`,
:func:`read_predictions`) and attach feedback (:func:`attach_labels`,
:func:`import_labels`, :func:`list_labels`).
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
from closedloop.predictions._feedback import (
    MAX_LISTED,
    BadRow,
    FeedbackReport,
    attach_labels,
    import_labels,
    list_labels,
)
from closedloop.predictions._read import (
    LOG_COLUMNS,
    count_predictions,
    list_predictions,
    read_predictions,
)
from closedloop.predictions._records import logged_request, open_request

__all__ = [
    "FORMAT_COLUMNS",
    "FORMAT_JSON_ROWS",
    "LOG_COLUMNS",
    "LOG_PURPOSE",
    "MAX_LISTED",
    "BadRow",
    "DecodedRows",
    "FeedbackReport",
    "associated_data",
    "attach_labels",
    "count_predictions",
    "decode_rows",
    "encode_rows",
    "import_labels",
    "list_labels",
    "list_predictions",
    "logged_request",
    "open_request",
    "read_predictions",
]

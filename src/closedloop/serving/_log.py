"""Reading the prediction log from serving's namespace (kept for callers of 0.x).

The verbs live in :mod:`closedloop.predictions` (``count_predictions``,
``list_predictions``, ``read_predictions``), which read the sealed request log through the
gate; ``closedloop.serving.count_predictions`` and ``list_predictions`` are the same
functions.
"""

from __future__ import annotations

from closedloop.predictions import count_predictions, list_predictions

__all__ = ["count_predictions", "list_predictions"]

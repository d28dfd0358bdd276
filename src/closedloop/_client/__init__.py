"""The SDK: :class:`Client` and its areas, and the top-level verbs ``init``/``start_run``.

``client.runs``, ``client.experiments``, ``client.datasets``, ``client.models``,
``client.predictions``, ``client.decisions``, ``client.endpoints`` and ``client.audit`` are
the areas; each method is a verb of its area with the verb's own parameters.
"""

from closedloop._client._client import AuditClient, Client, init, search_runs, start_run
from closedloop._client._endpoints import EndpointsClient
from closedloop._client._lifecycle import (
    DatasetsClient,
    DecisionsClient,
    ModelsClient,
    PredictionsClient,
)
from closedloop._client._tracking import Area, ExperimentsClient, RunsClient

__all__ = [
    "Area",
    "AuditClient",
    "Client",
    "DatasetsClient",
    "DecisionsClient",
    "EndpointsClient",
    "ExperimentsClient",
    "ModelsClient",
    "PredictionsClient",
    "RunsClient",
    "init",
    "search_runs",
    "start_run",
]

"""The metadata store: projects, experiments, runs, artifact references, audit events."""

from closedloop.metadata._backends import (
    get_metadata_store,
    mask_uri,
    metadata_stores,
    schema_head,
    strip_password,
)
from closedloop.metadata._datasets import DatasetStore
from closedloop.metadata._decisions import DecisionStore
from closedloop.metadata._domain import BlobReference, DomainStore
from closedloop.metadata._endpoints import EndpointStore
from closedloop.metadata._models import ModelStore
from closedloop.metadata._monitoring import MonitoringStore
from closedloop.metadata._predictions import PredictionLog, RequestAppender
from closedloop.metadata._protocol import MetadataStore

__all__ = [
    "BlobReference",
    "DatasetStore",
    "DecisionStore",
    "DomainStore",
    "EndpointStore",
    "MonitoringStore",
    "MetadataStore",
    "ModelStore",
    "PredictionLog",
    "RequestAppender",
    "get_metadata_store",
    "mask_uri",
    "metadata_stores",
    "schema_head",
    "strip_password",
]

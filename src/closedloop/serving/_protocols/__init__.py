"""Request bytes → validated :class:`~closedloop.serving._batch.Batch`, and back, per protocol.

Pure functions (no workspace, no web framework, no I/O) for closedloop's native protocol,
MLflow's scoring protocol and the Open Inference Protocol v2. Each decoder validates
straight from the request bytes into typed column arrays (see
:mod:`closedloop.serving._protocols._validate`); each encoder writes the answer bytes.
"""

from closedloop.serving._protocols._validate import MAX_LISTED_ERRORS, Limits, ProtocolError
from closedloop.serving._protocols.mlflow import decode_mlflow, encode_mlflow, mlflow_error_body
from closedloop.serving._protocols.native import NativeRequest, decode_native, encode_native
from closedloop.serving._protocols.oip import (
    V2Request,
    decode_v2,
    encode_v2,
    model_metadata_v2,
    v2_error_body,
)

__all__ = [
    "MAX_LISTED_ERRORS",
    "Limits",
    "NativeRequest",
    "ProtocolError",
    "V2Request",
    "decode_mlflow",
    "decode_native",
    "decode_v2",
    "encode_mlflow",
    "encode_native",
    "encode_v2",
    "mlflow_error_body",
    "model_metadata_v2",
    "v2_error_body",
]

"""Workspace keys and streaming authenticated encryption of stored objects."""

from __future__ import annotations

from closedloop.crypto._envelope import CHUNK_SIZE, ENVELOPE_MAGIC, EnvelopeReader, EnvelopeWriter
from closedloop.crypto._keyring import KEY_SIZE, SIGNATURE_SIZE, Keyring, key_id_for
from closedloop.crypto._records import RecordSealer

__all__ = [
    "CHUNK_SIZE",
    "ENVELOPE_MAGIC",
    "KEY_SIZE",
    "SIGNATURE_SIZE",
    "EnvelopeReader",
    "EnvelopeWriter",
    "Keyring",
    "RecordSealer",
    "key_id_for",
]

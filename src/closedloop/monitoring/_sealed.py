"""Sealing monitoring records: a window's sketches and results, an alert's evidence.

They describe the data (bins, category frequencies, statistics), so they are sealed with a
workspace data key for their own purpose, the row's clear identity bound as associated data
(a payload moved to another row fails to open). A workspace without keys stores them plain.
"""

from __future__ import annotations

from typing import Any

import msgspec

from closedloop.errors import ConfigurationError
from closedloop.workspace import Workspace

__all__ = ["PURPOSE", "open_record", "seal_record"]

PURPOSE = b"closedloop/monitoring/v1"

_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder()


def seal_record(ws: Workspace, document: Any, associated: str) -> tuple[str | None, bytes]:
    """``document`` (MessagePack-able) sealed for the row ``associated`` names.

    Returns:
        ``(key id, payload)``; the key id is ``None`` when the workspace has no keys.
    """
    plain = _ENCODER.encode(document)
    sealer = ws.record_sealer(PURPOSE)
    if sealer is None:
        return None, plain
    return sealer.seal(plain, associated.encode())


def open_record(ws: Workspace, key_id: str | None, payload: bytes, associated: str) -> Any:
    """The document :func:`seal_record` sealed for the same row.

    Raises:
        ConfigurationError: The record is sealed and the workspace was opened without keys.
        CryptoError: The record was altered or belongs to another row.
    """
    if key_id is None:
        return _DECODER.decode(payload)
    sealer = ws.record_sealer(PURPOSE)
    if sealer is None:
        raise ConfigurationError(
            "a monitoring record is sealed, and this workspace was opened without keys",
            hint="open the workspace with its key file (closedloop.Workspace.open)",
        )
    return _DECODER.decode(sealer.open(key_id, payload, associated.encode()))

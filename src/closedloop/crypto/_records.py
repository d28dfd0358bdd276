"""``RecordSealer``: authenticated encryption of small stored records (AES-256-GCM).

Blobs are sealed by the streaming envelope (:mod:`closedloop.crypto._envelope`); records a
database row holds — a prediction log entry's inputs and outputs — are sealed here, one
AES-GCM message each, under a key derived from a workspace key for one purpose. The row's
clear fields (its ids) are bound as associated data, so a sealed payload moved to another
row fails to open. The key id travels with the row, so records sealed before a rotation
still open afterwards.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

from closedloop.crypto._keyring import Keyring
from closedloop.errors import CryptoError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["RecordSealer"]

_NONCE_SIZE = 12
_TAG_SIZE = 16


class RecordSealer:
    """Seal and open records for one purpose with keys derived from a keyring.

    Thread-safe: ciphers are cached per key id behind a lock; sealing itself is lock-free.

    Args:
        keyring: The workspace keyring.
        purpose: What the records are, e.g. ``b"closedloop/prediction-log/v1"``.
    """

    def __init__(self, keyring: Keyring, purpose: bytes) -> None:
        self._keyring = keyring
        self._purpose = purpose
        self._ciphers: dict[str, AESGCM] = {}
        self._lock = threading.Lock()

    def _cipher(self, key_id: str | None) -> tuple[str, AESGCM]:
        wanted = self._keyring.active_key_id if key_id is None else key_id
        cipher = self._ciphers.get(wanted)
        if cipher is None:
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM

            chosen, key = self._keyring.derive(self._purpose, key_id=wanted)
            cipher = AESGCM(key)
            with self._lock:
                self._ciphers[chosen] = cipher
        return wanted, cipher

    def seal(self, plaintext: bytes, associated: bytes) -> tuple[str, bytes]:
        """Encrypt ``plaintext`` under the active key, binding ``associated``.

        Returns:
            ``(key id, nonce + ciphertext + tag)``.
        """
        key_id, cipher = self._cipher(None)
        nonce = os.urandom(_NONCE_SIZE)
        return key_id, nonce + cipher.encrypt(nonce, plaintext, associated)

    def open(self, key_id: str, sealed: bytes, associated: bytes) -> bytes:
        """Decrypt a record made by :meth:`seal` with the same ``associated`` data.

        Raises:
            KeyNotFoundError: ``key_id`` is not in the keyring.
            CryptoError: The record is malformed, was altered, or belongs to another row.
        """
        from cryptography.exceptions import InvalidTag

        _, cipher = self._cipher(key_id)
        if len(sealed) < _NONCE_SIZE + _TAG_SIZE:
            raise CryptoError(f"a sealed record under {key_id!r} is too short")
        try:
            return cipher.decrypt(sealed[:_NONCE_SIZE], sealed[_NONCE_SIZE:], associated)
        except InvalidTag:
            raise CryptoError(
                f"a sealed record under {key_id!r} failed authentication: it was altered "
                "or moved from another row",
                hint="run `closedloop verify`; restore the database from a backup",
            ) from None

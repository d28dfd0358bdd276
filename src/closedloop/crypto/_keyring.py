"""The workspace keyring: named AES-256 keys that wrap per-object data keys.

The key file is JSON::

    {"version": 1, "active": "k0123456789ab", "keys": {"k0123456789ab": "<base64 of 32 bytes>"}}

A key id is ``"k"`` followed by the first 12 hex characters of the SHA-256 of the key bytes, so
an id names its key without revealing it. Rotation adds a key and makes it active; old keys
stay so that objects written under them still decrypt.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import stat
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from closedloop._fs import make_private_dirs, write_new_private_file
from closedloop.errors import AlreadyExistsError, CryptoError, KeyNotFoundError, NotFoundError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = ["KEY_SIZE", "SIGNATURE_SIZE", "Keyring", "key_id_for"]

KEY_SIZE = 32
"""Bytes in every key-encryption key (AES-256)."""

SIGNATURE_SIZE = 32
"""Bytes in every signature made by :meth:`Keyring.sign` (HMAC-SHA256)."""

# The signing key is derived from each workspace key, so no key is used for two purposes.
_SIGNING_LABEL = b"closedloop/signing-key/v1"

_FORMAT_VERSION = 1
_NONCE_SIZE = 12
_TAG_SIZE = 16
_BINARY = getattr(os, "O_BINARY", 0)  # Windows would otherwise translate newlines.


def _aesgcm(key: bytes) -> AESGCM:
    # cryptography costs ~40 ms to import; pay it on first use, not on `import closedloop`.
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    return AESGCM(key)


def _hmac(key: bytes, message: bytes) -> bytes:
    signing_key = hmac.digest(key, _SIGNING_LABEL, "sha256")
    return hmac.digest(signing_key, message, "sha256")


def key_id_for(key: bytes) -> str:
    """Return the id of ``key``: ``"k"`` + the first 12 hex chars of its SHA-256."""
    return "k" + hashlib.sha256(key).hexdigest()[:12]


class Keyring:
    """A set of named 32-byte keys, one of them active for new objects.

    Thread safety: :meth:`wrap` and :meth:`unwrap` may be called from any thread, also while
    another thread calls :meth:`rotate`; each call sees one consistent set of keys.

    Args:
        keys: Key id → 32 key bytes. Every id must equal :func:`key_id_for` of its key.
        active: The id of the key that wraps new data keys.
        path: The file this keyring was loaded from, used by :meth:`rotate` by default.

    Raises:
        CryptoError: A key has the wrong size or id, or ``active`` is not among ``keys``.
    """

    def __init__(self, keys: Mapping[str, bytes], active: str, *, path: Path | None = None) -> None:
        checked: dict[str, bytes] = {}
        for key_id, key in keys.items():
            if len(key) != KEY_SIZE:
                raise CryptoError(f"key {key_id!r} has {len(key)} bytes, expected {KEY_SIZE}")
            if key_id_for(key) != key_id:
                raise CryptoError(f"key id {key_id!r} does not match its key bytes")
            checked[key_id] = bytes(key)
        if active not in checked:
            raise CryptoError(f"active key {active!r} is not among the keyring's keys")
        # One tuple swapped as a whole, so readers never see a half-rotated keyring.
        self._state: tuple[str, dict[str, bytes]] = (active, checked)
        self._path = path
        self._lock = threading.Lock()

    # -- construction ---------------------------------------------------------------------

    @classmethod
    def generate(cls) -> Keyring:
        """Return an in-memory keyring holding one fresh random key."""
        key = os.urandom(KEY_SIZE)
        return cls({key_id_for(key): key}, key_id_for(key))

    @classmethod
    def create(cls, path: str | os.PathLike[str]) -> Keyring:
        """Create a key file at ``path`` holding one fresh key, readable only by its owner.

        Missing parent directories are created with mode 0700. The file is created with mode
        0600 in the same system call that creates it, so it is never readable by others, not
        even briefly.

        Raises:
            AlreadyExistsError: ``path`` already exists (a keyring is never overwritten).
            CryptoError: The file could not be written.
        """
        target = Path(path)
        ring = cls.generate()
        ring._path = target
        try:
            make_private_dirs(target.parent)
            write_new_private_file(target, ring._serialize())
        except FileExistsError:
            raise AlreadyExistsError(
                f"keyring {target} already exists",
                hint="load it with Keyring.load() or rotate it; a keyring is never overwritten",
            ) from None
        except OSError as e:
            raise CryptoError(f"cannot write keyring {target}: {e}") from e
        return ring

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Keyring:
        """Read the key file at ``path``.

        Raises:
            NotFoundError: ``path`` does not exist.
            CryptoError: On POSIX the file grants any permission to group or others; or it is
                not a valid keyring file.
        """
        target = Path(path)
        try:
            fd = os.open(target, os.O_RDONLY | _BINARY)
        except FileNotFoundError:
            raise NotFoundError(
                f"keyring {target} not found",
                hint="run `closedloop init` to create the workspace key, or set key_file",
            ) from None
        except OSError as e:
            raise CryptoError(f"cannot read keyring {target}: {e}") from e
        with os.fdopen(fd, "rb") as f:
            # fstat on the open descriptor: the mode checked is the mode of the file read.
            mode = stat.S_IMODE(os.fstat(f.fileno()).st_mode)
            if os.name == "posix" and mode & 0o077:
                raise CryptoError(
                    f"keyring {target} is accessible by other users (mode {mode:#o})",
                    hint=f"chmod 600 {target}",
                )
            raw = f.read()
        return cls._parse(raw, target)

    @classmethod
    def _parse(cls, raw: bytes, path: Path) -> Keyring:
        try:
            doc: Any = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as e:
            raise CryptoError(f"keyring {path} is not valid JSON: {e}") from e
        if not isinstance(doc, dict):
            raise CryptoError(f"keyring {path} must hold a JSON object")
        if doc.get("version") != _FORMAT_VERSION:
            raise CryptoError(
                f"keyring {path} has unsupported version {doc.get('version')!r}",
                hint=f"this closedloop reads keyring version {_FORMAT_VERSION}",
            )
        entries, active = doc.get("keys"), doc.get("active")
        if not isinstance(entries, dict) or not entries or not isinstance(active, str):
            raise CryptoError(f"keyring {path} needs an 'active' id and a non-empty 'keys' map")
        keys: dict[str, bytes] = {}
        for key_id, encoded in entries.items():
            if not isinstance(encoded, str):
                raise CryptoError(f"keyring {path}: key {key_id!r} is not a base64 string")
            try:
                keys[key_id] = base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError) as e:
                raise CryptoError(f"keyring {path}: key {key_id!r} is not valid base64") from e
        try:
            return cls(keys, active, path=path)
        except CryptoError as e:
            raise CryptoError(f"keyring {path}: {e.message}") from e

    # -- inspection -----------------------------------------------------------------------

    @property
    def active_key_id(self) -> str:
        """The id of the key that wraps new data keys."""
        return self._state[0]

    @property
    def key_ids(self) -> list[str]:
        """Every key id in the keyring, sorted."""
        return sorted(self._state[1])

    @property
    def path(self) -> Path | None:
        """The file this keyring lives in, or None for an in-memory keyring."""
        return self._path

    def __repr__(self) -> str:
        # Never show key material.
        return f"Keyring(active={self.active_key_id!r}, keys={self.key_ids!r}, path={self._path!r})"

    # -- use ------------------------------------------------------------------------------

    def wrap(self, data_key: bytes) -> tuple[str, bytes]:
        """Encrypt ``data_key`` under the active key.

        Returns:
            ``(key id, nonce + ciphertext + tag)``. The key id is bound as associated data, so
            a wrapped key cannot be relabelled with another id.
        """
        active, keys = self._state
        nonce = os.urandom(_NONCE_SIZE)
        return active, nonce + _aesgcm(keys[active]).encrypt(nonce, data_key, active.encode())

    def unwrap(self, key_id: str, wrapped: bytes) -> bytes:
        """Decrypt a data key produced by :meth:`wrap`.

        Raises:
            KeyNotFoundError: ``key_id`` is not in this keyring.
            CryptoError: ``wrapped`` is malformed or fails authentication.
        """
        from cryptography.exceptions import InvalidTag

        key = self._state[1].get(key_id)
        if key is None:
            raise KeyNotFoundError(
                f"key {key_id!r} is not in the keyring",
                hint="use the keyring of the workspace that wrote the object",
            )
        if len(wrapped) < _NONCE_SIZE + _TAG_SIZE:
            raise CryptoError(f"wrapped data key under {key_id!r} is too short")
        nonce, sealed = wrapped[:_NONCE_SIZE], wrapped[_NONCE_SIZE:]
        try:
            return _aesgcm(key).decrypt(nonce, sealed, key_id.encode())
        except InvalidTag:
            raise CryptoError(f"wrapped data key under {key_id!r} failed authentication") from None

    def sign(self, message: bytes, *, key_id: str | None = None) -> tuple[str, bytes]:
        """Sign ``message`` (HMAC-SHA256) with a key derived from a workspace key.

        Args:
            message: What to sign.
            key_id: The workspace key to derive the signing key from; default the active one.

        Returns:
            ``(key id, signature)``; the signature has :data:`SIGNATURE_SIZE` bytes.

        Raises:
            KeyNotFoundError: ``key_id`` is not in this keyring.
        """
        active, keys = self._state
        chosen = active if key_id is None else key_id
        if chosen not in keys:
            raise KeyNotFoundError(f"key {chosen!r} is not in the keyring")
        return chosen, _hmac(keys[chosen], message)

    def check_signature(self, key_id: str, message: bytes, signature: bytes) -> None:
        """Check a signature made by :meth:`sign` (in constant time).

        Raises:
            KeyNotFoundError: ``key_id`` is not in this keyring.
            CryptoError: The signature does not match ``message`` under that key.
        """
        key = self._state[1].get(key_id)
        if key is None:
            raise KeyNotFoundError(
                f"key {key_id!r} is not in the keyring",
                hint="use the keyring of the workspace that wrote the object",
            )
        if not hmac.compare_digest(_hmac(key, message), signature):
            raise CryptoError(f"signature under {key_id!r} does not match")

    def derive(self, purpose: bytes, *, key_id: str | None = None) -> tuple[str, bytes]:
        """A 32-byte key for ``purpose`` derived (HMAC-SHA256) from a workspace key.

        Derived keys separate uses (record sealing, signing) so one never serves another.

        Args:
            purpose: A label such as ``b"closedloop/prediction-log/v1"``.
            key_id: The workspace key to derive from; default the active one.

        Returns:
            ``(key id, derived key)``.

        Raises:
            KeyNotFoundError: ``key_id`` is not in this keyring.
        """
        active, keys = self._state
        chosen = active if key_id is None else key_id
        key = keys.get(chosen)
        if key is None:
            raise KeyNotFoundError(
                f"key {chosen!r} is not in the keyring",
                hint="use the keyring of the workspace that wrote the object",
            )
        return chosen, hmac.new(key, b"closedloop/derive/v1\x00" + purpose, "sha256").digest()

    def rotate(self, path: str | os.PathLike[str] | None = None) -> str:
        """Add a fresh key, make it active and save the keyring.

        The file is replaced atomically: the new content goes to a 0600 temp file beside it,
        which is then renamed over the old one. Old keys stay, so old objects still decrypt.

        Args:
            path: Where to save; defaults to the file the keyring was loaded from or created
                at. An in-memory keyring with no path is rotated in memory only.

        Returns:
            The new active key id.

        Raises:
            CryptoError: The file could not be written (the keyring is then left unchanged).
        """
        with self._lock:
            keys = self._state[1]
            key = os.urandom(KEY_SIZE)
            while key_id_for(key) in keys:  # a 48-bit id collision; astronomically rare
                key = os.urandom(KEY_SIZE)
            new_id = key_id_for(key)
            new_state = (new_id, {**keys, new_id: key})
            target = Path(path) if path is not None else self._path
            if target is not None:
                tmp = target.with_name(f".{target.name}.{os.urandom(16).hex()}.tmp")
                try:
                    write_new_private_file(tmp, self._serialize(new_state))
                    os.replace(tmp, target)
                except OSError as e:
                    tmp.unlink(missing_ok=True)
                    raise CryptoError(f"cannot write keyring {target}: {e}") from e
                self._path = target
            self._state = new_state
            return new_id

    def _serialize(self, state: tuple[str, dict[str, bytes]] | None = None) -> bytes:
        active, keys = state if state is not None else self._state
        doc = {
            "version": _FORMAT_VERSION,
            "active": active,
            "keys": {kid: base64.b64encode(k).decode("ascii") for kid, k in sorted(keys.items())},
        }
        return (json.dumps(doc, indent=2) + "\n").encode("utf-8")

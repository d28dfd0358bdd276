r"""Streaming authenticated encryption of one object, in bounded memory.

Each object gets a fresh random 32-byte data key, wrapped by the :class:`Keyring`, and is
sealed in chunks of :data:`CHUNK_SIZE` plaintext bytes with AES-256-GCM. Format, version 1
(integers big-endian)::

    header
      magic         8   b"CLENC\x00" + u16 version (= 1)
      chunk_size    u32 plaintext bytes in every chunk but the last
      nonce_prefix  8   random, per object
      key_id_len    u8, key_id (ASCII)
      wrapped_len   u16, wrapped data key (keyring nonce + ciphertext + tag)
    records, one per chunk
      final         u8  1 on the last record, else 0
      length        u32 ciphertext length, tag included
      ciphertext

Chunk ``i`` uses nonce ``nonce_prefix + u32(i)`` and associated data ``header + final``.
Binding the whole header stops splicing chunks between objects; binding the counter (via the
nonce) stops reordering; binding ``final`` stops truncation at a chunk boundary (the new last
chunk was sealed as non-final) and appending (nothing may follow the final record). An empty
object is one final record with an empty chunk.
"""

from __future__ import annotations

import os
import struct
from typing import TYPE_CHECKING

from closedloop.crypto._keyring import KEY_SIZE, _aesgcm
from closedloop.errors import ArtifactIntegrityError, CryptoError, KeyNotFoundError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from _typeshed import ReadableBuffer, SupportsRead, SupportsWrite

    from closedloop.crypto._keyring import Keyring

__all__ = ["CHUNK_SIZE", "ENVELOPE_MAGIC", "EnvelopeReader", "EnvelopeWriter"]

ENVELOPE_MAGIC = b"CLENC\x00" + struct.pack(">H", 1)
"""The first 8 bytes of every envelope (format version 1)."""

CHUNK_SIZE = 1 << 20
"""Plaintext bytes per chunk (1 MiB)."""

_MAX_CHUNK_SIZE = 64 << 20  # bound what a forged header can make a reader allocate
_TAG = 16
_PREFIX = 8
_RECORD = struct.Struct(">BI")
_MAX_CHUNKS = 1 << 32


def _nonce(prefix: bytes, counter: int) -> bytes:
    return prefix + counter.to_bytes(4, "big")


class EnvelopeWriter:
    """Encrypt a byte stream into ``sink`` as an envelope, one chunk at a time.

    The header is written at construction. Feed plaintext with :meth:`write` in pieces of any
    size, then call :meth:`close` to seal the final chunk; without it the envelope is truncated
    and will not decrypt. At most one chunk of plaintext is buffered.

    Not thread-safe: one writer per object, used by one thread.

    Args:
        sink: Binary destination with ``write(bytes)``.
        keyring: Wraps the per-object data key with its active key.
        chunk_size: Plaintext bytes per chunk.

    Raises:
        CryptoError: ``chunk_size`` is out of range.
    """

    def __init__(
        self, sink: SupportsWrite[bytes], keyring: Keyring, *, chunk_size: int = CHUNK_SIZE
    ) -> None:
        if not 0 < chunk_size <= _MAX_CHUNK_SIZE:
            raise CryptoError(f"chunk size must be in 1..{_MAX_CHUNK_SIZE}, got {chunk_size}")
        data_key = os.urandom(KEY_SIZE)
        self.key_id, wrapped = keyring.wrap(data_key)
        key_id = self.key_id.encode("ascii")
        self._prefix = os.urandom(_PREFIX)
        self._header = b"".join(
            [
                ENVELOPE_MAGIC,
                struct.pack(">I", chunk_size),
                self._prefix,
                struct.pack(">B", len(key_id)),
                key_id,
                struct.pack(">H", len(wrapped)),
                wrapped,
            ]
        )
        self._aead = _aesgcm(data_key)
        self._sink = sink
        self._chunk_size = chunk_size
        self._buffer = bytearray()
        self._counter = 0
        self._closed = False
        sink.write(self._header)

    def write(self, data: ReadableBuffer) -> None:
        """Add plaintext; every complete chunk that is surely not the last is sealed now.

        Raises:
            CryptoError: The writer is closed, or the object exceeds 2**32 chunks.
        """
        if self._closed:
            raise CryptoError("write to a closed envelope writer")
        size = self._chunk_size
        with memoryview(data) as raw, raw.cast("B") as view:
            pos = 0
            while pos < len(view):
                # A full buffered chunk is sealed only once more data proves it is not the
                # last; close() seals it as final otherwise. So the buffer never exceeds a chunk.
                if len(self._buffer) == size:
                    self._seal_buffer(final=False)
                if not self._buffer and len(view) - pos > size:
                    self._seal(view[pos : pos + size], final=False)  # no copy
                    pos += size
                    continue
                take = min(size - len(self._buffer), len(view) - pos)
                self._buffer += view[pos : pos + take]
                pos += take

    def close(self) -> None:
        """Seal the buffered rest as the final chunk. Calling it again does nothing."""
        if self._closed:
            return
        self._seal_buffer(final=True)
        self._closed = True

    def __enter__(self) -> EnvelopeWriter:
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        # On error, leave the envelope without its final chunk, so it can never pass as whole.
        if exc_type is None:
            self.close()

    def _seal_buffer(self, *, final: bool) -> None:
        with memoryview(self._buffer) as view:
            self._seal(view, final=final)
        self._buffer = bytearray()  # frees the chunk; clear() could keep the allocation

    def _seal(self, plaintext: memoryview, *, final: bool) -> None:
        if self._counter >= _MAX_CHUNKS:
            raise CryptoError("object too large for one envelope (2**32 chunks)")
        flag = b"\x01" if final else b"\x00"
        sealed = self._aead.encrypt(
            _nonce(self._prefix, self._counter), plaintext, self._header + flag
        )
        self._counter += 1
        self._sink.write(_RECORD.pack(flag[0], len(sealed)))
        self._sink.write(sealed)


class EnvelopeReader:
    """Decrypt an envelope from ``source``, yielding plaintext chunks as they authenticate.

    The header is read and the data key unwrapped at construction. Iterate once over the
    reader to get the plaintext; each chunk is authenticated before it is yielded. Any
    tampering, truncation or trailing data raises :class:`ArtifactIntegrityError` naming
    ``name`` — at the latest when the iteration reaches the end, so a caller who needs the
    whole object intact must consume the iterator to its end before trusting the result.

    Args:
        source: Binary source with ``read(n)``, positioned at the start of the envelope.
        keyring: Holds the key that wrapped the data key.
        name: Names the object in error messages (e.g. its digest).

    Raises:
        ArtifactIntegrityError: The header is malformed or the wrapped data key fails
            authentication.
        KeyNotFoundError: The keyring lacks the key id recorded in the header.
    """

    def __init__(self, source: SupportsRead[bytes], keyring: Keyring, *, name: str) -> None:
        self._source = source
        self.name = name
        magic = self._read_exact(len(ENVELOPE_MAGIC), "header")
        if magic != ENVELOPE_MAGIC:
            raise self._error("is not an encrypted envelope of a known version")
        fixed = self._read_exact(4 + _PREFIX + 1, "header")
        (self._chunk_size,) = struct.unpack(">I", fixed[:4])
        if not 0 < self._chunk_size <= _MAX_CHUNK_SIZE:
            raise self._error(f"has an invalid chunk size {self._chunk_size}")
        self._prefix = fixed[4 : 4 + _PREFIX]
        raw_id = self._read_exact(fixed[-1], "header")
        (wrapped_len,) = struct.unpack(">H", self._read_exact(2, "header"))
        wrapped = self._read_exact(wrapped_len, "header")
        self._header = magic + fixed + raw_id + struct.pack(">H", wrapped_len) + wrapped
        try:
            self.key_id = raw_id.decode("ascii")
        except UnicodeDecodeError:
            raise self._error("has a corrupt key id") from None
        try:
            data_key = keyring.unwrap(self.key_id, wrapped)
        except KeyNotFoundError as e:
            raise KeyNotFoundError(
                f"{name} is encrypted with key {self.key_id!r}, which the keyring lacks",
                hint=e.hint,
            ) from e
        except CryptoError as e:
            raise self._error(f"has a data key that fails authentication ({e.message})") from e
        if len(data_key) != KEY_SIZE:
            raise self._error("has a data key of the wrong size")
        self._aead = _aesgcm(data_key)
        self._started = False

    def __iter__(self) -> Iterator[bytes]:
        """Yield the plaintext chunks (empty chunks are skipped); a reader iterates once.

        Raises:
            ArtifactIntegrityError: A chunk fails authentication, the final chunk is missing,
                or data follows it.
            CryptoError: The reader was already iterated.
        """
        if self._started:
            raise CryptoError(f"envelope reader for {self.name} can be iterated only once")
        self._started = True
        return self._chunks()

    def _chunks(self) -> Iterator[bytes]:
        from cryptography.exceptions import InvalidTag

        counter = 0
        while True:
            record = self._read_exact(_RECORD.size, f"chunk {counter}", eof_ok=counter > 0)
            if not record:
                raise self._error(f"is truncated: chunk {counter - 1} is not the final chunk")
            flag, length = _RECORD.unpack(record)
            limit = self._chunk_size + _TAG
            if flag > 1 or length < _TAG or length > limit or (flag == 0 and length != limit):
                raise self._error(f"has a corrupt record header at chunk {counter}")
            sealed = self._read_exact(length, f"chunk {counter}")
            try:
                plaintext = self._aead.decrypt(
                    _nonce(self._prefix, counter), sealed, self._header + bytes([flag])
                )
            except InvalidTag:
                raise self._error(f"failed authentication at chunk {counter}") from None
            del sealed
            counter += 1
            if flag == 1:
                if self._source.read(1):
                    raise self._error("has unexpected data after its final chunk")
                if plaintext:
                    yield plaintext
                return
            if counter >= _MAX_CHUNKS:
                raise self._error("has more chunks than the format allows")
            yield plaintext

    def _read_exact(self, n: int, what: str, *, eof_ok: bool = False) -> bytes:
        parts: list[bytes] = []
        got = 0
        while got < n:
            part = self._source.read(n - got)
            if not part:
                break
            parts.append(part)
            got += len(part)
        if got == n:
            return parts[0] if len(parts) == 1 else b"".join(parts)
        if got == 0 and eof_ok:
            return b""
        raise self._error(f"is truncated inside its {what}")

    def _error(self, problem: str) -> ArtifactIntegrityError:
        return ArtifactIntegrityError(
            f"{self.name} {problem}",
            hint="the stored object is corrupt or was tampered with; restore it from a copy",
        )

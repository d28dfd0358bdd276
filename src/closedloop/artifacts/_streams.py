"""Streaming helpers of the artifact store: verified chunk streams and the blob reader."""

from __future__ import annotations

import hashlib
import io
from typing import TYPE_CHECKING

from closedloop.crypto import CHUNK_SIZE
from closedloop.errors import ArtifactIntegrityError, StorageError

if TYPE_CHECKING:
    from collections.abc import Generator, Iterator

    from _typeshed import SupportsRead, WriteableBuffer

__all__ = ["INTEGRITY_HINT", "BlobStreamReader", "Replay", "read_chunks", "verified"]

INTEGRITY_HINT = "the stored object is corrupt or was tampered with; restore it from a copy"


class Replay:
    """A source that returns ``head`` (bytes already read) before the rest of ``rest``."""

    def __init__(self, head: bytes, rest: SupportsRead[bytes]) -> None:
        self._head, self._rest = head, rest

    def read(self, size: int = -1, /) -> bytes:
        if not self._head:
            return self._rest.read(size)
        n = len(self._head) if size < 0 else size
        out, self._head = self._head[:n], self._head[n:]
        return out


class BlobStreamReader(io.RawIOBase):
    """The :class:`BlobReader` handed out by :meth:`FsspecArtifactStore.open`.

    Args:
        chunks: The verified plaintext chunks.
        authenticated: Whether the blob's format authenticates it with the workspace key.
    """

    def __init__(self, chunks: Generator[bytes, None, None], authenticated: bool) -> None:
        super().__init__()
        self.authenticated = authenticated
        self._chunks = chunks
        self._chunk = b""
        self._pos = 0

    def readable(self) -> bool:
        return True

    def _fill(self) -> bool:
        if self.closed:
            raise ValueError("I/O operation on closed blob reader")
        while self._pos >= len(self._chunk):
            self._chunk = b""  # drop the spent chunk before the next one is produced
            chunk = next(self._chunks, None)
            if chunk is None:
                self._chunk, self._pos = b"", 0
                return False
            self._chunk, self._pos = chunk, 0
        return True

    def _take(self, n: int) -> bytes:
        start, end = self._pos, min(self._pos + n, len(self._chunk))
        self._pos = end
        if start == 0 and end == len(self._chunk):
            return self._chunk  # hand the whole chunk over without a copy
        return self._chunk[start:end]

    def read(self, size: int | None = -1, /) -> bytes:
        if size is None or size < 0:
            return b"".join(self.iter_chunks())
        if size == 0 or not self._fill():
            return b""
        return self._take(size)

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        with memoryview(buffer) as raw, raw.cast("B") as out:
            if not out or not self._fill():
                return 0
            data = self._take(len(out))
            out[: len(data)] = data
            return len(data)

    def iter_chunks(self) -> Iterator[bytes]:
        while self._fill():
            yield self._take(len(self._chunk))

    def close(self) -> None:
        self._chunks.close()
        super().close()


def read_chunks(stream: SupportsRead[bytes], what: str) -> Iterator[bytes]:
    while True:
        chunk = stream.read(CHUNK_SIZE)
        if chunk is None:
            raise StorageError(f"{what} is non-blocking and has no data; use a blocking stream")
        if not chunk:
            return
        yield chunk


def verified(chunks: Iterator[bytes], digest: str, hex_digest: str) -> Generator[bytes, None, None]:
    """Pass ``chunks`` through, raising at the end if their SHA-256 is not ``hex_digest``.

    The last chunk is held back until the digest is checked, so a reader never gets the whole
    content of a corrupt blob. Encrypted chunks are already authenticated; the check also
    binds the content to its name (a valid blob stored under another digest is refused).
    """
    hasher = hashlib.sha256()
    pending: bytes | None = None
    while True:
        try:
            chunk = next(chunks, None)
        except OSError as e:
            raise StorageError(f"cannot read artifact {digest}: {e}") from e
        if chunk is None:
            break
        hasher.update(chunk)
        if pending:
            yield pending
        pending = chunk
    if hasher.hexdigest() != hex_digest:
        raise ArtifactIntegrityError(
            f"artifact {digest} does not match its content (sha256:{hasher.hexdigest()})",
            hint=INTEGRITY_HINT,
        )
    if pending:
        yield pending

"""The artifact store contract: a content-addressed, verified blob store."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import os
    from collections.abc import Iterator
    from contextlib import AbstractContextManager
    from datetime import datetime, timedelta
    from typing import BinaryIO

__all__ = ["ArtifactStore", "BlobInfo", "BlobReader", "BlobStat"]


@dataclass(frozen=True)
class BlobInfo:
    """What a put or a verify returns.

    Attributes:
        digest: ``"sha256:"`` + 64 lowercase hex chars of the plaintext.
        size: Plaintext size in bytes.
    """

    digest: str
    size: int


@dataclass(frozen=True)
class BlobStat:
    """One stored blob as listed by :meth:`ArtifactStore.iter_blobs`.

    Attributes:
        digest: ``"sha256:"`` + 64 lowercase hex chars of the plaintext.
        stored_size: Bytes the blob takes in the store (header and encryption included).
        modified: When the stored object was last written, timezone-aware UTC.
    """

    digest: str
    stored_size: int
    modified: datetime


class BlobReader(Protocol):
    """A readable binary stream over one blob's plaintext, verified as it is read.

    Reading never returns bytes that failed authentication. For encrypted blobs every chunk
    is authenticated before it is returned; for plain blobs the digest can only be checked at
    the end, so :meth:`read` raises :class:`~closedloop.errors.ArtifactIntegrityError` when it
    reaches the end of a blob whose content does not match its digest. Only a read that
    reached the end (``b""`` returned, or the chunk iterator exhausted) proves the content.
    """

    def read(self, size: int = -1, /) -> bytes:
        """Return up to ``size`` bytes (all the rest if negative); ``b""`` at the end."""
        ...

    def iter_chunks(self) -> Iterator[bytes]:
        """Yield the rest of the plaintext in chunks of bounded size (about 1 MiB)."""
        ...

    @property
    def authenticated(self) -> bool:
        """Whether the blob is authenticated by the workspace key, known once it is open.

        True for encrypted and signed blobs: a read that reaches the end proves they were
        written with the workspace key. False for plain blobs, whose digest is checked but
        which anyone with write access to the store could have planted.
        """
        ...

    def readable(self) -> bool:
        """Return True."""
        ...

    def close(self) -> None:
        """Release the underlying file; the store's context manager does it on exit."""
        ...


class ArtifactStore(Protocol):
    """A content-addressed store of immutable blobs.

    A blob is named by the SHA-256 of its plaintext, written ``"sha256:<64 lowercase hex>"``.
    Storing content that is already present stores nothing new (dedup), whatever the encryption.
    Every read is verified against the digest; a blob that was corrupted or tampered with is
    refused with :class:`~closedloop.errors.ArtifactIntegrityError`, never silently returned.

    A digest check alone is not authentication: whoever can write the store picks the digest.
    A blob is *authenticated* when its bytes are bound to the workspace key (encrypted, or
    signed with a key derived from it). Reads that deserialise code, such as loading a
    model, pass ``require_authenticated=True``; data (dataset Parquet, run artifacts handed
    back as bytes) is read without it.

    A put of content that is already stored checks the stored blob: if it fails
    verification, or is plain where the store would authenticate it, the put replaces it
    atomically (this is how a broken blob is repaired); otherwise nothing new is stored.

    Every method that takes a digest validates it strictly and raises
    :class:`~closedloop.errors.InvalidArgumentError` for anything that is not a well-formed
    digest; this also guards against path traversal. I/O failures of the backend surface as
    :class:`~closedloop.errors.StorageError`.

    Thread and process safety: every method may be called concurrently from several threads
    and processes on the same store, including puts of the same content. A put becomes visible
    atomically when it returns; a writer that dies mid-way leaves no visible blob, only a
    temporary file for ``cleanup_tmp`` (where the implementation has one).
    """

    @property
    def uri(self) -> str:
        """The store's location as a URI (e.g. ``file:///data/artifacts``)."""
        ...

    def put_bytes(self, data: bytes) -> BlobInfo:
        """Store ``data`` and return its digest and size (repairing a broken stored copy).

        Raises:
            StorageError: The backend failed; nothing becomes visible.
        """
        ...

    def put_file(self, path: str | os.PathLike[str]) -> BlobInfo:
        """Store the content of the local file ``path``, read in chunks.

        Raises:
            NotFoundError: ``path`` does not exist.
            StorageError: ``path`` cannot be read or the backend failed.
        """
        ...

    def put_stream(self, stream: BinaryIO) -> BlobInfo:
        """Store everything read from ``stream`` until EOF, in bounded memory.

        Raises:
            StorageError: The backend failed; nothing becomes visible.
        """
        ...

    def open(
        self, digest: str, *, require_authenticated: bool = False
    ) -> AbstractContextManager[BlobReader]:
        """Open a blob for verified streaming reads.

        Args:
            digest: The blob's digest.
            require_authenticated: Refuse a blob that is not authenticated by the workspace
                key, on entering the context, before any of its content is read.

        Raises:
            InvalidArgumentError: ``digest`` is malformed (raised on the call).
            NotFoundError: No blob has this digest (raised on entering the context).
            KeyNotFoundError: The blob is encrypted or signed with a key the keyring lacks.
            UnauthenticatedArtifactError: ``require_authenticated`` is set and the blob is
                plain (raised on entering the context).
            ArtifactIntegrityError: Raised by reads, as soon as corruption is detected.
        """
        ...

    def get_bytes(self, digest: str, *, require_authenticated: bool = False) -> bytes:
        """Return a blob's whole plaintext, verified (and authenticated, if required).

        Raises:
            InvalidArgumentError, NotFoundError, KeyNotFoundError, ArtifactIntegrityError,
            UnauthenticatedArtifactError: As for :meth:`open`.
        """
        ...

    def get_file(self, digest: str, dest: str | os.PathLike[str]) -> None:
        """Write a blob's plaintext to the local file ``dest``, atomically.

        The content goes to a temp file beside ``dest`` and is renamed over it only once it
        has been verified in full, so on any error ``dest`` is neither created nor changed.

        Raises:
            InvalidArgumentError, NotFoundError, KeyNotFoundError, ArtifactIntegrityError:
                As for :meth:`open`.
            StorageError: ``dest`` cannot be written.
        """
        ...

    def exists(self, digest: str) -> bool:
        """Return whether a blob with this digest is stored (no content check).

        Raises:
            InvalidArgumentError: ``digest`` is malformed.
        """
        ...

    def delete(self, digest: str) -> bool:
        """Remove a blob; return True if one was removed, False if there was none.

        Raises:
            InvalidArgumentError: ``digest`` is malformed.
        """
        ...

    def iter_blobs(self) -> Iterator[BlobStat]:
        """Yield every stored blob, in digest order; in-progress writes are not listed."""
        ...

    def verify(self, digest: str) -> BlobInfo:
        """Read a blob in full and check it against its digest.

        Raises:
            InvalidArgumentError, NotFoundError, KeyNotFoundError, ArtifactIntegrityError:
                As for :meth:`open`.
        """
        ...

    def cleanup_tmp(self, older_than: timedelta, *, dry_run: bool = False) -> int:
        """Remove temp files of abandoned writes last modified at least ``older_than`` ago.

        With ``dry_run``, nothing is removed.

        Returns:
            The number of temp files removed (with ``dry_run``: that would be removed).

        Raises:
            StorageError: The backend failed.
        """
        ...

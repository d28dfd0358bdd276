"""An :class:`ArtifactStore` on any fsspec filesystem: local, ``memory://``, ``s3://`` and more.

Layout under the root::

    objects/<first 2 hex>/<other 62 hex>   one file per blob, named by its plaintext SHA-256
    tmp/<32 random hex>.part               writes in progress (or abandoned by a dead writer)

A blob file starts with an 8-byte magic that says its format: an encrypted envelope
(:data:`closedloop.crypto.ENVELOPE_MAGIC`, see :mod:`closedloop.crypto._envelope`) or plain
content (:data:`PLAIN_MAGIC` followed by the raw bytes). Readers handle both, whatever the
store's current ``encrypt`` setting.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from closedloop.artifacts._protocol import ArtifactStore, BlobInfo, BlobReader, BlobStat
from closedloop.artifacts._streams import (
    INTEGRITY_HINT,
    BlobStreamReader,
    Replay,
    read_chunks,
    verified,
)
from closedloop.crypto import CHUNK_SIZE, ENVELOPE_MAGIC, EnvelopeReader, EnvelopeWriter
from closedloop.errors import (
    ArtifactIntegrityError,
    ConfigurationError,
    InvalidArgumentError,
    KeyNotFoundError,
    NotFoundError,
    StorageError,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping

    from _typeshed import ReadableBuffer, SupportsRead

    from closedloop.crypto import Keyring

__all__ = ["PLAIN_MAGIC", "FsspecArtifactStore"]

PLAIN_MAGIC = b"CLRAW\x00\x00\x01"
"""The first 8 bytes of an unencrypted blob file (format version 1)."""

_DIGEST = re.compile(r"sha256:([0-9a-f]{64})")
_PREFIX_DIR = re.compile(r"[0-9a-f]{2}")
_REST_NAME = re.compile(r"[0-9a-f]{62}")


def _check_digest(digest: object) -> str:
    """Return the hex part of a well-formed digest; this is the path-traversal guard."""
    match = _DIGEST.fullmatch(digest) if isinstance(digest, str) else None
    if match is None:
        raise InvalidArgumentError(
            f"invalid artifact digest {digest!r}",
            hint='a digest is "sha256:" followed by 64 lowercase hex characters',
        )
    return match.group(1)


def _as_utc(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    return None


class FsspecArtifactStore:
    """A content-addressed, optionally encrypted blob store on an fsspec filesystem.

    See :class:`~closedloop.artifacts.ArtifactStore` for the contract. Puts stream through a
    temp file while hashing (and encrypting) in chunks of 1 MiB, so memory stays bounded, and
    then move it into place: an atomic ``os.replace`` on the local filesystem, ``fs.mv``
    elsewhere. Same content is stored once even when encrypted, since blobs are named by the
    plaintext digest.

    Args:
        uri: A fsspec URL (``file:///data``, ``memory://arts``, ``s3://bucket/prefix``) or a
            local path.
        keyring: Wraps per-blob data keys; needed to write encrypted blobs and to read them.
        encrypt: Encrypt new blobs. Reading handles encrypted and plain blobs either way.
        storage_options: Passed to the fsspec filesystem (credentials, endpoint, ...).

    Raises:
        ConfigurationError: ``encrypt`` is set without a keyring, or fsspec cannot open
            ``uri`` (unknown protocol, missing driver package, bad options).
    """

    def __init__(
        self,
        uri: str,
        keyring: Keyring | None,
        *,
        encrypt: bool = True,
        storage_options: Mapping[str, Any] | None = None,
    ) -> None:
        if encrypt and keyring is None:
            raise ConfigurationError(
                f"artifact store {uri!r} is set to encrypt but has no keyring",
                hint="pass the workspace keyring, or encrypt=False",
            )
        # fsspec costs ~90 ms to import; pay it when a store is built, not on import.
        from fsspec.core import url_to_fs
        from fsspec.implementations.local import LocalFileSystem

        try:
            fs, root = url_to_fs(uri, **dict(storage_options or {}))
        except ImportError as e:
            raise ConfigurationError(
                f"artifact store {uri!r} needs a package that is not installed: {e}",
                hint="install the fsspec driver for this protocol (e.g. s3fs, gcsfs)",
            ) from e
        except (ValueError, TypeError, OSError) as e:
            raise ConfigurationError(f"cannot open artifact store {uri!r}: {e}") from e
        self._fs: Any = fs
        self._local = isinstance(fs, LocalFileSystem)
        self._root = str(root).rstrip("/")
        self._uri: str = fs.unstrip_protocol(self._root or "/")
        self._keyring = keyring
        self._encrypt = encrypt

    def __repr__(self) -> str:
        return f"FsspecArtifactStore({self._uri!r}, encrypt={self._encrypt})"

    @property
    def uri(self) -> str:
        """The store root as a URL (``file:///...``, ``memory:///...``)."""
        return self._uri

    def _object_path(self, hex_digest: str) -> str:
        return f"{self._root}/objects/{hex_digest[:2]}/{hex_digest[2:]}"

    # -- writing --------------------------------------------------------------------------

    def put_bytes(self, data: bytes) -> BlobInfo:
        """Store ``data``; see :meth:`ArtifactStore.put_bytes`."""
        view = memoryview(data)
        return self._put(view[i : i + CHUNK_SIZE] for i in range(0, len(view), CHUNK_SIZE))

    def put_file(self, path: str | os.PathLike[str]) -> BlobInfo:
        """Store a local file's content; see :meth:`ArtifactStore.put_file`."""
        try:
            with open(path, "rb") as f:
                return self._put(read_chunks(f, str(path)))
        except FileNotFoundError:
            raise NotFoundError(f"file {os.fspath(path)!r} not found") from None
        except OSError as e:
            raise StorageError(f"cannot read {os.fspath(path)!r}: {e}") from e

    def put_stream(self, stream: SupportsRead[bytes]) -> BlobInfo:
        """Store a stream's content until EOF; see :meth:`ArtifactStore.put_stream`."""
        return self._put(read_chunks(stream, "the stream"))

    def _put(self, chunks: Iterable[ReadableBuffer]) -> BlobInfo:
        tmp = f"{self._root}/tmp/{os.urandom(16).hex()}.part"
        hasher, size = hashlib.sha256(), 0
        try:
            self._fs.makedirs(f"{self._root}/tmp", exist_ok=True)
            with open(tmp, "xb") if self._local else self._fs.open(tmp, "wb") as sink:
                writer = None
                if self._encrypt:
                    assert self._keyring is not None  # checked in __init__
                    writer = EnvelopeWriter(sink, self._keyring)
                else:
                    sink.write(PLAIN_MAGIC)
                for chunk in chunks:
                    hasher.update(chunk)
                    size += memoryview(chunk).nbytes
                    (writer or sink).write(chunk)
                if writer is not None:
                    writer.close()
                if self._local:  # durable before it becomes visible
                    sink.flush()
                    os.fsync(sink.fileno())
            hex_digest = hasher.hexdigest()
            self._commit(tmp, hex_digest)
        except BaseException as e:
            with contextlib.suppress(OSError):
                self._fs.rm_file(tmp)
            if isinstance(e, OSError):
                raise StorageError(f"cannot store artifact in {self._uri}: {e}") from e
            raise
        return BlobInfo(f"sha256:{hex_digest}", size)

    def _commit(self, tmp: str, hex_digest: str) -> None:
        dest = self._object_path(hex_digest)
        if self._exists(dest):  # dedup: the same plaintext is already stored
            self._fs.rm_file(tmp)
            return
        self._fs.makedirs(dest.rsplit("/", 1)[0], exist_ok=True)
        try:
            if self._local:
                os.replace(tmp, dest)
            else:
                self._fs.mv(tmp, dest)
        except OSError:
            # Lost a race with a concurrent put of the same content: theirs is as good.
            if not self._exists(dest):
                raise
            self._fs.rm_file(tmp)

    # -- reading --------------------------------------------------------------------------

    def open(self, digest: str) -> contextlib.AbstractContextManager[BlobReader]:
        """Open a blob for verified reads; see :meth:`ArtifactStore.open`."""
        return self._open(digest, _check_digest(digest))

    @contextlib.contextmanager
    def _open(self, digest: str, hex_digest: str) -> Iterator[BlobReader]:
        try:
            f = self._fs.open(self._object_path(hex_digest), "rb")
        except FileNotFoundError:
            raise NotFoundError(f"artifact {digest} not found in {self._uri}") from None
        except OSError as e:
            raise StorageError(f"cannot open artifact {digest}: {e}") from e
        try:
            reader = BlobStreamReader(verified(self._decode(f, digest), digest, hex_digest))
            try:
                yield reader
            finally:
                reader.close()
        finally:
            f.close()

    def _decode(self, f: SupportsRead[bytes], digest: str) -> Iterator[bytes]:
        """Read the format header and return an iterator over the plaintext chunks."""
        try:
            magic = f.read(len(ENVELOPE_MAGIC))
        except OSError as e:
            raise StorageError(f"cannot read artifact {digest}: {e}") from e
        if magic == PLAIN_MAGIC:
            return read_chunks(f, digest)
        if magic != ENVELOPE_MAGIC:
            raise ArtifactIntegrityError(
                f"artifact {digest} has an unknown format header", hint=INTEGRITY_HINT
            )
        if self._keyring is None:
            raise KeyNotFoundError(
                f"artifact {digest} is encrypted but the store has no keyring",
                hint="open the store with the workspace keyring",
            )
        return iter(EnvelopeReader(Replay(magic, f), self._keyring, name=f"artifact {digest}"))

    def get_bytes(self, digest: str) -> bytes:
        """Return a blob's verified plaintext; see :meth:`ArtifactStore.get_bytes`."""
        with self.open(digest) as reader:
            return reader.read()

    def get_file(self, digest: str, dest: str | os.PathLike[str]) -> None:
        """Write a blob to ``dest`` atomically; see :meth:`ArtifactStore.get_file`."""
        target = Path(dest)
        with self.open(digest) as reader:
            tmp = target.with_name(f".{target.name}.{os.urandom(16).hex()}.part")
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                with open(tmp, "xb") as out:
                    for chunk in reader.iter_chunks():
                        out.write(chunk)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(tmp, target)
            except BaseException as e:
                tmp.unlink(missing_ok=True)
                if isinstance(e, OSError):
                    raise StorageError(f"cannot write artifact {digest} to {target}: {e}") from e
                raise

    def verify(self, digest: str) -> BlobInfo:
        """Read a blob in full and check it; see :meth:`ArtifactStore.verify`."""
        with self.open(digest) as reader:
            size = sum(len(chunk) for chunk in reader.iter_chunks())
        return BlobInfo(digest, size)

    # -- inspection -----------------------------------------------------------------------

    def _exists(self, path: str) -> bool:
        try:
            self._fs.info(path)
        except FileNotFoundError:
            return False
        return True

    def exists(self, digest: str) -> bool:
        """Return whether the blob is stored; see :meth:`ArtifactStore.exists`."""
        path = self._object_path(_check_digest(digest))
        try:
            return self._exists(path)
        except OSError as e:
            raise StorageError(f"cannot check artifact {digest}: {e}") from e

    def delete(self, digest: str) -> bool:
        """Remove a blob; see :meth:`ArtifactStore.delete`."""
        path = self._object_path(_check_digest(digest))
        try:
            self._fs.rm_file(path)
        except FileNotFoundError:
            return False
        except OSError as e:
            raise StorageError(f"cannot delete artifact {digest}: {e}") from e
        return True

    def _list(self, path: str) -> list[dict[str, Any]]:
        try:
            entries: list[dict[str, Any]] = self._fs.ls(path, detail=True)
        except FileNotFoundError:
            return []
        except OSError as e:
            raise StorageError(f"cannot list {path} in {self._uri}: {e}") from e
        return sorted(entries, key=lambda info: str(info["name"]))

    def _modified(self, info: Mapping[str, Any]) -> datetime:
        for key in ("mtime", "LastModified", "last_modified", "created"):
            stamp = _as_utc(info.get(key))
            if stamp is not None:
                return stamp
        return _as_utc(self._fs.modified(info["name"])) or datetime.now(UTC)

    def iter_blobs(self) -> Iterator[BlobStat]:
        """Yield every stored blob in digest order; see :meth:`ArtifactStore.iter_blobs`."""
        for prefix in self._list(f"{self._root}/objects"):
            head = str(prefix["name"]).rstrip("/").rsplit("/", 1)[-1]
            if prefix.get("type") != "directory" or not _PREFIX_DIR.fullmatch(head):
                continue
            for info in self._list(str(prefix["name"])):
                rest = str(info["name"]).rsplit("/", 1)[-1]
                if info.get("type") == "file" and _REST_NAME.fullmatch(rest):
                    yield BlobStat(f"sha256:{head}{rest}", int(info["size"]), self._modified(info))

    def cleanup_tmp(self, older_than: timedelta) -> int:
        """Remove temp files of writes that were abandoned (e.g. the writer was killed).

        Args:
            older_than: Only files last modified at least this long ago are removed. Use a
                margin larger than the longest put, or live writes lose their temp file.

        Returns:
            The number of temp files removed.

        Raises:
            StorageError: The backend failed.
        """
        cutoff = datetime.now(UTC) - older_than
        removed = 0
        for info in self._list(f"{self._root}/tmp"):
            name = str(info["name"])
            if info.get("type") == "file" and name.endswith(".part"):
                if self._modified(info) > cutoff:
                    continue
                try:
                    self._fs.rm_file(name)
                except FileNotFoundError:
                    continue
                except OSError as e:
                    raise StorageError(f"cannot remove temp file {name}: {e}") from e
                removed += 1
        return removed


if TYPE_CHECKING:
    _: ArtifactStore = FsspecArtifactStore("memory://", None, encrypt=False)

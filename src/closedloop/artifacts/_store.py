"""An :class:`ArtifactStore` on any fsspec filesystem: local, ``memory://``, ``s3://`` and more.

Layout under the root::

    objects/<first 2 hex>/<other 62 hex>   one file per blob, named by its plaintext SHA-256
    tmp/<32 random hex>.part               writes in progress (or abandoned by a dead writer)

A blob file starts with an 8-byte magic that says its format, and readers handle every
format whatever the store's current ``encrypt`` setting:

- an encrypted envelope (:data:`closedloop.crypto.ENVELOPE_MAGIC`, see
  :mod:`closedloop.crypto._envelope`): authenticated by the workspace key (AES-256-GCM);
- signed plain content (:data:`SIGNED_MAGIC`), what a store with a keyring writes when
  encryption is off: ``magic, u8 key id length, key id, content, signature``, where the
  32-byte signature is an HMAC-SHA256, under a key derived from the workspace key, over the
  header and the blob's digest. The digest check binds the content to the digest, the
  signature binds the digest to the workspace key: authenticated, but readable on disk;
- plain content (:data:`PLAIN_MAGIC` followed by the raw bytes), what a store without a
  keyring writes. Its digest is checked, but anyone who can write the folder can plant one
  under a digest of their choice, so it is **not authenticated**: callers that deserialise
  code (models) open blobs with ``require_authenticated=True``, which refuses it.

Local stores keep their folders 0700 and their files 0600 (owner only).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import struct
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from closedloop._fs import make_private_dirs
from closedloop.artifacts._protocol import ArtifactStore, BlobInfo, BlobReader, BlobStat
from closedloop.artifacts._streams import (
    INTEGRITY_HINT,
    BlobStreamReader,
    Replay,
    read_chunks,
    verified,
)
from closedloop.crypto import (
    CHUNK_SIZE,
    ENVELOPE_MAGIC,
    SIGNATURE_SIZE,
    EnvelopeReader,
    EnvelopeWriter,
)
from closedloop.errors import (
    ArtifactIntegrityError,
    ConfigurationError,
    CryptoError,
    InvalidArgumentError,
    KeyNotFoundError,
    NotFoundError,
    StorageError,
    UnauthenticatedArtifactError,
)

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping

    from _typeshed import ReadableBuffer, SupportsRead

    from closedloop.crypto import Keyring

__all__ = ["PLAIN_MAGIC", "SIGNED_MAGIC", "FsspecArtifactStore"]

PLAIN_MAGIC = b"CLRAW\x00\x00\x01"
"""The first 8 bytes of an unencrypted, unauthenticated blob file (format version 1)."""

SIGNED_MAGIC = b"CLSIG\x00\x00\x01"
"""The first 8 bytes of an unencrypted blob file signed with the workspace key (version 1)."""

_SIGNATURE_CONTEXT = b"closedloop.blob-signature/1\x00"
_BINARY = getattr(os, "O_BINARY", 0)

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


def _signed_message(header: bytes, hex_digest: str) -> bytes:
    """What the signature of a signed blob covers: its header and its digest."""
    return _SIGNATURE_CONTEXT + header + f"sha256:{hex_digest}".encode("ascii")


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
        keyring: Wraps per-blob data keys and signs blobs; needed to write and read encrypted
            or signed blobs. Without it, new blobs are plain and unauthenticated.
        encrypt: Encrypt new blobs; when off, a store with a keyring signs them instead, so
            they stay authenticated. Reading handles every format either way.
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

    def _makedirs(self, path: str) -> None:
        if self._local:
            make_private_dirs(path)
        else:
            self._fs.makedirs(path, exist_ok=True)

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
            self._makedirs(f"{self._root}/tmp")
            with self._create(tmp) as sink:
                writer = None
                signed: tuple[str, bytes] | None = None
                if self._encrypt:
                    assert self._keyring is not None  # checked in __init__
                    writer = EnvelopeWriter(sink, self._keyring)
                elif self._keyring is not None:
                    key_id = self._keyring.active_key_id
                    raw_id = key_id.encode("ascii")
                    signed = (key_id, SIGNED_MAGIC + struct.pack(">B", len(raw_id)) + raw_id)
                    sink.write(signed[1])
                else:
                    sink.write(PLAIN_MAGIC)
                for chunk in chunks:
                    hasher.update(chunk)
                    size += memoryview(chunk).nbytes
                    (writer or sink).write(chunk)
                if writer is not None:
                    writer.close()
                if signed is not None:
                    assert self._keyring is not None
                    message = _signed_message(signed[1], hasher.hexdigest())
                    sink.write(self._keyring.sign(message, key_id=signed[0])[1])
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

    def _create(self, path: str) -> Any:
        """Open a new temp file for writing: owner-only (0600) on the local filesystem."""
        if not self._local:
            return self._fs.open(path, "wb")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _BINARY, 0o600)
        return os.fdopen(fd, "wb")

    def _commit(self, tmp: str, hex_digest: str) -> None:
        dest = self._object_path(hex_digest)
        if self._exists(dest) and self._keeps_existing(hex_digest):
            self._fs.rm_file(tmp)  # dedup: the same plaintext is already stored, intact
            return
        self._makedirs(dest.rsplit("/", 1)[0])
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

    def _keeps_existing(self, hex_digest: str) -> bool:
        """Whether the stored blob under this digest is intact and at least as trusted.

        A put of content that is already stored reads the stored blob in full. If it fails
        verification (corrupt, truncated, under a key this keyring lacks) or is plain while
        this store would authenticate the new one, the put replaces it (repair); otherwise
        the put stores nothing new (dedup).
        """
        digest = f"sha256:{hex_digest}"
        try:
            with self._open(digest, hex_digest, require_authenticated=False) as reader:
                for _ in reader.iter_chunks():
                    pass
                return reader.authenticated or self._keyring is None
        except (ArtifactIntegrityError, CryptoError, NotFoundError):
            return False

    # -- reading --------------------------------------------------------------------------

    def open(
        self, digest: str, *, require_authenticated: bool = False
    ) -> contextlib.AbstractContextManager[BlobReader]:
        """Open a blob for verified reads; see :meth:`ArtifactStore.open`."""
        return self._open(digest, _check_digest(digest), require_authenticated)

    @contextlib.contextmanager
    def _open(
        self, digest: str, hex_digest: str, require_authenticated: bool
    ) -> Iterator[BlobReader]:
        try:
            f = self._fs.open(self._object_path(hex_digest), "rb")
        except FileNotFoundError:
            raise NotFoundError(f"artifact {digest} not found in {self._uri}") from None
        except OSError as e:
            raise StorageError(f"cannot open artifact {digest}: {e}") from e
        try:
            chunks, authenticated = self._decode(f, digest, hex_digest)
            if require_authenticated and not authenticated:
                raise UnauthenticatedArtifactError(
                    f"artifact {digest} is plain, not authenticated by the workspace key",
                    hint="it may have been planted; store the content again from a trusted "
                    "source (a put repairs it), and run `closedloop verify`",
                )
            reader = BlobStreamReader(verified(chunks, digest, hex_digest), authenticated)
            try:
                yield reader
            finally:
                reader.close()
        finally:
            f.close()

    def _decode(
        self, f: SupportsRead[bytes], digest: str, hex_digest: str
    ) -> tuple[Iterator[bytes], bool]:
        """Read the format header; return the plaintext chunks and if they are authenticated."""
        try:
            magic = f.read(len(ENVELOPE_MAGIC))
        except OSError as e:
            raise StorageError(f"cannot read artifact {digest}: {e}") from e
        if magic == PLAIN_MAGIC:
            return read_chunks(f, digest), False
        if magic not in (ENVELOPE_MAGIC, SIGNED_MAGIC):
            raise ArtifactIntegrityError(
                f"artifact {digest} has an unknown format header", hint=INTEGRITY_HINT
            )
        if self._keyring is None:
            kind = "encrypted" if magic == ENVELOPE_MAGIC else "signed"
            raise KeyNotFoundError(
                f"artifact {digest} is {kind} but the store has no keyring",
                hint="open the store with the workspace keyring",
            )
        if magic == SIGNED_MAGIC:
            return self._signed_chunks(f, digest, hex_digest), True
        envelope = EnvelopeReader(Replay(magic, f), self._keyring, name=f"artifact {digest}")
        return iter(envelope), True

    def _signed_chunks(
        self, f: SupportsRead[bytes], digest: str, hex_digest: str
    ) -> Iterator[bytes]:
        """The content of a signed blob; its signature is checked when the end is reached."""
        assert self._keyring is not None
        try:
            raw_len = f.read(1)
            raw_id = f.read(raw_len[0]) if raw_len else b""
        except OSError as e:
            raise StorageError(f"cannot read artifact {digest}: {e}") from e
        if not raw_len or len(raw_id) != raw_len[0] or not raw_id.isascii():
            raise ArtifactIntegrityError(
                f"artifact {digest} has a corrupt signed header", hint=INTEGRITY_HINT
            )
        key_id = raw_id.decode("ascii")
        if key_id not in self._keyring.key_ids:
            raise KeyNotFoundError(
                f"artifact {digest} is signed with key {key_id!r}, which the keyring lacks",
                hint="use the keyring of the workspace that wrote the object",
            )
        header = SIGNED_MAGIC + raw_len + raw_id
        return self._held_back(f, digest, hex_digest, key_id, header)

    def _held_back(
        self, f: SupportsRead[bytes], digest: str, hex_digest: str, key_id: str, header: bytes
    ) -> Iterator[bytes]:
        # The last SIGNATURE_SIZE bytes of the file are the signature, not content.
        assert self._keyring is not None
        tail = b""
        for chunk in read_chunks(f, digest):
            data = tail + chunk
            tail = data[-SIGNATURE_SIZE:]
            if len(data) > SIGNATURE_SIZE:
                yield data[:-SIGNATURE_SIZE]
        try:
            if len(tail) != SIGNATURE_SIZE:
                raise CryptoError("signature missing")
            self._keyring.check_signature(key_id, _signed_message(header, hex_digest), tail)
        except CryptoError:
            raise ArtifactIntegrityError(
                f"artifact {digest} failed authentication (its signature does not match)",
                hint=INTEGRITY_HINT,
            ) from None

    def get_bytes(self, digest: str, *, require_authenticated: bool = False) -> bytes:
        """Return a blob's verified plaintext; see :meth:`ArtifactStore.get_bytes`."""
        with self.open(digest, require_authenticated=require_authenticated) as reader:
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

    def cleanup_tmp(self, older_than: timedelta, *, dry_run: bool = False) -> int:
        """Remove temp files of writes that were abandoned (e.g. the writer was killed).

        Args:
            older_than: Only files last modified at least this long ago are removed. Use a
                margin larger than the longest put, or live writes lose their temp file.
            dry_run: Remove nothing; only count what would be removed.

        Returns:
            The number of temp files removed (or, with ``dry_run``, that would be).

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
                if dry_run:
                    removed += 1
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

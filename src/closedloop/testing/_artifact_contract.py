"""A reusable pytest suite that every :class:`~closedloop.artifacts.ArtifactStore` must pass.

Subclass :class:`ArtifactStoreContract` in a ``Test*`` class and provide a ``store`` fixture::

    class TestMyStore(ArtifactStoreContract):
        @pytest.fixture
        def store(self, tmp_path: Path) -> ArtifactStore:
            return MyArtifactStore(tmp_path)
"""

from __future__ import annotations

import hashlib
import io
import random
import shutil
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from closedloop.artifacts import ArtifactStore, BlobInfo
from closedloop.errors import InvalidArgumentError, NotFoundError, UnauthenticatedArtifactError

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from _typeshed import WriteableBuffer

__all__ = ["ArtifactStoreContract"]

MIB = 1 << 20
_SIZES = [0, 1, 4096, MIB, int(3.5 * MIB)]
_BAD_DIGESTS = [
    "../etc/passwd",
    "sha256:../../../../etc/passwd",
    "sha256:" + "0" * 63,
    "sha256:" + "0" * 65,
    "sha256:" + "A" * 64,
    "sha256:" + "0" * 64 + "\n",
    "sha256:" + "0" * 62 + "/x",
    "sha1:" + "0" * 40,
    "0" * 64,
    "",
]
_UNKNOWN = "sha256:" + "0" * 64


def content(size: int, seed: int = 0) -> bytes:
    """Return ``size`` reproducible pseudo-random bytes."""
    return random.Random(seed).randbytes(size)


def digest_of(data: bytes) -> str:
    """Return the store digest of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


class _Trickle(io.RawIOBase):
    """A raw stream that returns at most ``step`` bytes per read, like a socket."""

    def __init__(self, data: bytes, step: int = 7777) -> None:
        super().__init__()
        self._view = memoryview(data)
        self._step = step

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer, /) -> int:
        with memoryview(buffer) as out:
            n = min(len(out), self._step, len(self._view))
            out[:n] = self._view[:n]
        self._view = self._view[n:]
        return n


class ArtifactStoreContract:
    """The behaviour every artifact store shares; subclasses provide the ``store`` fixture."""

    @pytest.fixture
    def store(self) -> ArtifactStore:
        """Return an empty store; every subclass must override this fixture."""
        pytest.fail("subclasses of ArtifactStoreContract must override the `store` fixture")

    # -- puts and reads -------------------------------------------------------------------

    @pytest.mark.parametrize("size", _SIZES)
    def test_put_bytes_roundtrip(self, store: ArtifactStore, size: int) -> None:
        data = content(size, seed=size)
        info = store.put_bytes(data)
        assert info == BlobInfo(digest_of(data), size)
        assert info.digest == "sha256:" + hashlib.sha256(data).hexdigest()
        assert store.get_bytes(info.digest) == data

    @pytest.mark.parametrize("size", [0, int(3.5 * MIB)])
    def test_put_file_roundtrip(self, store: ArtifactStore, tmp_path: Path, size: int) -> None:
        data = content(size, seed=1)
        src = tmp_path / "src.bin"
        src.write_bytes(data)
        info = store.put_file(src)
        assert info == BlobInfo(digest_of(data), size)
        dest = tmp_path / "out" / "dest.bin"
        store.get_file(info.digest, dest)
        assert dest.read_bytes() == data

    @pytest.mark.parametrize("size", [0, 1, int(3.5 * MIB)])
    @pytest.mark.parametrize("kind", ["bytesio", "trickle"])
    def test_put_stream_roundtrip(self, store: ArtifactStore, size: int, kind: str) -> None:
        data = content(size, seed=2)
        stream = io.BytesIO(data) if kind == "bytesio" else _Trickle(data)
        info = store.put_stream(stream)  # type: ignore[arg-type]
        assert info == BlobInfo(digest_of(data), size)
        assert store.get_bytes(info.digest) == data

    def test_open_reads_in_pieces(self, store: ArtifactStore) -> None:
        data = content(int(2.5 * MIB), seed=3)
        digest = store.put_bytes(data).digest
        with store.open(digest) as reader:
            assert reader.readable()
            parts = [reader.read(1), reader.read(1000), reader.read(MIB + 3)]
            parts.append(reader.read())
            assert reader.read() == b""
            assert reader.read(10) == b""
        assert b"".join(parts) == data

    def test_open_iter_chunks_and_copyfileobj(self, store: ArtifactStore) -> None:
        data = content(int(3.5 * MIB), seed=4)
        digest = store.put_bytes(data).digest
        with store.open(digest) as reader:
            head = reader.read(10)
            chunks = list(reader.iter_chunks())
        assert head + b"".join(chunks) == data
        assert max(len(c) for c in chunks) <= 4 * MIB
        out = io.BytesIO()
        with store.open(digest) as reader:
            shutil.copyfileobj(reader, out)
        assert out.getvalue() == data

    def test_get_file_replaces_dest_and_leaves_no_temp(
        self, store: ArtifactStore, tmp_path: Path
    ) -> None:
        data = content(MIB + 5, seed=5)
        digest = store.put_bytes(data).digest
        dest = tmp_path / "dest.bin"
        dest.write_bytes(b"old content")
        store.get_file(digest, dest)
        assert dest.read_bytes() == data
        assert [p.name for p in tmp_path.iterdir()] == ["dest.bin"]

    def test_verify(self, store: ArtifactStore) -> None:
        data = content(MIB * 2 + 1, seed=6)
        info = store.put_bytes(data)
        assert store.verify(info.digest) == BlobInfo(digest_of(data), len(data))

    # -- dedup and listing ----------------------------------------------------------------

    def test_dedup(self, store: ArtifactStore, tmp_path: Path) -> None:
        data = content(MIB + 17, seed=7)
        first = store.put_bytes(data)
        assert store.put_bytes(data) == first
        assert store.put_stream(io.BytesIO(data)) == first
        src = tmp_path / "again.bin"
        src.write_bytes(data)
        assert store.put_file(src) == first
        assert [b.digest for b in store.iter_blobs()] == [first.digest]
        assert store.get_bytes(first.digest) == data

    def test_iter_blobs(self, store: ArtifactStore) -> None:
        assert list(store.iter_blobs()) == []
        infos = [store.put_bytes(content(100 * i, seed=i)) for i in range(4)]
        stats = list(store.iter_blobs())
        assert [s.digest for s in stats] == sorted(i.digest for i in infos)
        sizes = {i.digest: i.size for i in infos}
        now = datetime.now(UTC)
        for stat in stats:
            assert stat.stored_size >= sizes[stat.digest]
            assert stat.modified.tzinfo is not None
            assert stat.modified.utcoffset() == timedelta(0)
            assert abs(now - stat.modified) < timedelta(minutes=5)

    def test_exists_and_delete(self, store: ArtifactStore) -> None:
        a, b = store.put_bytes(b"alpha"), store.put_bytes(b"beta")
        assert store.exists(a.digest)
        assert store.exists(b.digest)
        assert store.delete(a.digest) is True
        assert not store.exists(a.digest)
        assert store.delete(a.digest) is False
        assert [s.digest for s in store.iter_blobs()] == [b.digest]
        with pytest.raises(NotFoundError):
            store.get_bytes(a.digest)
        assert store.put_bytes(b"alpha") == a
        assert store.get_bytes(a.digest) == b"alpha"

    # -- errors ---------------------------------------------------------------------------

    def test_unknown_digest(self, store: ArtifactStore, tmp_path: Path) -> None:
        assert not store.exists(_UNKNOWN)
        assert store.delete(_UNKNOWN) is False
        reads: list[Callable[[], object]] = [
            lambda: store.get_bytes(_UNKNOWN),
            lambda: store.verify(_UNKNOWN),
            lambda: store.get_file(_UNKNOWN, tmp_path / "never.bin"),
        ]
        for read in reads:
            with pytest.raises(NotFoundError, match=_UNKNOWN):
                read()
        with pytest.raises(NotFoundError, match=_UNKNOWN), store.open(_UNKNOWN):
            pass
        assert list(tmp_path.iterdir()) == []

    @pytest.mark.parametrize("bad", _BAD_DIGESTS)
    def test_invalid_digest(self, store: ArtifactStore, tmp_path: Path, bad: str) -> None:
        calls: list[Callable[[], object]] = [
            lambda: store.exists(bad),
            lambda: store.delete(bad),
            lambda: store.get_bytes(bad),
            lambda: store.verify(bad),
            lambda: store.open(bad),
            lambda: store.get_file(bad, tmp_path / "x.bin"),
        ]
        for call in calls:
            with pytest.raises(InvalidArgumentError):
                call()
        assert list(tmp_path.iterdir()) == []

    # -- authentication ---------------------------------------------------------------------

    def test_require_authenticated_agrees_with_the_reader(self, store: ArtifactStore) -> None:
        data = content(4096, seed=7)
        digest = store.put_bytes(data).digest
        with store.open(digest) as reader:
            assert reader.read() == data
            authenticated = reader.authenticated
        if authenticated:
            assert store.get_bytes(digest, require_authenticated=True) == data
            with store.open(digest, require_authenticated=True) as reader:
                assert reader.read() == data
        else:  # a store without a key can only check the digest: models must not load
            with pytest.raises(UnauthenticatedArtifactError):
                store.get_bytes(digest, require_authenticated=True)
            with (
                pytest.raises(UnauthenticatedArtifactError),
                store.open(digest, require_authenticated=True) as reader,
            ):
                reader.read()

    def test_storing_the_same_content_again_keeps_one_readable_blob(
        self, store: ArtifactStore
    ) -> None:
        data = content(MIB + 17, seed=8)
        first = store.put_bytes(data)
        assert store.put_bytes(data) == first
        assert store.get_bytes(first.digest) == data
        assert [b.digest for b in store.iter_blobs()].count(first.digest) == 1

    def test_uri(self, store: ArtifactStore) -> None:
        assert isinstance(store.uri, str)
        assert store.uri

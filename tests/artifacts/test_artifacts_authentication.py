"""Authentication of blobs (signed and plain formats), repair on put, owner-only files."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import struct
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from closedloop.artifacts import FsspecArtifactStore
from closedloop.artifacts._store import PLAIN_MAGIC, SIGNED_MAGIC
from closedloop.crypto import ENVELOPE_MAGIC, Keyring
from closedloop.errors import (
    ArtifactIntegrityError,
    KeyNotFoundError,
    UnauthenticatedArtifactError,
)
from closedloop.testing._artifact_contract import content, digest_of

MIB = 1 << 20
posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")


def object_file(root: Path, digest: str) -> Path:
    hex_digest = digest.removeprefix("sha256:")
    return root / "objects" / hex_digest[:2] / hex_digest[2:]


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def plant_plain(root: Path, data: bytes) -> str:
    """Write ``data`` as a plain blob, as someone with write access but no key could."""
    digest = digest_of(data)
    path = object_file(root, digest)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(PLAIN_MAGIC + data)
    return digest


# -- which blobs are authenticated -------------------------------------------------------------


@pytest.mark.parametrize(
    ("encrypt", "magic"), [(True, ENVELOPE_MAGIC), (False, SIGNED_MAGIC)], ids=["enc", "signed"]
)
def test_a_store_with_a_keyring_writes_authenticated_blobs(
    tmp_path: Path, keyring: Keyring, encrypt: bool, magic: bytes
) -> None:
    store = FsspecArtifactStore(str(tmp_path), keyring, encrypt=encrypt)
    data = content(int(2.5 * MIB), seed=1)
    digest = store.put_bytes(data).digest
    assert object_file(tmp_path, digest).read_bytes().startswith(magic)
    with store.open(digest, require_authenticated=True) as reader:
        assert reader.authenticated is True
        assert reader.read() == data
    assert store.get_bytes(digest, require_authenticated=True) == data


def test_signed_blob_layout(tmp_path: Path, keyring: Keyring) -> None:
    store = FsspecArtifactStore(str(tmp_path), keyring, encrypt=False)
    data = b"readable on disk, but signed"
    digest = store.put_bytes(data).digest
    raw = object_file(tmp_path, digest).read_bytes()
    key_id = keyring.active_key_id.encode()
    header = SIGNED_MAGIC + struct.pack(">B", len(key_id)) + key_id
    assert raw[: len(header)] == header
    assert raw[len(header) : -32] == data
    assert len(raw) == len(header) + len(data) + 32


def test_a_plain_blob_is_refused_when_authentication_is_required(
    tmp_path: Path, keyring: Keyring
) -> None:
    digest = plant_plain(tmp_path, b"cos\nsystem\n(S'echo pwned'\ntR.")
    store = FsspecArtifactStore(str(tmp_path), keyring)
    assert store.get_bytes(digest).startswith(b"cos")  # data reads still work
    with store.open(digest) as reader:
        assert reader.authenticated is False
    with pytest.raises(UnauthenticatedArtifactError, match=digest) as info:
        store.get_bytes(digest, require_authenticated=True)
    assert info.value.hint is not None
    assert isinstance(info.value, ArtifactIntegrityError)
    entered = False
    with (
        pytest.raises(UnauthenticatedArtifactError),
        store.open(digest, require_authenticated=True),
    ):
        entered = True  # refused on entering, before any content is read
    assert not entered


def test_a_keyless_store_writes_plain_unauthenticated_blobs(tmp_path: Path) -> None:
    store = FsspecArtifactStore(str(tmp_path), None, encrypt=False)
    digest = store.put_bytes(b"plain").digest
    assert object_file(tmp_path, digest).read_bytes() == PLAIN_MAGIC + b"plain"
    with pytest.raises(UnauthenticatedArtifactError):
        store.get_bytes(digest, require_authenticated=True)


def test_a_forged_signature_is_refused(tmp_path: Path, keyring: Keyring) -> None:
    store = FsspecArtifactStore(str(tmp_path), keyring, encrypt=False)
    data = b"the attacker's payload"
    digest = digest_of(data)
    key_id = keyring.active_key_id.encode()
    forged = SIGNED_MAGIC + struct.pack(">B", len(key_id)) + key_id + data + os.urandom(32)
    path = object_file(tmp_path, digest)
    path.parent.mkdir(parents=True)
    path.write_bytes(forged)
    with pytest.raises(ArtifactIntegrityError, match="failed authentication"):
        store.get_bytes(digest, require_authenticated=True)


def test_a_signature_does_not_carry_over_to_another_digest(
    tmp_path: Path, keyring: Keyring
) -> None:
    store = FsspecArtifactStore(str(tmp_path), keyring, encrypt=False)
    signed = store.put_bytes(b"honest content").digest
    raw = object_file(tmp_path, signed).read_bytes()
    evil = b"evil content!!"
    key_id = keyring.active_key_id.encode()
    header_len = len(SIGNED_MAGIC) + 1 + len(key_id)
    spliced = raw[:header_len] + evil + raw[-32:]  # the honest signature, other content
    path = object_file(tmp_path, digest_of(evil))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(spliced)
    with pytest.raises(ArtifactIntegrityError, match="failed authentication"):
        store.get_bytes(digest_of(evil))


def test_a_signed_blob_needs_its_key(tmp_path: Path, keyring: Keyring) -> None:
    digest = FsspecArtifactStore(str(tmp_path), keyring, encrypt=False).put_bytes(b"s").digest
    other = FsspecArtifactStore(str(tmp_path), Keyring.generate(), encrypt=False)
    with pytest.raises(KeyNotFoundError, match=keyring.active_key_id):
        other.get_bytes(digest)
    keyless = FsspecArtifactStore(str(tmp_path), None, encrypt=False)
    with pytest.raises(KeyNotFoundError, match="no keyring"):
        keyless.get_bytes(digest)


# -- a put repairs a broken blob, and dedups an intact one ------------------------------------


@pytest.mark.parametrize("form", ["encrypted", "signed", "plain"])
def test_put_repairs_a_corrupt_blob(tmp_path: Path, keyring: Keyring, form: str) -> None:
    ring = None if form == "plain" else keyring
    store = FsspecArtifactStore(str(tmp_path), ring, encrypt=form == "encrypted")
    data = content(int(1.5 * MIB), seed=2)
    digest = store.put_bytes(data).digest
    path = object_file(tmp_path, digest)
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(ArtifactIntegrityError):
        store.verify(digest)

    assert store.put_bytes(data).digest == digest

    assert store.get_bytes(digest) == data
    assert store.verify(digest).size == len(data)
    assert list((tmp_path / "tmp").iterdir()) == []


def test_put_keeps_an_intact_blob(tmp_path: Path, keyring: Keyring) -> None:
    store = FsspecArtifactStore(str(tmp_path), keyring)
    data = content(MIB + 3, seed=3)
    digest = store.put_bytes(data).digest
    before = object_file(tmp_path, digest).read_bytes()
    store.put_stream(io.BytesIO(data))
    # A fresh envelope would differ (new data key and nonces): the stored one was kept.
    assert object_file(tmp_path, digest).read_bytes() == before


def test_put_replaces_a_planted_plain_blob_with_an_authenticated_one(
    tmp_path: Path, keyring: Keyring
) -> None:
    data = b"content first stored plain"
    digest = plant_plain(tmp_path, data)
    store = FsspecArtifactStore(str(tmp_path), keyring)
    store.put_bytes(data)
    assert object_file(tmp_path, digest).read_bytes().startswith(ENVELOPE_MAGIC)
    assert store.get_bytes(digest, require_authenticated=True) == data


def test_put_replaces_a_blob_under_a_key_the_keyring_lacks(
    tmp_path: Path, keyring: Keyring
) -> None:
    digest = FsspecArtifactStore(str(tmp_path), Keyring.generate()).put_bytes(b"x").digest
    store = FsspecArtifactStore(str(tmp_path), keyring)
    with pytest.raises(KeyNotFoundError):
        store.get_bytes(digest)
    store.put_bytes(b"x")
    assert store.get_bytes(digest) == b"x"


def test_put_of_a_truncated_blob_repairs_it(tmp_path: Path, keyring: Keyring) -> None:
    store = FsspecArtifactStore(str(tmp_path), keyring)
    data = content(3 * MIB, seed=4)
    digest = store.put_bytes(data).digest
    path = object_file(tmp_path, digest)
    path.write_bytes(path.read_bytes()[: MIB // 2])
    src = tmp_path / "again.bin"
    src.write_bytes(data)
    store.put_file(src)
    assert hashlib.sha256(store.get_bytes(digest)).hexdigest() == digest[7:]


# -- temp files ---------------------------------------------------------------------------------


def test_cleanup_tmp_dry_run_counts_without_removing(tmp_path: Path, keyring: Keyring) -> None:
    store = FsspecArtifactStore(str(tmp_path), keyring)
    store.put_bytes(b"x")
    (tmp_path / "tmp" / "abandoned.part").write_bytes(b"partial")
    assert store.cleanup_tmp(timedelta(0), dry_run=True) == 1
    assert (tmp_path / "tmp" / "abandoned.part").exists()
    assert store.cleanup_tmp(timedelta(hours=1), dry_run=True) == 0
    assert store.cleanup_tmp(timedelta(0)) == 1
    assert not (tmp_path / "tmp" / "abandoned.part").exists()


# -- owner-only files ---------------------------------------------------------------------------


class _Watching(io.RawIOBase):
    """A stream that records the mode of the store's temp file while the put is writing it."""

    def __init__(self, tmp_dir: Path, data: bytes) -> None:
        super().__init__()
        self._tmp_dir, self._data, self.modes = tmp_dir, io.BytesIO(data), list[int]()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        self.modes.extend(_mode(p) for p in self._tmp_dir.glob("*.part"))
        return self._data.readinto(buffer)


@posix_only
@pytest.mark.parametrize("encrypt", [True, False], ids=["encrypted", "signed"])
def test_local_store_is_owner_only(tmp_path: Path, keyring: Keyring, encrypt: bool) -> None:
    root = tmp_path / "new" / "store"
    old = os.umask(0o022)
    try:
        store = FsspecArtifactStore(str(root), keyring, encrypt=encrypt)
        watching = _Watching(root / "tmp", content(2 * MIB, seed=5))
        digest = store.put_stream(watching).digest  # type: ignore[arg-type]
    finally:
        os.umask(old)
    blob = object_file(root, digest)
    for folder in (root.parent, root, root / "tmp", root / "objects", blob.parent):
        assert _mode(folder) == 0o700, folder
    assert _mode(blob) == 0o600
    assert watching.modes
    assert set(watching.modes) == {0o600}

from __future__ import annotations

import hashlib
import io
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import tracemalloc
from datetime import timedelta
from pathlib import Path

import pytest

import closedloop.artifacts as artifacts
from closedloop.artifacts import BlobInfo, FsspecArtifactStore, get_artifact_store
from closedloop.artifacts._store import PLAIN_MAGIC, SIGNED_MAGIC
from closedloop.crypto import ENVELOPE_MAGIC, EnvelopeReader, Keyring
from closedloop.errors import (
    ArtifactIntegrityError,
    ConfigurationError,
    KeyNotFoundError,
    UnsupportedBackendError,
)
from closedloop.testing._artifact_contract import ArtifactStoreContract, content, digest_of

MIB = 1 << 20
HELPER = Path(__file__).with_name("kill_writer_helper.py")


def object_file(root: Path, digest: str) -> Path:
    hex_digest = digest.removeprefix("sha256:")
    return root / "objects" / hex_digest[:2] / hex_digest[2:]


# -- the contract, on three stores ----------------------------------------------------------


class TestLocalEncrypted(ArtifactStoreContract):
    @pytest.fixture
    def store(self, tmp_path_factory: pytest.TempPathFactory) -> FsspecArtifactStore:
        return FsspecArtifactStore(str(tmp_path_factory.mktemp("store")), Keyring.generate())


class TestLocalPlain(ArtifactStoreContract):
    @pytest.fixture
    def store(self, tmp_path_factory: pytest.TempPathFactory) -> FsspecArtifactStore:
        root = tmp_path_factory.mktemp("store")
        return FsspecArtifactStore(root.as_uri(), None, encrypt=False)


class TestMemory(ArtifactStoreContract):
    @pytest.fixture
    def store(self, memory_store: FsspecArtifactStore) -> FsspecArtifactStore:
        return memory_store


# -- integrity -------------------------------------------------------------------------------


def _flip(raw: bytes, at: int) -> bytes:
    return raw[:at] + bytes([raw[at] ^ 0x01]) + raw[at + 1 :]


TAMPERS = {
    "flip-middle": lambda raw: _flip(raw, len(raw) // 2),
    "flip-last": lambda raw: _flip(raw, len(raw) - 1),
    "flip-first-content": lambda raw: _flip(raw, len(PLAIN_MAGIC) + 200),
    "truncate-1": lambda raw: raw[:-1],
    "truncate-half": lambda raw: raw[: len(raw) // 2],
    "append-1": lambda raw: raw + b"\x00",
    "magic": lambda raw: b"X" + raw[1:],
}


@pytest.mark.parametrize("form", ["encrypted", "signed", "plain"])
@pytest.mark.parametrize("tamper", list(TAMPERS))
def test_tampered_blob_is_refused(tmp_path: Path, keyring: Keyring, form: str, tamper: str) -> None:
    root = tmp_path / "store"
    ring = None if form == "plain" else keyring
    store = FsspecArtifactStore(str(root), ring, encrypt=form == "encrypted")
    data = content(int(2.5 * MIB), seed=11)
    digest = store.put_bytes(data).digest
    path = object_file(root, digest)
    path.write_bytes(TAMPERS[tamper](path.read_bytes()))

    with pytest.raises(ArtifactIntegrityError, match=digest):
        store.get_bytes(digest)
    with pytest.raises(ArtifactIntegrityError, match=digest):
        store.verify(digest)
    with pytest.raises(ArtifactIntegrityError, match=digest), store.open(digest) as reader:
        reader.read()
    dest = tmp_path / "dest.bin"
    with pytest.raises(ArtifactIntegrityError, match=digest):
        store.get_file(digest, dest)
    assert not dest.exists()
    dest.write_bytes(b"keep me")
    with pytest.raises(ArtifactIntegrityError, match=digest):
        store.get_file(digest, dest)
    assert dest.read_bytes() == b"keep me"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dest.bin", "store"]


@pytest.mark.parametrize("encrypt", [True, False], ids=["encrypted", "plain"])
def test_blob_stored_under_another_digest_is_refused(
    tmp_path: Path, keyring: Keyring, encrypt: bool
) -> None:
    store = FsspecArtifactStore(str(tmp_path), keyring, encrypt=encrypt)
    a, b = store.put_bytes(b"content a"), store.put_bytes(b"content b")
    shutil.copyfile(object_file(tmp_path, a.digest), object_file(tmp_path, b.digest))
    assert store.get_bytes(a.digest) == b"content a"
    with pytest.raises(ArtifactIntegrityError, match=b.digest):
        store.get_bytes(b.digest)


def test_plaintext_is_not_on_disk(tmp_path: Path, keyring: Keyring) -> None:
    marker = b"CLOSEDLOOP-SECRET-MARKER-"
    data = marker * 4000  # 100 KB
    encrypted = FsspecArtifactStore(str(tmp_path / "enc"), keyring)
    digest = encrypted.put_bytes(data).digest
    raw = object_file(tmp_path / "enc", digest).read_bytes()
    assert raw.startswith(ENVELOPE_MAGIC)
    assert marker not in raw
    assert marker[:12] not in raw
    # Control: the same check does see the marker in a plain store.
    plain = FsspecArtifactStore(str(tmp_path / "plain"), None, encrypt=False)
    plain.put_bytes(data)
    raw = object_file(tmp_path / "plain", digest).read_bytes()
    assert raw == PLAIN_MAGIC + data


# -- bounded memory, killed writers, concurrency -------------------------------------------


def test_memory_stays_bounded_for_64_mib(tmp_path: Path, keyring: Keyring) -> None:
    src, hasher = tmp_path / "big.bin", hashlib.sha256()
    with src.open("wb") as f:
        for _ in range(64):
            block = os.urandom(MIB)
            hasher.update(block)
            f.write(block)
            del block
    digest = "sha256:" + hasher.hexdigest()
    store = FsspecArtifactStore(str(tmp_path / "store"), keyring)
    tracemalloc.start()
    try:
        assert store.put_file(src) == BlobInfo(digest, 64 * MIB)
        store.get_file(digest, tmp_path / "back.bin")
        assert store.verify(digest) == BlobInfo(digest, 64 * MIB)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 8 * MIB, f"peak traced memory {peak / MIB:.1f} MiB"
    back_hash = hashlib.sha256()
    with (tmp_path / "back.bin").open("rb") as f:
        while block := f.read(MIB):
            back_hash.update(block)
    assert back_hash.hexdigest() == hasher.hexdigest()


class _Blocks(io.RawIOBase):
    """The same content as kill_writer_helper.StallingStream, without the stall."""

    def __init__(self, total: int) -> None:
        super().__init__()
        self.total, self.i = total, 0

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if self.i >= self.total:
            return b""
        self.i += 1
        return hashlib.sha256(str(self.i - 1).encode()).digest() * (MIB // 32)


@pytest.mark.skipif(sys.platform == "win32", reason="needs SIGKILL")
def test_killed_writer_leaves_no_visible_blob(tmp_path: Path) -> None:
    keyring_path, root, total = tmp_path / "keys.json", tmp_path / "store", 16
    Keyring.create(keyring_path)
    expected = hashlib.sha256()
    for block in iter(_Blocks(total).read, b""):
        expected.update(block)
    digest = "sha256:" + expected.hexdigest()

    cmd = [sys.executable, str(HELPER), str(root), str(keyring_path), str(total), "8"]
    with subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as proc:
        try:
            deadline = time.monotonic() + 30
            while True:
                parts = list((root / "tmp").glob("*.part")) if (root / "tmp").exists() else []
                if parts and parts[0].stat().st_size > 4 * MIB:
                    break
                if proc.poll() is not None:
                    assert proc.stderr is not None
                    pytest.fail(f"writer exited early: {proc.stderr.read().decode()}")
                if time.monotonic() > deadline:
                    pytest.fail("the writer's temp file never grew past 4 MiB")
                time.sleep(0.01)
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL

    store = FsspecArtifactStore(str(root), Keyring.load(keyring_path))
    assert list(store.iter_blobs()) == []
    assert not store.exists(digest)
    assert len(list((root / "tmp").glob("*.part"))) == 1

    assert store.put_stream(_Blocks(total)) == BlobInfo(digest, total * MIB)  # type: ignore[arg-type]
    assert store.verify(digest) == BlobInfo(digest, total * MIB)
    assert [b.digest for b in store.iter_blobs()] == [digest]
    assert store.cleanup_tmp(timedelta(0)) == 1
    assert list((root / "tmp").glob("*.part")) == []


def test_cleanup_tmp_respects_age(tmp_path: Path, keyring: Keyring) -> None:
    store = FsspecArtifactStore(str(tmp_path), keyring)
    store.put_bytes(b"x")  # creates tmp/
    (tmp_path / "tmp" / "abandoned.part").write_bytes(b"partial")
    (tmp_path / "tmp" / "notes.txt").write_bytes(b"not ours")
    assert store.cleanup_tmp(timedelta(hours=1)) == 0
    assert store.cleanup_tmp(timedelta(0)) == 1
    assert sorted(p.name for p in (tmp_path / "tmp").iterdir()) == ["notes.txt"]
    assert len(list(store.iter_blobs())) == 1


def test_iter_blobs_ignores_foreign_files(tmp_path: Path, keyring: Keyring) -> None:
    store = FsspecArtifactStore(str(tmp_path), keyring)
    info = store.put_bytes(b"real")
    (tmp_path / "objects" / "zz").mkdir()
    (tmp_path / "objects" / "zz" / ("0" * 62)).write_bytes(b"x")
    (tmp_path / "objects" / info.digest[7:9] / "short").write_bytes(b"x")
    (tmp_path / "objects" / "README").write_bytes(b"x")
    (tmp_path / "tmp" / ("a" * 32 + ".part")).write_bytes(b"x")
    assert [b.digest for b in store.iter_blobs()] == [info.digest]


@pytest.mark.parametrize("encrypt", [True, False], ids=["encrypted", "plain"])
def test_concurrent_puts_of_same_content(tmp_path: Path, keyring: Keyring, encrypt: bool) -> None:
    data = content(int(2.5 * MIB), seed=21)
    barrier = threading.Barrier(4)
    results: list[BlobInfo] = []
    errors: list[BaseException] = []

    def put() -> None:
        store = FsspecArtifactStore(str(tmp_path), keyring, encrypt=encrypt)
        barrier.wait()
        try:
            results.append(store.put_bytes(data))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=put) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert results == [BlobInfo(digest_of(data), len(data))] * 4
    store = FsspecArtifactStore(str(tmp_path), keyring)
    assert [b.digest for b in store.iter_blobs()] == [digest_of(data)]
    assert list((tmp_path / "tmp").iterdir()) == []
    assert store.get_bytes(digest_of(data)) == data


# -- keys and formats ------------------------------------------------------------------------


def test_reader_without_the_key(tmp_path: Path, keyring: Keyring) -> None:
    digest = FsspecArtifactStore(str(tmp_path), keyring).put_bytes(b"secret").digest
    other = FsspecArtifactStore(str(tmp_path), Keyring.generate())
    assert other.exists(digest)
    with pytest.raises(KeyNotFoundError, match=keyring.active_key_id) as info:
        other.get_bytes(digest)
    assert digest in info.value.message
    keyless = FsspecArtifactStore(str(tmp_path), None, encrypt=False)
    with pytest.raises(KeyNotFoundError, match=digest):
        keyless.get_bytes(digest)


def test_rotation_keeps_old_blobs_readable(tmp_path: Path) -> None:
    keyring_path = tmp_path / "keys.json"
    ring = Keyring.create(keyring_path)
    store = FsspecArtifactStore(str(tmp_path / "store"), ring)
    old_id = ring.active_key_id
    old = store.put_bytes(b"written before rotation")
    new_id = ring.rotate()
    new = store.put_bytes(b"written after rotation")

    def key_id_of(digest: str) -> str:
        with object_file(tmp_path / "store", digest).open("rb") as f:
            return EnvelopeReader(f, ring, name=digest).key_id

    assert key_id_of(old.digest) == old_id
    assert key_id_of(new.digest) == new_id != old_id
    reloaded = FsspecArtifactStore(str(tmp_path / "store"), Keyring.load(keyring_path))
    assert reloaded.get_bytes(old.digest) == b"written before rotation"
    assert reloaded.get_bytes(new.digest) == b"written after rotation"


def test_signed_and_encrypted_blobs_mix(tmp_path: Path, keyring: Keyring) -> None:
    signed = FsspecArtifactStore(str(tmp_path), keyring, encrypt=False)
    encrypted = FsspecArtifactStore(str(tmp_path), keyring)
    a = signed.put_bytes(b"stored signed")
    b = encrypted.put_bytes(b"stored encrypted")
    assert encrypted.get_bytes(a.digest) == b"stored signed"
    assert signed.get_bytes(b.digest) == b"stored encrypted"
    # Dedup holds across authenticated formats: the first stored form stays.
    assert signed.put_bytes(b"stored encrypted") == b
    assert object_file(tmp_path, b.digest).read_bytes().startswith(ENVELOPE_MAGIC)
    assert encrypted.put_bytes(b"stored signed") == a
    assert object_file(tmp_path, a.digest).read_bytes().startswith(SIGNED_MAGIC)


def test_encrypt_needs_a_keyring(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="keyring"):
        FsspecArtifactStore(str(tmp_path), None)


def test_put_file_missing(tmp_path: Path, keyring: Keyring) -> None:
    from closedloop.errors import NotFoundError

    store = FsspecArtifactStore(str(tmp_path / "store"), keyring)
    with pytest.raises(NotFoundError, match=r"nope\.bin"):
        store.put_file(tmp_path / "nope.bin")


# -- registry and public API -----------------------------------------------------------------


def test_get_artifact_store(tmp_path: Path, keyring: Keyring, memory_uri: str) -> None:
    local = get_artifact_store(str(tmp_path), keyring=keyring)
    assert isinstance(local, FsspecArtifactStore)
    assert local.uri == tmp_path.as_uri()
    assert get_artifact_store(tmp_path.as_uri(), keyring=keyring).uri == tmp_path.as_uri()
    memory = get_artifact_store(memory_uri, keyring=None, encrypt=False)
    assert memory.uri.startswith("memory://")
    assert memory.get_bytes(memory.put_bytes(b"m").digest) == b"m"
    assert get_artifact_store(local, keyring=None) is local
    with pytest.raises(UnsupportedBackendError, match="nosuch") as info:
        get_artifact_store("nosuch://x", keyring=keyring)
    assert info.value.hint is not None
    assert "file://" in info.value.hint
    assert "memory://" in info.value.hint
    with pytest.raises(ConfigurationError):
        get_artifact_store(str(tmp_path), keyring=None)


def test_public_names() -> None:
    public = {n for n in vars(artifacts) if not n.startswith("_")} - {"annotations"}
    assert set(artifacts.__all__) == public

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import stat
import sys
from pathlib import Path

import pytest

from closedloop.crypto import Keyring, key_id_for
from closedloop.errors import AlreadyExistsError, CryptoError, KeyNotFoundError, NotFoundError

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file modes")


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@posix_only
def test_create_writes_owner_only_file(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "dir" / "keys.json"
    ring = Keyring.create(path)
    assert _mode(path) == 0o600
    doc = json.loads(path.read_text())
    assert doc["version"] == 1
    assert doc["active"] == ring.active_key_id
    assert list(doc["keys"]) == ring.key_ids == [ring.active_key_id]
    key = base64.b64decode(doc["keys"][ring.active_key_id])
    assert len(key) == 32
    assert ring.active_key_id == "k" + hashlib.sha256(key).hexdigest()[:12]
    assert re.fullmatch(r"k[0-9a-f]{12}", ring.active_key_id)
    assert ring.path == path


@posix_only
def test_create_is_0600_even_with_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        Keyring.create(tmp_path / "keys.json")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "keys.json") == 0o600


def test_create_refuses_to_overwrite(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    Keyring.create(path)
    before = path.read_bytes()
    with pytest.raises(AlreadyExistsError, match="already exists"):
        Keyring.create(path)
    assert path.read_bytes() == before


def test_load_roundtrip(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    created = Keyring.create(path)
    key_id, wrapped = created.wrap(b"d" * 32)
    loaded = Keyring.load(path)
    assert loaded.active_key_id == created.active_key_id
    assert loaded.key_ids == created.key_ids
    assert loaded.unwrap(key_id, wrapped) == b"d" * 32


@posix_only
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_load_refuses_file_readable_by_others(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "keys.json"
    Keyring.create(path)
    path.chmod(mode)
    with pytest.raises(CryptoError) as info:
        Keyring.load(path)
    assert str(path) in info.value.message
    assert info.value.hint == f"chmod 600 {path}"
    assert "chmod 600" in str(info.value)


def test_load_missing(tmp_path: Path) -> None:
    with pytest.raises(NotFoundError, match="not found") as info:
        Keyring.load(tmp_path / "nope.json")
    assert info.value.hint


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"version": 2, "active": "k", "keys": {}}', "unsupported version"),
        ('{"version": 1, "active": "k", "keys": {}}', "non-empty"),
        ('{"version": 1, "active": "kx", "keys": {"kx": "!!!"}}', "base64"),
        ('{"version": 1, "active": "kx", "keys": {"kx": "AAAA"}}', "expected 32"),
    ],
)
def test_load_malformed(tmp_path: Path, text: str, problem: str) -> None:
    path = tmp_path / "keys.json"
    path.write_text(text)
    path.chmod(0o600)
    with pytest.raises(CryptoError, match=problem) as info:
        Keyring.load(path)
    assert str(path) in info.value.message


def test_load_detects_key_id_mismatch(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    key = base64.b64encode(os.urandom(32)).decode()
    path.write_text(
        json.dumps({"version": 1, "active": "k000000000000", "keys": {"k000000000000": key}})
    )
    path.chmod(0o600)
    with pytest.raises(CryptoError, match="does not match"):
        Keyring.load(path)


def test_wrap_unwrap_roundtrip() -> None:
    ring = Keyring.generate()
    data_key = os.urandom(32)
    key_id, wrapped = ring.wrap(data_key)
    assert key_id == ring.active_key_id
    assert data_key not in wrapped
    assert len(wrapped) == 12 + 32 + 16
    assert ring.unwrap(key_id, wrapped) == data_key
    assert ring.wrap(data_key)[1] != wrapped  # fresh nonce every time


def test_unwrap_unknown_key_id() -> None:
    ring = Keyring.generate()
    _, wrapped = Keyring.generate().wrap(b"x" * 32)
    with pytest.raises(KeyNotFoundError, match="k0123456789ab"):
        ring.unwrap("k0123456789ab", wrapped)


def test_unwrap_tampered_is_crypto_error_not_key_error() -> None:
    ring = Keyring.generate()
    key_id, wrapped = ring.wrap(b"x" * 32)
    for i in (0, 20, len(wrapped) - 1):
        bad = bytearray(wrapped)
        bad[i] ^= 1
        with pytest.raises(CryptoError, match="failed authentication") as info:
            ring.unwrap(key_id, bytes(bad))
        assert not isinstance(info.value, KeyNotFoundError)
    with pytest.raises(CryptoError, match="too short"):
        ring.unwrap(key_id, wrapped[:20])


def test_wrapped_key_is_bound_to_its_key_id() -> None:
    ring = Keyring.generate()
    old_id, wrapped = ring.wrap(b"x" * 32)
    ring.rotate()
    # Relabelling the wrapped key with the other id fails authentication.
    with pytest.raises(CryptoError, match="failed authentication"):
        ring.unwrap(ring.active_key_id, wrapped)
    assert ring.unwrap(old_id, wrapped) == b"x" * 32


@posix_only
def test_rotate_rewrites_file_atomically(tmp_path: Path) -> None:
    path = tmp_path / "keys.json"
    ring = Keyring.create(path)
    old_id = ring.active_key_id
    key_id, wrapped = ring.wrap(b"k" * 32)
    new_id = ring.rotate()
    assert new_id != old_id
    assert ring.active_key_id == new_id
    assert ring.key_ids == sorted([old_id, new_id])
    assert _mode(path) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["keys.json"]
    loaded = Keyring.load(path)
    assert loaded.active_key_id == new_id
    assert loaded.key_ids == sorted([old_id, new_id])
    assert loaded.unwrap(key_id, wrapped) == b"k" * 32
    assert loaded.wrap(b"z" * 32)[0] == new_id


def test_rotate_to_explicit_path_and_in_memory(tmp_path: Path) -> None:
    ring = Keyring.generate()
    first = ring.active_key_id
    second = ring.rotate()  # no path: in memory only
    assert ring.key_ids == sorted([first, second])
    assert list(tmp_path.iterdir()) == []
    third = ring.rotate(tmp_path / "keys.json")
    assert Keyring.load(tmp_path / "keys.json").key_ids == sorted([first, second, third])


def test_constructor_validates() -> None:
    key = os.urandom(32)
    assert Keyring({key_id_for(key): key}, key_id_for(key)).active_key_id == key_id_for(key)
    with pytest.raises(CryptoError, match="not among"):
        Keyring({key_id_for(key): key}, "kffffffffffff")
    with pytest.raises(CryptoError, match="expected 32"):
        Keyring({"k1": b"short"}, "k1")


def test_repr_hides_key_material() -> None:
    ring = Keyring.generate()
    key = ring._state[1][ring.active_key_id]
    text = repr(ring)
    assert ring.active_key_id in text
    assert base64.b64encode(key).decode() not in text
    assert key.hex() not in text


@posix_only
def test_create_makes_missing_folders_owner_only(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        Keyring.create(tmp_path / "deep" / "keys" / "keys.json")
    finally:
        os.umask(old)
    assert _mode(tmp_path / "deep") == 0o700
    assert _mode(tmp_path / "deep" / "keys") == 0o700


# -- signatures --------------------------------------------------------------------------------


def test_sign_and_check_signature() -> None:
    ring = Keyring.generate()
    key_id, signature = ring.sign(b"sha256:abc")
    assert key_id == ring.active_key_id
    assert len(signature) == 32
    ring.check_signature(key_id, b"sha256:abc", signature)
    with pytest.raises(CryptoError, match="does not match"):
        ring.check_signature(key_id, b"sha256:abd", signature)
    with pytest.raises(CryptoError, match="does not match"):
        ring.check_signature(key_id, b"sha256:abc", bytes(32))
    with pytest.raises(KeyNotFoundError, match="k000000000000"):
        ring.check_signature("k000000000000", b"sha256:abc", signature)
    with pytest.raises(KeyNotFoundError):  # another workspace's keyring
        Keyring.generate().check_signature(key_id, b"sha256:abc", signature)


def test_signatures_use_a_derived_key_not_the_workspace_key() -> None:
    import hmac

    ring = Keyring.generate()
    (key,) = ring._state[1].values()
    _, signature = ring.sign(b"message")
    assert signature != hmac.digest(key, b"message", "sha256")


def test_sign_with_an_older_key_after_rotation() -> None:
    ring = Keyring.generate()
    old_id = ring.active_key_id
    new_id = ring.rotate()
    assert ring.sign(b"m")[0] == new_id
    key_id, signature = ring.sign(b"m", key_id=old_id)
    assert key_id == old_id
    ring.check_signature(old_id, b"m", signature)
    with pytest.raises(CryptoError, match="does not match"):
        ring.check_signature(new_id, b"m", signature)
    with pytest.raises(KeyNotFoundError):
        ring.sign(b"m", key_id="k000000000000")

from __future__ import annotations

import io
import os
import struct

import pytest

from closedloop.crypto import CHUNK_SIZE, ENVELOPE_MAGIC, EnvelopeReader, EnvelopeWriter, Keyring
from closedloop.errors import ArtifactIntegrityError, CryptoError, KeyNotFoundError

SMALL = 64  # a small chunk size keeps the many-chunk cases fast


@pytest.fixture
def ring() -> Keyring:
    return Keyring.generate()


def seal(ring: Keyring, data: bytes, chunk_size: int = SMALL, piece: int = 1000) -> bytes:
    out = io.BytesIO()
    with EnvelopeWriter(out, ring, chunk_size=chunk_size) as writer:
        for i in range(0, len(data), piece):
            writer.write(data[i : i + piece])
    return out.getvalue()


def open_(ring: Keyring, blob: bytes, name: str = "blob-x") -> bytes:
    return b"".join(EnvelopeReader(io.BytesIO(blob), ring, name=name))


def split(blob: bytes) -> tuple[bytes, list[bytes]]:
    """Split an envelope into its header and its records."""
    pos = len(ENVELOPE_MAGIC) + 4 + 8
    pos += 1 + blob[pos]
    pos += 2 + struct.unpack(">H", blob[pos : pos + 2])[0]
    header, records = blob[:pos], []
    while pos < len(blob):
        length = struct.unpack(">I", blob[pos + 1 : pos + 5])[0]
        records.append(blob[pos : pos + 5 + length])
        pos += 5 + length
    return header, records


@pytest.mark.parametrize("size", [0, 1, SMALL - 1, SMALL, SMALL + 1, 2 * SMALL, 10 * SMALL + 7])
@pytest.mark.parametrize("piece", [1, 13, SMALL, 1000])
def test_roundtrip(ring: Keyring, size: int, piece: int) -> None:
    data = os.urandom(size)
    blob = seal(ring, data, piece=piece)
    assert blob.startswith(ENVELOPE_MAGIC)
    _, records = split(blob)
    assert len(records) == max(1, -(-size // SMALL))
    assert [r[0] for r in records] == [0] * (len(records) - 1) + [1]
    assert open_(ring, blob) == data


def test_roundtrip_default_chunk_size(ring: Keyring) -> None:
    data = os.urandom(2 * CHUNK_SIZE + 12345)
    blob = seal(ring, data, chunk_size=CHUNK_SIZE, piece=300_000)
    chunks = list(EnvelopeReader(io.BytesIO(blob), ring, name="big"))
    assert [len(c) for c in chunks] == [CHUNK_SIZE, CHUNK_SIZE, 12345]
    assert b"".join(chunks) == data
    assert len(blob) - len(data) < 200


def test_ciphertext_hides_plaintext_and_differs(ring: Keyring) -> None:
    data = b"secret marker " * 100
    a, b = seal(ring, data), seal(ring, data)
    assert b"secret marker" not in a
    assert a != b  # fresh data key and nonce prefix per object


def test_reader_exposes_key_id(ring: Keyring) -> None:
    blob = seal(ring, b"abc")
    assert EnvelopeReader(io.BytesIO(blob), ring, name="n").key_id == ring.active_key_id


def _tampered(ring: Keyring, how: str) -> bytes:
    header, records = split(seal(ring, os.urandom(5 * SMALL + 3)))
    if how == "reorder":
        records[1], records[2] = records[2], records[1]
    elif how == "drop-final":
        records = records[:-1]
    elif how == "drop-middle":
        del records[2]
    elif how == "duplicate":
        records.insert(2, records[1])
    elif how == "cut-final":
        records[-1] = records[-1][:-1]
    elif how == "mark-final":
        records = records[:2]
        records[1] = b"\x01" + records[1][1:]
    elif how == "append-garbage":
        records.append(b"\x00")
    elif how == "append-final-again":
        records.append(records[-1])
    elif how == "flip-ciphertext":
        rec = bytearray(records[1])
        rec[10] ^= 0x80
        records[1] = bytes(rec)
    elif how == "flip-chunk-size":
        header = header[:11] + bytes([header[11] ^ 1]) + header[12:]
    elif how == "flip-nonce-prefix":
        header = header[:14] + bytes([header[14] ^ 1]) + header[15:]
    elif how == "flip-wrapped-key":
        header = header[:-3] + bytes([header[-3] ^ 1]) + header[-2:]
    elif how == "splice":
        _, other = split(seal(ring, os.urandom(5 * SMALL + 3)))
        records[1] = other[1]
    elif how == "bad-magic":
        header = b"XXXXXXXX" + header[8:]
    elif how == "empty":
        return b""
    return header + b"".join(records)


@pytest.mark.parametrize(
    "how",
    [
        "reorder",
        "drop-final",
        "drop-middle",
        "duplicate",
        "cut-final",
        "mark-final",
        "append-garbage",
        "append-final-again",
        "flip-ciphertext",
        "flip-chunk-size",
        "flip-nonce-prefix",
        "flip-wrapped-key",
        "splice",
        "bad-magic",
        "empty",
    ],
)
def test_tampering_is_detected(ring: Keyring, how: str) -> None:
    blob = _tampered(ring, how)
    with pytest.raises(ArtifactIntegrityError, match="object-42"):
        open_(ring, blob, name="object-42")


def test_truncation_at_every_record_boundary(ring: Keyring) -> None:
    header, records = split(seal(ring, os.urandom(4 * SMALL)))
    for n in range(len(records)):
        with pytest.raises(ArtifactIntegrityError, match=r"truncated|authentication"):
            open_(ring, header + b"".join(records[:n]))


def test_chunks_before_the_damage_are_authentic(ring: Keyring) -> None:
    data = os.urandom(4 * SMALL)
    header, records = split(seal(ring, data))
    reader = iter(EnvelopeReader(io.BytesIO(header + b"".join(records[:2])), ring, name="n"))
    assert next(reader) == data[:SMALL]
    assert next(reader) == data[SMALL : 2 * SMALL]
    with pytest.raises(ArtifactIntegrityError, match="truncated"):
        next(reader)


def test_unknown_key(ring: Keyring) -> None:
    blob = seal(ring, b"abc")
    with pytest.raises(KeyNotFoundError, match=ring.active_key_id) as info:
        EnvelopeReader(io.BytesIO(blob), Keyring.generate(), name="object-7")
    assert "object-7" in info.value.message


def test_writer_lifecycle(ring: Keyring) -> None:
    out = io.BytesIO()
    writer = EnvelopeWriter(out, ring, chunk_size=SMALL)
    assert writer.key_id == ring.active_key_id
    writer.write(b"abc")
    writer.close()
    size = len(out.getvalue())
    writer.close()  # idempotent
    assert len(out.getvalue()) == size
    with pytest.raises(CryptoError, match="closed"):
        writer.write(b"more")
    with pytest.raises(CryptoError, match="chunk size"):
        EnvelopeWriter(io.BytesIO(), ring, chunk_size=0)


def test_writer_aborted_by_exception_is_never_whole(ring: Keyring) -> None:
    out = io.BytesIO()

    def write_then_fail() -> None:
        with EnvelopeWriter(out, ring, chunk_size=SMALL) as writer:
            writer.write(os.urandom(3 * SMALL))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        write_then_fail()
    with pytest.raises(ArtifactIntegrityError, match="truncated"):
        open_(ring, out.getvalue())


def test_reader_iterates_once(ring: Keyring) -> None:
    reader = EnvelopeReader(io.BytesIO(seal(ring, b"abc")), ring, name="n")
    assert b"".join(reader) == b"abc"
    with pytest.raises(CryptoError, match="only once"):
        iter(reader)


def test_rotated_keyring_reads_old_envelopes(ring: Keyring) -> None:
    old = seal(ring, b"old data")
    old_id = ring.active_key_id
    ring.rotate()
    new = seal(ring, b"new data")
    assert EnvelopeReader(io.BytesIO(new), ring, name="n").key_id == ring.active_key_id != old_id
    assert open_(ring, old) == b"old data"
    assert open_(ring, new) == b"new data"

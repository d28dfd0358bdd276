"""Stores split by domain: each domain store reports its blobs; the aggregate asks them all."""

from __future__ import annotations

from collections.abc import Collection, Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from closedloop.metadata import BlobReference, DomainStore
from closedloop.workspace import Workspace


class _Endpoints:
    """A domain added later (serving endpoints, say) whose records point at blobs."""

    def __init__(self) -> None:
        self.blobs: dict[str, str] = {}

    def referenced_digests(self, among: Collection[str] | None = None) -> set[str]:
        return {d for d in self.blobs if among is None or d in among}

    def blob_references(self) -> list[BlobReference]:
        return [BlobReference(d, "endpoint", name) for d, name in self.blobs.items()]


@pytest.fixture
def ws(tmp_path: Path) -> Iterator[Workspace]:
    Workspace.init(tmp_path / "ws")
    with Workspace.open(tmp_path / "ws") as workspace:
        yield workspace


def test_gc_keeps_the_blobs_of_a_registered_domain(ws: Workspace) -> None:
    endpoints = _Endpoints()
    kept = ws.artifacts.put_bytes(b"the routing table of endpoint e1").digest
    dropped = ws.artifacts.put_bytes(b"nothing refers to these bytes").digest
    endpoints.blobs[kept] = "e1"
    domain: DomainStore = endpoints  # what the aggregate accepts
    ws.metadata.register_domain(domain)

    report = ws.gc(grace=timedelta(0))

    assert report.blobs_deleted == 1
    assert ws.artifacts.exists(kept)
    assert not ws.artifacts.exists(dropped)


def test_an_unregistered_domain_is_not_asked(ws: Workspace) -> None:
    endpoints = _Endpoints()
    digest = ws.artifacts.put_bytes(b"referenced only by a domain nobody registered").digest
    endpoints.blobs[digest] = "e1"

    assert ws.gc(grace=timedelta(0)).blobs_deleted == 1
    assert not ws.artifacts.exists(digest)


def test_verify_names_the_record_of_a_registered_domain(ws: Workspace) -> None:
    endpoints = _Endpoints()
    endpoints.blobs["sha256:" + "e" * 64] = "e1"  # a blob that was never stored
    ws.metadata.register_domain(endpoints)

    report = ws.verify()

    assert [p.problem for p in report.problems] == ["missing"]
    assert report.problems[0].referenced_by == (
        BlobReference("sha256:" + "e" * 64, "endpoint", "e1"),
    )

"""The prediction log's WAL stays bounded under a steady stream of large payloads."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from closedloop.core import LoggedRequest
from closedloop.metadata._sql import _appender
from closedloop.metadata._sql.store import SqlMetadataStore

PAYLOAD = 512 * 1024


def _request(i: int) -> LoggedRequest:
    return LoggedRequest(
        request_id=f"r{i}",
        time=1_000 + i,
        model_version_id="m/1",
        endpoint=None,
        role="primary",
        n_rows=1,
        latency_ms=1.0,
        format="columns/1",
        key_id=None,
        payload=os.urandom(PAYLOAD),
    )


def test_the_wal_restarts_once_checkpoints_catch_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_appender, "WAL_LIMIT_BYTES", 4 * 1024 * 1024)
    path = tmp_path / "log.db"
    store = SqlMetadataStore(f"sqlite:///{path}", check_schema=False)
    store.upgrade()
    appender = store.predictions.appender()
    wal = Path(f"{path}-wal")
    largest = 0
    try:
        for i in range(160):  # 80 MiB through the WAL, 20 x its limit
            appender.append([_request(i)])
            largest = max(largest, wal.stat().st_size)
            time.sleep(0.01)  # a steady stream, not one burst
    finally:
        appender.close()
    assert store.predictions.count() == 160  # nothing lost to the restarts
    assert largest < 40 * 1024 * 1024  # without restarts it would reach 80 MiB
    assert wal.stat().st_size <= 4 * 1024 * 1024  # closed: copied back and truncated
    store.close()

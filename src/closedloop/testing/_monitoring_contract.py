"""``MonitoringStoreContract``: the behaviour of a metadata store's monitoring records.

Reference profiles, summarised windows, alerts, and the refused requests the prediction log
counts. ``DomainStoresContract`` inherits these tests.
"""

from __future__ import annotations

from typing import Any

import pytest

from closedloop.core import Alert, LoggedRequest, MonitorWindow, ProfileRecord, Refusal
from closedloop.errors import NotFoundError
from closedloop.metadata import BlobReference, MetadataStore

__all__ = ["MonitoringStoreContract"]

_DIGEST = "sha256:" + "d" * 64


def _window(first: int, last: int, **kw: Any) -> MonitorWindow:
    values: dict[str, Any] = {
        "id": 0,
        "model_version_id": "m/1",
        "monitor": "count:100",
        "start": first * 10,
        "end": last * 10 + 1,
        "first_position": first,
        "last_position": last,
        "n_rows": last - first + 1,
        "n_requests": last - first + 1,
        "drifted": False,
        "complete": True,
        "updated_at": 5,
        "key_id": "k1",
        "payload": b"sealed",
    }
    values.update(kw)
    return MonitorWindow(**values)


def _alert(**kw: Any) -> Alert:
    values: dict[str, Any] = {
        "id": 0,
        "time": 100,
        "model_version_id": "m/1",
        "rule": "drift-share",
        "subject": "dataset",
        "dedup_key": "m/1|drift-share|dataset",
        "severity": "warning",
        "value": 0.6,
        "threshold": 0.5,
        "window_id": None,
        "status": "firing",
        "count": 1,
        "last_seen": 100,
        "message": "drift share 0.6 >= 0.5",
        "deliveries": {"log": "sent"},
        "key_id": None,
        "payload": b"{}",
    }
    values.update(kw)
    return Alert(**values)


class MonitoringStoreContract:
    """Backend-independent tests of ``MetadataStore.monitoring`` and refusals."""

    def test_profiles_are_replaced_by_name_and_report_their_blob(
        self, store: MetadataStore
    ) -> None:
        mon = store.monitoring
        first = ProfileRecord("m/1", "default", "dataset:d@1", _DIGEST, 10, 1)
        mon.put_profile(first)
        assert mon.get_profile("m/1") == first
        again = ProfileRecord("m/1", "default", "dataset:d@2", _DIGEST, 20, 2)
        mon.put_profile(again)
        assert mon.get_profile("m/1") == again
        assert mon.get_profile("m/1", "other") is None
        assert mon.list_profiles("m/1") == [again]
        assert mon.referenced_digests() == {_DIGEST}
        assert mon.referenced_digests([]) == set()
        assert BlobReference(_DIGEST, "reference profile", "m/1:default") in (
            store.blob_references()
        )

    def test_windows_upsert_on_their_first_position(self, store: MetadataStore) -> None:
        mon = store.monitoring
        a = mon.put_window(_window(1, 10, complete=False, payload=b"partial"))
        assert a.id > 0
        b = mon.put_window(_window(1, 20, payload=b"full"))
        assert b.id == a.id
        assert b.last_position == 20
        assert b.complete
        c = mon.put_window(_window(21, 30, drifted=True))
        assert [w.id for w in mon.list_windows("m/1")] == [a.id, c.id]
        assert mon.get_window(c.id) == c
        assert mon.get_window(999_999) is None
        assert mon.last_window("m/1", "count:100") == c
        assert mon.last_window("m/1", "time:1h") is None
        assert mon.list_windows("m/1", since=100) == [c]
        assert mon.list_windows("m/1", until=100) == [b]
        assert mon.list_windows("m/1", "count:100", limit=1) == [b]
        mon.put_window(_window(1, 5, monitor="time:1h"))
        assert mon.monitors("m/1") == ["count:100", "time:1h"]
        assert [w.monitor for w in mon.list_windows("m/1", "time:1h")] == ["time:1h"]
        assert mon.list_windows("m/2") == []

    def test_alerts_deduplicate_on_their_open_key(self, store: MetadataStore) -> None:
        mon = store.monitoring
        first = mon.add_alert(_alert())
        assert first.id > 0
        assert mon.open_alert(first.dedup_key) == first
        bumped = mon.update_alert(
            first.id, count=2, last_seen=200, value=0.7, deliveries={"log": "sent", "hook": "x"}
        )
        assert (bumped.count, bumped.last_seen, bumped.value) == (2, 200, 0.7)
        assert bumped.deliveries == {"log": "sent", "hook": "x"}
        resolved = mon.update_alert(first.id, status="resolved")
        assert resolved.status == "resolved"
        assert mon.open_alert(first.dedup_key) is None
        second = mon.add_alert(_alert(time=300, last_seen=300))
        assert [a.id for a in mon.list_alerts("m/1")] == [second.id, first.id]
        assert mon.list_alerts(status="resolved") == [resolved]
        assert mon.list_alerts(since=250) == [second]
        assert mon.list_alerts(limit=1) == [second]
        assert mon.get_alert(second.id) == second
        with pytest.raises(NotFoundError):
            mon.update_alert(999_999, status="resolved")

    def test_refusals_are_counted_by_endpoint_version_and_time(self, store: MetadataStore) -> None:
        log = store.predictions
        log.append_refusals(
            [
                Refusal(10, "e", "m/1", "v2", 422, "invalid_argument"),
                Refusal(20, "e", None, "native", 400, "invalid_argument"),
                Refusal(30, "f", "m/2", "mlflow", 413, "too_large"),
            ]
        )
        log.append_refusals([])
        assert log.count_refusals() == 3
        assert log.count_refusals(endpoint="e") == 2
        assert log.count_refusals(model_version_id="m/1") == 1
        assert log.count_refusals(since=20) == 2
        assert log.count_refusals(since=10, until=30) == 2

    def test_readers_resume_after_a_log_position(self, store: MetadataStore) -> None:
        log = store.predictions
        items = [
            LoggedRequest(f"r{i}", 10 * i, "m/1", None, "primary", 1, 1.0, "columns/1", None, b"x")
            for i in range(5)
        ]
        log.append_requests(items)
        stored = log.list_requests("m/1")
        positions = [r.position for r in stored]
        assert all(p is not None for p in positions)
        assert positions == sorted(p for p in positions if p is not None)
        assert stored == items  # equality ignores the position
        after = log.list_requests("m/1", after_position=positions[1], limit=2)
        assert [r.request_id for r in after] == ["r2", "r3"]

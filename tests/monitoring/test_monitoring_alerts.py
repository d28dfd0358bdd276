"""Alert rules, de-duplication, cool-down, resolution and sealed evidence."""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping

import pytest
from monitoring_support import register

from closedloop.core import ModelVersion
from closedloop.errors import ConfigurationError, InvalidArgumentError, NotFoundError
from closedloop.monitoring._alert_rules import (
    AlertRule,
    default_rules,
    derived_values,
    parse_duration,
    rules_from_config,
)
from closedloop.monitoring._alerts import (
    AlertOutcome,
    acknowledge_alert,
    alert_evidence,
    evaluate_rules,
    get_alert,
    list_alerts,
    resolve_alert,
)
from closedloop.monitoring._sinks import Notice
from closedloop.workspace import Workspace

T0 = 1_700_000_000_000
MINUTE = 60_000


class Collect:
    """A synchronous sink that keeps what it is given."""

    deferred = False

    def __init__(self, name: str = "collect", min_severity: str = "info") -> None:
        self.name, self.min_severity = name, min_severity
        self.notices: list[Notice] = []

    def deliver(self, notice: Notice) -> None:
        self.notices.append(notice)

    def flush(self, timeout: float = 5.0) -> bool:
        return True

    def close(self, timeout: float = 5.0) -> bool:
        return True

    @property
    def events(self) -> list[tuple[str, str, str]]:
        return [(n.event, n.alert.rule, n.alert.subject) for n in self.notices]


class Broken(Collect):
    """A sink that raises (a bug in a third-party sink)."""

    def deliver(self, notice: Notice) -> None:
        raise RuntimeError("sink bug")


@pytest.fixture
def version(workspace: Workspace) -> ModelVersion:
    return register(workspace)


def run(
    ws: Workspace,
    version: ModelVersion,
    values: Mapping[str, float],
    minute: int,
    sink: Collect,
    rules: list[AlertRule] | None = None,
) -> AlertOutcome:
    """Evaluate one window that ends ``minute`` minutes after T0 (window id = minute + 1)."""
    return evaluate_rules(
        ws,
        version.id,
        values,
        window_id=minute + 1,
        window_end=T0 + minute * MINUTE,
        rules=rules,
        evidence={},
        sinks=[sink],
    )


DRIFT = AlertRule("drift", "drift.share", ">=", 0.5, "warning", cooldown=3600)


# rules ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("value", "seconds"),
    [(90, 90.0), ("90s", 90.0), ("15m", 900.0), ("1h", 3600.0), ("1d", 86400.0)],
)
def test_durations(value: object, seconds: float) -> None:
    assert parse_duration(value) == seconds


def test_rule_from_config_reads_every_key() -> None:
    rule = AlertRule.from_config(
        {
            "name": "age_drift",
            "metric": "drift.column.*.statistic",
            "op": ">",
            "threshold": 1,
            "severity": "critical",
            "cooldown": "15m",
            "min_rows": 200,
        }
    )
    assert rule == AlertRule(
        "age_drift", "drift.column.*.statistic", ">", 1.0, "critical", 900.0, 200
    )


@pytest.mark.parametrize(
    ("config", "named", "fix"),
    [
        (
            {"name": "r", "metric": "m", "op": ">=", "threshold": 1, "treshold": 2},
            "'treshold'",
            "takes",
        ),
        ({"name": "r", "metric": "m", "op": ">="}, "'threshold'", "needs"),
        ({"name": "r", "metric": "m", "op": "=>", "threshold": 1}, "'op'", "op: '>='"),
        ({"name": "r", "metric": "m", "op": ">=", "threshold": "high"}, "'threshold'", "0.5"),
        (
            {"name": "r", "metric": "m", "op": ">=", "threshold": 1, "severity": "bad"},
            "'severity'",
            "warning",
        ),
        (
            {"name": "r", "metric": "m", "op": ">=", "threshold": 1, "cooldown": "15 minutes"},
            "'cooldown'",
            "15m",
        ),
        (
            {"name": "r", "metric": "m", "op": ">=", "threshold": 1, "cooldown": -5},
            "'cooldown'",
            "15m",
        ),
        (
            {"name": "r", "metric": "m", "op": ">=", "threshold": 1, "min_rows": 2.5},
            "'min_rows'",
            "100",
        ),
        (
            {"name": "has space", "metric": "m", "op": ">=", "threshold": 1},
            "'has space'",
            "letters",
        ),
        ({"name": "r", "metric": "", "op": ">=", "threshold": 1}, "'metric'", "Alerts"),
    ],
)
def test_rule_errors_name_the_key_and_the_fix(
    config: dict[str, object], named: str, fix: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        AlertRule.from_config(config)
    assert named in caught.value.message
    assert caught.value.hint is not None
    assert fix in caught.value.hint


def test_rules_from_config_defaults_and_duplicates() -> None:
    assert rules_from_config(None) == default_rules()
    assert rules_from_config([]) == []
    mine = {"name": "mine", "metric": "quality.missing_rate", "op": ">", "threshold": 0.3}
    rules = rules_from_config(["defaults", mine])
    assert [r.name for r in rules][-1] == "mine"
    assert len(rules) == len(default_rules()) + 1
    with pytest.raises(ConfigurationError, match="two alert rules are named 'mine'"):
        rules_from_config([mine, mine])
    with pytest.raises(ConfigurationError, match="not a list"):
        rules_from_config({"name": "mine"})


def test_glob_matches_columns_and_plain_keys_match_the_dataset() -> None:
    values = {
        "drift.column.age.statistic": 1.0,
        "drift.column.a.b.statistic": 2.0,
        "drift.share": 0.1,
    }
    glob = AlertRule("cols", "drift.column.*.statistic", ">=", 0.0)
    assert list(glob.matches(values)) == [
        ("drift.column.a.b.statistic", "a.b"),
        ("drift.column.age.statistic", "age"),
    ]
    assert list(DRIFT.matches(values)) == [("drift.share", "dataset")]
    assert not DRIFT.holds(math.nan)


def test_drops_are_derived_from_the_reference() -> None:
    derived = derived_values({"reference.accuracy": 0.9, "performance.accuracy": 0.8})
    assert derived["performance.accuracy_drop"] == pytest.approx(0.1)
    given = derived_values(
        {"reference.accuracy": 0.9, "performance.accuracy": 0.8, "performance.accuracy_drop": 0.0}
    )
    assert given["performance.accuracy_drop"] == 0.0
    with pytest.raises(InvalidArgumentError, match=r"'drift\.share'"):
        derived_values({"drift.share": "lots"})  # type: ignore[dict-item]


# firing, de-duplication, cool-down, resolution -----------------------------------------------
def test_glob_rule_fires_one_alert_per_column(workspace: Workspace, version: ModelVersion) -> None:
    sink = Collect()
    rule = AlertRule("column_drift", "drift.column.*.statistic", ">=", 0.2)
    values = {
        "drift.column.age.statistic": 0.3,
        "drift.column.income.statistic": 0.1,
        "drift.column.color.statistic": 0.5,
    }
    outcome = run(workspace, version, values, 0, sink, [rule])
    assert sorted(a.subject for a in outcome.fired) == ["age", "color"]
    assert sorted(sink.events) == [
        ("fired", "column_drift", "age"),
        ("fired", "column_drift", "color"),
    ]
    stored = list_alerts(workspace, "m/1")
    assert {a.subject: a.value for a in stored} == {"age": 0.3, "color": 0.5}
    assert all(a.status == "firing" and a.window_id == 1 and a.time == T0 for a in stored)
    assert stored[0].deliveries == {"collect": "sent"}


def test_repeats_within_the_cool_down_are_one_alert(
    workspace: Workspace, version: ModelVersion
) -> None:
    sink = Collect()
    for minute, share in ((0, 0.6), (10, 0.7), (20, 0.8)):
        outcome = run(workspace, version, {"drift.share": share}, minute, sink, [DRIFT])
    assert outcome.repeated
    assert not outcome.renotified
    assert not outcome.fired
    (alert,) = list_alerts(workspace)
    assert (alert.count, alert.value, alert.window_id) == (3, 0.8, 21)
    assert alert.last_seen == T0 + 20 * MINUTE
    assert alert.time == T0
    assert sink.events == [("fired", "drift", "dataset")]  # one delivery


def test_the_same_window_evaluated_again_counts_once(
    workspace: Workspace, version: ModelVersion
) -> None:
    sink = Collect()
    run(workspace, version, {"drift.share": 0.6}, 0, sink, [DRIFT])
    run(workspace, version, {"drift.share": 0.9}, 0, sink, [DRIFT])
    (alert,) = list_alerts(workspace)
    assert (alert.count, alert.value) == (1, 0.9)


def test_re_notified_after_the_cool_down(workspace: Workspace, version: ModelVersion) -> None:
    sink = Collect()
    run(workspace, version, {"drift.share": 0.6}, 0, sink, [DRIFT])
    quiet = run(workspace, version, {"drift.share": 0.6}, 30, sink, [DRIFT])
    loud = run(workspace, version, {"drift.share": 0.6}, 70, sink, [DRIFT])
    assert not quiet.renotified
    assert [a.count for a in loud.renotified] == [3]
    assert [e for e, _, _ in sink.events] == ["fired", "reminder"]


def test_acknowledged_alerts_count_but_do_not_re_notify(
    workspace: Workspace, version: ModelVersion
) -> None:
    sink = Collect()
    (fired,) = run(workspace, version, {"drift.share": 0.6}, 0, sink, [DRIFT]).fired
    assert acknowledge_alert(workspace, fired.id).status == "acknowledged"
    outcome = run(workspace, version, {"drift.share": 0.6}, 120, sink, [DRIFT])
    assert [a.status for a in outcome.repeated] == ["acknowledged"]
    assert not outcome.renotified
    assert get_alert(workspace, fired.id).count == 2
    assert [e for e, _, _ in sink.events] == ["fired"]


def test_resolved_when_the_value_recovers(workspace: Workspace, version: ModelVersion) -> None:
    sink = Collect()
    (fired,) = run(workspace, version, {"drift.share": 0.6}, 0, sink, [DRIFT]).fired
    (resolved,) = run(workspace, version, {"drift.share": 0.2}, 10, sink, [DRIFT]).resolved
    assert resolved.id == fired.id
    assert resolved.status == "resolved"
    assert resolved.value == 0.2
    assert sink.events == [("fired", "drift", "dataset"), ("resolved", "drift", "dataset")]
    assert not run(workspace, version, {"drift.share": 0.2}, 20, sink, [DRIFT]).resolved
    (again,) = run(workspace, version, {"drift.share": 0.6}, 30, sink, [DRIFT]).fired
    assert again.id != fired.id
    assert [a.status for a in list_alerts(workspace, status="resolved")] == ["resolved"]


def test_nan_missing_and_small_windows_say_nothing(
    workspace: Workspace, version: ModelVersion
) -> None:
    sink = Collect()
    rule = AlertRule("acc", "performance.accuracy_drop", ">=", 0.05, "critical", min_rows=100)
    assert not run(workspace, version, {"drift.share": math.nan}, 0, sink, [DRIFT]).fired
    small = {
        "reference.accuracy": 0.9,
        "performance.accuracy": 0.7,
        "performance.rows": 50,
        "window.rows": 1000,
    }
    assert not run(workspace, version, small, 1, sink, [rule]).fired
    big = {**small, "performance.rows": 500}
    (fired,) = run(workspace, version, big, 2, sink, [rule]).fired
    assert fired.value == pytest.approx(0.2)
    assert fired.severity == "critical"
    # the alert stays open through a NaN value, a missing key and a small window
    for minute, values in ((3, {**big, "performance.accuracy": math.nan}), (4, {}), (5, small)):
        outcome = run(workspace, version, values, minute, sink, [rule])
        assert not outcome.resolved
        assert not outcome.fired
    assert get_alert(workspace, fired.id).status == "firing"


def test_row_counts_as_the_monitor_run_writes_them(
    workspace: Workspace, version: ModelVersion
) -> None:
    sink = Collect()
    values = {"reference.accuracy": 0.9, "performance.accuracy": 0.7, "rows": 1000}
    few = run(workspace, version, {**values, "performance.labelled": 20}, 0, sink)
    assert not few.fired
    many = run(workspace, version, {**values, "performance.labelled": 200}, 1, sink)
    assert [a.rule for a in many.fired] == ["accuracy_drop"]


def test_default_rules_fire_on_their_keys(workspace: Workspace, version: ModelVersion) -> None:
    sink = Collect()
    values = {
        "drift.share": 0.75,
        "quality.missing_rate": 0.2,
        "quality.refused_rate": 0.01,
        "estimated.accuracy": 0.88,
        "reference.accuracy": 0.9,
        "window.rows": 1000,
    }
    outcome = evaluate_rules(
        workspace, version.id, values, window_id=None, window_end=T0, sinks=[sink]
    )
    assert sorted(a.rule for a in outcome.fired) == ["dataset_drift", "missing_values"]


def test_severity_routes_and_a_broken_sink_does_not_stop_alerting(
    workspace: Workspace, version: ModelVersion
) -> None:
    info, critical = Collect("info"), Collect("crit", min_severity="critical")
    outcome = evaluate_rules(
        workspace,
        version.id,
        {"drift.share": 0.9},
        window_id=1,
        window_end=T0,
        rules=[DRIFT],
        sinks=[Broken("broken"), info, critical],
    )
    assert len(outcome.fired) == 1
    assert len(info.notices) == 1
    assert not critical.notices
    assert outcome.fired[0].deliveries == {"broken": "sent", "info": "sent"}


def test_monitors_of_one_version_keep_their_own_alerts(
    workspace: Workspace, version: ModelVersion
) -> None:
    for monitor in ("count:1000", "time:1h"):
        evaluate_rules(
            workspace,
            version.id,
            {"drift.share": 0.9},
            window_id=1,
            window_end=T0,
            rules=[DRIFT],
            sinks=[],
            monitor=monitor,
        )
    assert len(list_alerts(workspace)) == 2


# evidence ------------------------------------------------------------------------------------
def test_evidence_is_sealed_and_opens(workspace: Workspace, version: ModelVersion) -> None:
    rule = AlertRule("column_drift", "drift.column.*.statistic", ">=", 0.2)
    value = 0.734521
    values = {
        "drift.column.zq_secret_column.statistic": value,
        "drift.column.zq_secret_column.p_value": 0.001,
        "drift.column.other.statistic": 0.01,
        "drift.share": 0.5,
        "window.rows": 1000,
    }
    (alert,) = evaluate_rules(
        workspace,
        version.id,
        values,
        window_id=7,
        window_end=T0,
        rules=[rule],
        evidence={"monitor": "count:1000"},
        subject_evidence={"zq_secret_column": {"bins": [1, 2, 3]}, "other": {"bins": [9]}},
        sinks=[],
    ).fired
    stored = get_alert(workspace, alert.id)
    assert stored.key_id is not None
    assert b"zq_secret_column" not in stored.payload
    assert repr(value).encode() not in stored.payload
    assert struct.pack(">d", value) not in stored.payload  # MessagePack's float64
    opened = alert_evidence(workspace, stored)
    assert opened["rule"]["name"] == "column_drift"
    assert opened["window_id"] == 7
    assert opened["subject"] == "zq_secret_column"
    assert opened["value"] == value
    assert opened["values"] == {
        "drift.column.zq_secret_column.statistic": value,
        "drift.column.zq_secret_column.p_value": 0.001,
        "drift.share": 0.5,
        "window.rows": 1000,
    }
    assert opened["subject_evidence"] == {"bins": [1, 2, 3]}
    assert opened["evidence"] == {"monitor": "count:1000"}
    assert alert_evidence(workspace, alert.id) == opened


# verbs ---------------------------------------------------------------------------------------
def test_acknowledge_resolve_list_and_audit(workspace: Workspace, version: ModelVersion) -> None:
    (fired,) = run(workspace, version, {"drift.share": 0.6}, 0, Collect(), [DRIFT]).fired
    assert [a.id for a in list_alerts(workspace, "m@latest", status="firing")] == [fired.id]
    assert list_alerts(workspace, since=T0 + 1) == []
    assert resolve_alert(workspace, fired.id).status == "resolved"
    with pytest.raises(InvalidArgumentError, match="nothing to acknowledge"):
        acknowledge_alert(workspace, fired.id)
    with pytest.raises(NotFoundError, match="alert 999"):
        resolve_alert(workspace, 999)
    with pytest.raises(InvalidArgumentError, match="not one of"):
        list_alerts(workspace, status="open")
    with pytest.raises(NotFoundError):
        list_alerts(workspace, "nope/1")
    events = workspace.metadata.list_audit_events(action="alert.update")
    assert [e.outcome for e in events] == ["error:NOT_FOUND", "error:INVALID_ARGUMENT", "ok"]
    assert events[-1].resource == "model:m/1"
    assert events[-1].detail["alert_id"] == fired.id
    fired_event = workspace.metadata.list_audit_events(action="monitor.run")[-1]
    assert fired_event.detail["alert"] == "fired"
    assert fired_event.detail["alert_id"] == fired.id


def test_outcomes_merge_in_order(workspace: Workspace, version: ModelVersion) -> None:
    sink = Collect()
    first = run(workspace, version, {"drift.share": 0.6}, 0, sink, [DRIFT])
    second = run(workspace, version, {"drift.share": 0.1}, 10, sink, [DRIFT])
    merged = first.merge(second)
    assert [a.id for a in merged.fired] == [a.id for a in merged.resolved]
    assert merged.repeated == []
    assert merged.renotified == []


def test_duplicate_rule_names_are_refused(workspace: Workspace, version: ModelVersion) -> None:
    with pytest.raises(InvalidArgumentError, match="share a name"):
        run(workspace, version, {"drift.share": 0.9}, 0, Collect(), [DRIFT, DRIFT])

"""Monitoring: drift of live inputs against reference data.

``DriftDetector`` follows the scikit-learn shape (``fit(reference)`` then
``compare(current) -> DriftReport``) and judges each column by a ``ColumnRule`` (by default
the automatic rule: a test on small windows, a distance above its noise floor on large ones);
``monitor_drift`` runs it over a model version's logged predictions and records the result
as a tracked run with an HTML report. The statistics are pure functions, also usable alone.
"""

from closedloop.monitoring._alert_rules import AlertRule, default_rules, rules_from_config
from closedloop.monitoring._alerts import (
    AlertOutcome,
    acknowledge_alert,
    alert_evidence,
    evaluate_rules,
    get_alert,
    list_alerts,
    resolve_alert,
)
from closedloop.monitoring._config import MonitorConfig
from closedloop.monitoring._distances import (
    binned_jensenshannon,
    binned_ks,
    binned_psi,
    binned_wasserstein,
    hellinger,
    histogram_counts,
    jensenshannon_categorical,
    jensenshannon_numeric,
    total_variation,
    wasserstein_norm,
    wasserstein_norm_sorted,
)
from closedloop.monitoring._drift import DriftDetector
from closedloop.monitoring._listing import MergedWindows, list_windows, merge_windows
from closedloop.monitoring._monitor import MonitorResult, monitor_drift, predictions_frame
from closedloop.monitoring._profiles import build_profile, reference_profile
from closedloop.monitoring._reference import ReferenceProfile
from closedloop.monitoring._report import Distribution, DriftReport, FeatureDrift
from closedloop.monitoring._rules import (
    ColumnRule,
    ResolvedRule,
    dataset_drift,
    noise_floor,
    parse_rule,
    resolve_rule,
)
from closedloop.monitoring._run import MonitorRound, WindowResult, follow, monitor_run
from closedloop.monitoring._sinks import LogSink, WebhookSink, sinks_from_config
from closedloop.monitoring._stats import (
    chi2_test,
    ks_test,
    ks_test_sorted,
    numeric_sample,
    psi,
    psi_categorical,
)
from closedloop.monitoring._window_page import find_window, window_html
from closedloop.monitoring._windows import WindowSpec

__all__ = [
    "AlertRule",
    "default_rules",
    "rules_from_config",
    "AlertOutcome",
    "acknowledge_alert",
    "alert_evidence",
    "evaluate_rules",
    "get_alert",
    "list_alerts",
    "resolve_alert",
    "MonitorConfig",
    "MergedWindows",
    "list_windows",
    "merge_windows",
    "build_profile",
    "reference_profile",
    "ReferenceProfile",
    "MonitorRound",
    "WindowResult",
    "follow",
    "monitor_run",
    "LogSink",
    "WebhookSink",
    "sinks_from_config",
    "WindowSpec",
    "find_window",
    "window_html",
    "ColumnRule",
    "Distribution",
    "DriftDetector",
    "DriftReport",
    "FeatureDrift",
    "MonitorResult",
    "ResolvedRule",
    "binned_jensenshannon",
    "binned_ks",
    "binned_psi",
    "binned_wasserstein",
    "chi2_test",
    "dataset_drift",
    "hellinger",
    "histogram_counts",
    "jensenshannon_categorical",
    "jensenshannon_numeric",
    "ks_test",
    "ks_test_sorted",
    "monitor_drift",
    "noise_floor",
    "numeric_sample",
    "parse_rule",
    "predictions_frame",
    "psi",
    "psi_categorical",
    "resolve_rule",
    "total_variation",
    "wasserstein_norm",
    "wasserstein_norm_sorted",
]

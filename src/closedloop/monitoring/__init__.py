"""Monitoring: drift of live inputs against reference data.

``DriftDetector`` follows the scikit-learn shape (``fit(reference)`` then
``compare(current) -> DriftReport``); ``monitor_drift`` runs it over a model version's logged
predictions and records the result as a tracked run with an HTML report.
"""

from closedloop.monitoring._drift import DriftDetector
from closedloop.monitoring._monitor import MonitorResult, monitor_drift, predictions_frame
from closedloop.monitoring._report import Distribution, DriftReport, FeatureDrift
from closedloop.monitoring._stats import chi2_test, ks_test, psi, psi_categorical

__all__ = [
    "Distribution",
    "DriftDetector",
    "DriftReport",
    "FeatureDrift",
    "MonitorResult",
    "chi2_test",
    "ks_test",
    "monitor_drift",
    "predictions_frame",
    "psi",
    "psi_categorical",
]

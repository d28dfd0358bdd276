"""Declarative features: a spec that becomes a fitted scikit-learn transformer."""

from closedloop.features._spec import FeatureSpec

__all__ = ["FeatureSpec"]

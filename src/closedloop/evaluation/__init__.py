"""Evaluation: held-out metrics, by-group fairness metrics, comparisons."""

from closedloop.evaluation._classification import Evaluation, compare, evaluate_classifier

__all__ = ["Evaluation", "compare", "evaluate_classifier"]

"""The model catalog: named candidate estimators with losses that fit the problem."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from closedloop.errors import InvalidArgumentError

__all__ = ["CANDIDATES", "Candidate", "get_candidate"]


@dataclass(frozen=True, slots=True)
class Candidate:
    """A named way to build an estimator.

    Attributes:
        name: Catalog name.
        task: The problem it solves (``classification``; ``select_model`` refuses others).
        loss: The loss it minimises (logged with the run).
        make: Builds a fresh estimator from a random seed.
    """

    name: str
    task: str
    loss: str
    make: Callable[[int], Any]


def _logistic_regression(seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=2000, C=1.0, random_state=seed)


def _hist_gradient_boosting(seed: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(
        loss="log_loss", max_iter=200, learning_rate=0.1, early_stopping=False, random_state=seed
    )


#: Candidates by name; all classify and minimise cross-entropy. Regression candidates come
#: with regression support in ``select_model``.
CANDIDATES: dict[str, Candidate] = {
    c.name: c
    for c in (
        Candidate("logistic_regression", "classification", "cross-entropy", _logistic_regression),
        Candidate(
            "hist_gradient_boosting", "classification", "cross-entropy", _hist_gradient_boosting
        ),
    )
}


def get_candidate(name: str) -> Candidate:
    """A candidate by name.

    Raises:
        InvalidArgumentError: Unknown name (the message lists the catalog).
    """
    try:
        return CANDIDATES[name]
    except KeyError:
        raise InvalidArgumentError(
            f"unknown candidate model {name!r}", hint=f"choose from {sorted(CANDIDATES)}"
        ) from None

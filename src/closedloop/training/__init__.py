"""Training: the candidate catalog and cross-validated model selection."""

from closedloop.training._candidates import CANDIDATES, Candidate, get_candidate
from closedloop.training._select import CandidateResult, Selection, select_model

__all__ = [
    "CANDIDATES",
    "Candidate",
    "CandidateResult",
    "Selection",
    "get_candidate",
    "select_model",
]

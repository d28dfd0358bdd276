"""Training: the candidate catalog and cross-validated model selection."""

from closedloop.training._candidates import CANDIDATES, Candidate, get_candidate
from closedloop.training._select import (
    PIPELINE_ARTIFACT,
    CandidateResult,
    Selection,
    frame_and_version,
    select_model,
)

__all__ = [
    "CANDIDATES",
    "PIPELINE_ARTIFACT",
    "Candidate",
    "CandidateResult",
    "Selection",
    "frame_and_version",
    "get_candidate",
    "select_model",
]

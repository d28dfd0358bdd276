"""The retraining loop: challenger against champion, promote or keep, with reasons."""

from closedloop.loop._champion import LoopOutcome, PromotionPolicy, challenge_champion, decide
from closedloop.loop._decisions import list_decisions

__all__ = ["LoopOutcome", "PromotionPolicy", "challenge_champion", "decide", "list_decisions"]

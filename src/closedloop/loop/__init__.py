"""The retraining loop: challenger against champion, promote or keep, with reasons."""

from closedloop.loop._champion import LoopOutcome, PromotionPolicy, challenge_champion, decide

__all__ = ["LoopOutcome", "PromotionPolicy", "challenge_champion", "decide"]

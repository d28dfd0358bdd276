"""Reading the loop's record: the champion/challenger decisions, newest first.

The loop writes a :class:`~closedloop.core.LoopDecision` for every challenge (see
:func:`closedloop.loop.challenge_champion`); this verb reads them back through the gate, so
the CLI, the SDK and a later REST API share one path and one permission check.
"""

from __future__ import annotations

from closedloop.core import LoopDecision
from closedloop.workspace import Actions, Workspace

__all__ = ["list_decisions"]


def list_decisions(ws: Workspace, model: str | None = None) -> list[LoopDecision]:
    """The loop's decisions about ``model`` (or every model), newest first.

    Args:
        ws: The workspace.
        model: A registered model name; ``None`` lists the decisions about all models.

    Returns:
        Each decision with the challenger, the champion, promote or keep, and its reasons.
    """
    with ws.action(Actions.LOOP_READ, f"model:{model or '*'}"):
        return ws.metadata.decisions.list(model)

"""``POST /v1/feedback``: true outcomes of served requests, attached to the prediction log.

:func:`feedback_router` gives the route as an ``APIRouter`` the server mounts. The body is
``{"labels": [{"request_id", "row" (default 0), "label"}, ...]}``, at most
:data:`MAX_LABELS` labels; a malformed entry is a 422 naming its location
(``body.labels.3.label``). The answer says how many rows were labelled and replaced, and
which request ids the log does not hold (200 all the same: labels may name requests of
another system or arrive before the log writer committed them). The call acts, and is
audited, as the workspace's principal calling from the client's address.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr
from starlette.concurrency import run_in_threadpool

from closedloop.predictions import MAX_LISTED, FeedbackReport, attach_labels
from closedloop.workspace import Workspace

__all__ = ["MAX_LABELS", "FeedbackRequest", "FeedbackResponse", "feedback_router"]

#: Labels one call may carry.
MAX_LABELS = 10_000
_MAX_LABEL_TEXT = 1_000

LabelValue = (
    StrictBool
    | StrictInt
    | Annotated[float, Field(allow_inf_nan=False, strict=True)]
    | Annotated[StrictStr, Field(max_length=_MAX_LABEL_TEXT)]
)


class LabelEntry(BaseModel):
    """One true outcome: the logged request, the row within it, the value."""

    model_config = ConfigDict(extra="forbid")

    request_id: Annotated[StrictStr, Field(min_length=1, max_length=64)]
    row: Annotated[StrictInt, Field(ge=0)] = 0
    label: LabelValue


class FeedbackRequest(BaseModel):
    """The body of ``POST /v1/feedback``."""

    model_config = ConfigDict(extra="forbid")

    labels: Annotated[list[LabelEntry], Field(min_length=1, max_length=MAX_LABELS)]


class BadRowOut(BaseModel):
    """A label whose row is not one of its request's rows."""

    request_id: str
    row: int | None
    n_rows: int


class FeedbackResponse(BaseModel):
    """What was attached, and what was not."""

    attached: int
    replaced: int
    unknown_request_ids: list[str] = Field(
        description=f"Request ids the log does not hold, sorted, at most {MAX_LISTED}"
    )
    n_unknown: int
    bad_rows: list[BadRowOut]
    n_bad_rows: int

    @classmethod
    def of(cls, report: FeedbackReport) -> FeedbackResponse:
        """The response for ``report``."""
        return cls(
            attached=report.attached,
            replaced=report.replaced,
            unknown_request_ids=report.unknown_request_ids,
            n_unknown=report.n_unknown,
            bad_rows=[
                BadRowOut(request_id=b.request_id, row=b.row, n_rows=b.n_rows)
                for b in report.bad_rows
            ],
            n_bad_rows=report.n_bad_rows,
        )


def feedback_router(ws: Workspace) -> APIRouter:
    """The feedback route over ``ws`` (mount it with ``app.include_router``).

    Errors raised by the verb (a closedloop error) are rendered by the app's handlers
    (:func:`closedloop.serving.errors.install_error_handlers`).
    """
    router = APIRouter()

    @router.post("/v1/feedback", response_model=FeedbackResponse, tags=["feedback"])
    async def feedback(body: FeedbackRequest, request: Request) -> FeedbackResponse:
        """Attach true outcomes to logged rows; unknown request ids are reported."""
        source = request.client.host if request.client else None
        caller = ws.as_principal(ws.principal.from_source(source))
        entries = [(e.request_id, e.row, e.label) for e in body.labels]
        report = await run_in_threadpool(attach_labels, caller, entries)
        return FeedbackResponse.of(report)

    return router

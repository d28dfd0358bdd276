"""The contract of the prediction log (``MetadataStore.predictions``)."""

from __future__ import annotations

import builtins
from collections.abc import Collection, Sequence
from typing import Protocol

from closedloop.core import Audit, Label, LoggedRequest, Refusal
from closedloop.metadata._domain import DomainStore

__all__ = ["PredictionLog", "RequestAppender"]


class RequestAppender(Protocol):
    """Appends groups of requests for one writer thread; ``close`` when done."""

    def append(self, items: Sequence[LoggedRequest], audits: Sequence[Audit] = ()) -> None:
        """As ``PredictionLog.append_requests``."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...


class PredictionLog(DomainStore, Protocol):
    """Append-only log of answered requests (one entry per request and model version)."""

    def append_requests(
        self, items: Sequence[LoggedRequest], *, audits: Sequence[Audit] = ()
    ) -> None:
        """Append requests and their audit events in one transaction (all or nothing).

        Raises:
            AlreadyExistsError: A ``(request_id, model_version_id)`` is already logged.
        """
        ...

    def appender(self) -> RequestAppender:
        """A dedicated appender for one writer thread: the same append, without overhead."""
        ...

    def count(
        self,
        model_version_id: str | None = None,
        *,
        endpoint: str | None = None,
        role: str | None = None,
        since: int | None = None,
        until: int | None = None,
    ) -> int:
        """Number of logged rows (the sum of the requests' ``n_rows``)."""
        ...

    def list_requests(
        self,
        model_version_id: str | None = None,
        *,
        endpoint: str | None = None,
        role: str | None = None,
        since: int | None = None,
        until: int | None = None,
        request_ids: Collection[str] | None = None,
        limit: int | None = None,
        after_position: int | None = None,
    ) -> builtins.list[LoggedRequest]:
        """Requests in logging order (``since`` inclusive, ``until`` exclusive, in ms).

        ``after_position`` resumes a reader: only requests logged after that
        ``LoggedRequest.position``.
        """
        ...

    def known_request_ids(self, request_ids: Collection[str]) -> set[str]:
        """Those of ``request_ids`` that are logged (for any version)."""
        ...

    def append_refusals(self, refusals: Sequence[Refusal]) -> None:
        """Count scoring requests the server refused (one record each)."""
        ...

    def count_refusals(
        self,
        *,
        endpoint: str | None = None,
        model_version_id: str | None = None,
        since: int | None = None,
        until: int | None = None,
    ) -> int:
        """Refused requests (``since`` inclusive, ``until`` exclusive, in ms)."""
        ...

    def put_labels(self, labels: Sequence[Label], *, audit: Audit | None = None) -> None:
        """Attach labels in one transaction; a label for a row that has one replaces it."""
        ...

    def list_labels(
        self,
        request_ids: Collection[str] | None = None,
        *,
        since: int | None = None,
        until: int | None = None,
    ) -> builtins.list[Label]:
        """Labels, by request id then row (``since``/``until`` filter their time)."""
        ...

"""``SqlRequestAppender``: the prediction log writer's own connection, one statement per table.

A server's log writer commits a group of requests every few hundred microseconds. Going
through the SQLAlchemy pool and statement compiler for each group costs about a
millisecond here, more than SQLite's commit itself, so the writer holds one DBAPI
connection of the engine for its life and runs two prepared ``executemany`` statements
(requests, then their audit events) in one transaction per group. The SQL is the same for
both backends but for the parameter style.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from sqlalchemy.engine import Engine

from closedloop.core import Audit, LoggedRequest, commit_audit
from closedloop.errors import AlreadyExistsError, StorageError
from closedloop.metadata._sql._db import audit_row
from closedloop.metadata._sql._engine import mask_uri

__all__ = ["SqlRequestAppender"]

_REQUEST_COLUMNS = (
    "request_id",
    "time",
    "model_version_id",
    "endpoint",
    "role",
    "n_rows",
    "latency_ms",
    "format",
    "key_id",
    "payload",
)
_AUDIT_COLUMNS = ("time", "actor", "action", "resource", "outcome", "detail")


def _insert(table: str, columns: Sequence[str], mark: str) -> str:
    marks = ", ".join([mark] * len(columns))
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"


class SqlRequestAppender:
    """Appends groups of logged requests over one dedicated connection (one thread uses it).

    Args:
        engine: The store's engine (a connection is taken from it and kept).
        uri: The store's URI, for error messages.
    """

    def __init__(self, engine: Engine, uri: str) -> None:
        self._uri = uri
        self._sqlite = engine.dialect.name == "sqlite"
        mark = "?" if self._sqlite else "%s"
        self._insert_requests = _insert("prediction_requests", _REQUEST_COLUMNS, mark)
        self._insert_audit = _insert("audit_events", _AUDIT_COLUMNS, mark)
        self._raw: Any = engine.raw_connection()
        self._conn: Any = self._raw.driver_connection
        self._checkpointer: _Checkpointer | None = None
        if self._sqlite:
            # SQLite copies the WAL back into the database (and syncs) in whichever commit
            # crosses 1,000 pages: a 10,000-row request then waits 50 ms instead of 7. The
            # writer's connection never checkpoints; a thread of its own does, passively
            # (it never blocks the writer), on another connection.
            self._conn.execute("PRAGMA wal_autocheckpoint=0")  # type: ignore[union-attr]
            # The writer is the one that starts the WAL again after a restart (see
            # _Checkpointer): it then cuts the file back to this size.
            self._conn.execute(f"PRAGMA journal_size_limit={WAL_LIMIT_BYTES}")  # type: ignore[union-attr]
            self._checkpointer = _Checkpointer(engine)

    def append(self, items: Sequence[LoggedRequest], audits: Sequence[Audit] = ()) -> None:
        """Append requests and their audit events in one transaction (all or nothing).

        Raises:
            AlreadyExistsError: A ``(request_id, model_version_id)`` is already logged.
            StorageError: The database failed.
        """
        rows = [
            (
                r.request_id,
                r.time,
                r.model_version_id,
                r.endpoint,
                r.role,
                r.n_rows,
                r.latency_ms,
                r.format,
                r.key_id,
                r.payload,
            )
            for r in items
        ]
        conn = self._conn
        cur = conn.cursor()
        try:
            if self._sqlite:
                cur.execute("BEGIN IMMEDIATE")
            if rows:
                cur.executemany(self._insert_requests, rows)
            events = [e for e in (commit_audit(a) for a in audits) if e is not None]
            if events:
                cur.executemany(
                    self._insert_audit,
                    [tuple(audit_row(e)[c] for c in _AUDIT_COLUMNS) for e in events],
                )
            if self._sqlite:
                cur.execute("COMMIT")
                if self._checkpointer is not None:
                    self._checkpointer.written(len(rows))
            else:
                conn.commit()
        except Exception as e:
            self._rollback()
            if type(e).__name__ in ("IntegrityError", "UniqueViolation"):
                raise AlreadyExistsError(
                    "a request of this group is already in the prediction log"
                ) from e
            message = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise StorageError(f"metadata store {mask_uri(self._uri)} failed: {message}") from e
        finally:
            cur.close()

    def _rollback(self) -> None:
        try:
            if self._sqlite:
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
            else:
                self._conn.rollback()
        except Exception:  # the connection is broken: it is replaced on close
            pass

    def close(self) -> None:
        """Stop the checkpointer (after a last checkpoint); give the connection back."""
        if self._checkpointer is not None:
            self._checkpointer.stop()
        self._raw.close()


#: A WAL holding more than this is restarted once the passive checkpoints have caught up.
WAL_LIMIT_BYTES = 64 * 1024 * 1024
#: "Caught up": at most this much of the WAL not yet copied into the database.
_CAUGHT_UP_BYTES = 4 * 1024 * 1024


class _Checkpointer:
    """WAL checkpoints every ``interval`` seconds while the writer has written.

    Passive checkpoints never block the writer, but under a steady stream of large
    payloads they never let the WAL start again either (the writer appends while they
    copy): it grew by 140 MB a second under 10,000-row requests. So once the WAL holds
    more than :data:`WAL_LIMIT_BYTES` and a passive round has copied nearly all of it,
    a ``RESTART`` checkpoint copies the rest (the writer waits for that little) and the
    WAL starts again from its beginning, truncated to the limit (``journal_size_limit``).
    A restart that cannot get the lock in time is retried next round.
    """

    def __init__(self, engine: Engine, interval: float = 0.25) -> None:
        self._engine = engine
        self._interval = interval
        self._page: int | None = None
        self._dirty = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name="closedloop-log-checkpoint", daemon=True
        )
        self._thread.start()

    def written(self, rows: int) -> None:
        """Note that the writer committed."""
        self._dirty.set()

    def _checkpoint(self, final: bool = False) -> None:
        try:
            raw = self._engine.raw_connection()
        except Exception:  # the database is gone: the writer reports it
            return
        try:
            driver: Any = raw.driver_connection
            if final:  # the writer is done: copy everything back and empty the file
                driver.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                return
            if self._page is None:  # fixed once the database exists
                self._page = int(driver.execute("PRAGMA page_size").fetchone()[0])
            _, frames, copied = driver.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            behind = (frames - copied) * self._page
            if frames * self._page > WAL_LIMIT_BYTES and behind <= _CAUGHT_UP_BYTES:
                driver.execute("PRAGMA wal_checkpoint(RESTART)")
        except Exception:  # busy or failing: the next round tries again
            pass
        finally:
            raw.close()

    def _run(self) -> None:
        while not self._stopping.wait(self._interval):
            if self._dirty.is_set():
                self._dirty.clear()
                self._checkpoint()

    def stop(self) -> None:
        """Checkpoint what is left and stop."""
        self._stopping.set()
        self._thread.join()
        self._checkpoint(final=True)

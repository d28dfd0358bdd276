"""SQLAlchemy backend of the metadata store (SQLite and PostgreSQL)."""

from closedloop.metadata._sql.store import SqlMetadataStore

__all__ = ["SqlMetadataStore"]

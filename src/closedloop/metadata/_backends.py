"""Metadata store backends by URI scheme."""

from __future__ import annotations

from closedloop._backends import BackendRegistry
from closedloop.metadata._protocol import MetadataStore

__all__ = ["get_metadata_store", "mask_uri", "metadata_stores", "schema_head", "strip_password"]

#: Scheme → backend. All SQL dialects map to one SQLAlchemy backend.
metadata_stores: BackendRegistry[MetadataStore] = BackendRegistry("metadata store")
metadata_stores.register("sqlite", "closedloop.metadata._sql:SqlMetadataStore")
metadata_stores.register("postgresql", "closedloop.metadata._sql:SqlMetadataStore")
metadata_stores.register("postgres", "closedloop.metadata._sql:SqlMetadataStore")


def mask_uri(uri: str) -> str:
    """``uri`` with any password replaced by ``***``, safe to print."""
    if "://" in uri and "@" in uri.split("://", 1)[1]:
        scheme, rest = uri.split("://", 1)
        credentials, _, host = rest.rpartition("@")
        user, sep, _password = credentials.partition(":")
        return f"{scheme}://{user}{':***' if sep else ''}@{host}"
    return uri


def strip_password(uri: str) -> str:
    """``uri`` without its password (for files: libpq reads it from PGPASSWORD or .pgpass)."""
    if "://" in uri and "@" in uri.split("://", 1)[1]:
        scheme, rest = uri.split("://", 1)
        credentials, _, host = rest.rpartition("@")
        user = credentials.partition(":")[0]
        return f"{scheme}://{user}@{host}"
    return uri


def get_metadata_store(uri: str | MetadataStore, *, check_schema: bool = True) -> MetadataStore:
    """Open the metadata store for ``uri`` (an instance is returned unchanged).

    Raises:
        UnsupportedBackendError: No backend for the URI's scheme.
        SchemaVersionError: The database schema is missing or not at this version's head.
    """
    if not isinstance(uri, str):
        return uri
    return metadata_stores.resolve(uri)(uri, check_schema=check_schema)


def schema_head() -> str:
    """The schema revision this version of closedloop expects its metadata database at.

    ``closedloop doctor`` compares it with the database's own revision; a database behind
    it needs ``closedloop db upgrade``.
    """
    from closedloop.metadata._sql.tables import SCHEMA_HEAD

    return SCHEMA_HEAD

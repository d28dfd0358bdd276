"""One exception hierarchy for closedloop.

Every error a user can meet derives from :class:`ClosedLoopError`. Each class carries a
stable ``code`` (shown by the CLI and mapped to an HTTP status by the REST layer), an
``exit_code`` for the CLI, and an optional ``hint`` that tells the user how to fix it.

.. code-block:: text

    ClosedLoopError
    ├── NotFoundError
    │   └── WorkspaceNotFoundError
    ├── AlreadyExistsError
    ├── InvalidArgumentError (also ValueError)
    │   ├── FilterSyntaxError
    │   ├── DataValidationError
    │   └── NotFittedError (also AttributeError)
    ├── PermissionDeniedError
    ├── ConfigurationError
    │   └── UnsupportedBackendError
    ├── StorageError
    │   ├── SchemaVersionError
    │   └── ArtifactIntegrityError
    │       └── UnauthenticatedArtifactError
    ├── CryptoError
    │   └── KeyNotFoundError
    └── RunStateError

    DataWarning (a UserWarning: accepted, but worth knowing)
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "AlreadyExistsError",
    "ArtifactIntegrityError",
    "ClosedLoopError",
    "ConfigurationError",
    "CryptoError",
    "DataValidationError",
    "DataWarning",
    "FilterSyntaxError",
    "InvalidArgumentError",
    "KeyNotFoundError",
    "NotFittedError",
    "NotFoundError",
    "PermissionDeniedError",
    "RunStateError",
    "SchemaVersionError",
    "StorageError",
    "UnauthenticatedArtifactError",
    "UnsupportedBackendError",
    "WorkspaceNotFoundError",
]


class ClosedLoopError(Exception):
    """Root of every closedloop error.

    Args:
        message: One line that names the problem.
        hint: One line that names the fix, shown by the CLI under the message.
    """

    code: ClassVar[str] = "CLOSEDLOOP_ERROR"
    exit_code: ClassVar[int] = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message} (hint: {self.hint})"
        return self.message


class NotFoundError(ClosedLoopError):
    """A named object (run, experiment, artifact, key) does not exist."""

    code = "NOT_FOUND"
    exit_code = 3


class WorkspaceNotFoundError(NotFoundError):
    """No workspace was found from the current directory or the settings."""

    code = "WORKSPACE_NOT_FOUND"
    exit_code = 4


class AlreadyExistsError(ClosedLoopError):
    """An object with the same identity already exists."""

    code = "ALREADY_EXISTS"
    exit_code = 5


class InvalidArgumentError(ClosedLoopError, ValueError):
    """An argument given by the user is not acceptable."""

    code = "INVALID_ARGUMENT"
    exit_code = 2


class FilterSyntaxError(InvalidArgumentError):
    """A search filter or order-by expression cannot be parsed."""

    code = "FILTER_SYNTAX"


class DataValidationError(InvalidArgumentError):
    """Data does not fit the schema it must follow; nothing of it was stored.

    Attributes:
        report: The validation report (which column, which rule, how many rows), when the
            check produced one.
    """

    code = "DATA_VALIDATION"

    def __init__(self, message: str, *, hint: str | None = None, report: object = None) -> None:
        super().__init__(message, hint=hint)
        self.report = report


class NotFittedError(InvalidArgumentError, AttributeError):
    """An estimator-like component was used before ``fit``."""

    code = "NOT_FITTED"


class PermissionDeniedError(ClosedLoopError):
    """The actor may not perform the action on the resource."""

    code = "PERMISSION_DENIED"
    exit_code = 6


class ConfigurationError(ClosedLoopError):
    """Settings are missing or contradictory."""

    code = "CONFIGURATION"
    exit_code = 7


class UnsupportedBackendError(ConfigurationError):
    """A URI names a scheme no backend is registered for."""

    code = "UNSUPPORTED_BACKEND"


class StorageError(ClosedLoopError):
    """The metadata or artifact backend failed."""

    code = "STORAGE"
    exit_code = 8


class SchemaVersionError(StorageError):
    """The metadata database schema is not at the version this code expects."""

    code = "SCHEMA_VERSION"
    exit_code = 9


class ArtifactIntegrityError(StorageError):
    """A stored object does not match its recorded digest or failed authentication."""

    code = "ARTIFACT_INTEGRITY"
    exit_code = 10


class UnauthenticatedArtifactError(ArtifactIntegrityError):
    """A stored object is not authenticated by the workspace key, so it cannot be trusted.

    Raised where authentication is required (a model is code once unpickled): the object is
    plain, so anyone who can write the artifact folder could have planted it.
    """

    code = "ARTIFACT_UNAUTHENTICATED"


class CryptoError(ClosedLoopError):
    """Encryption or decryption failed for a reason other than tampering."""

    code = "CRYPTO"
    exit_code = 11


class KeyNotFoundError(CryptoError):
    """A key id recorded with an object is not in the workspace keyring."""

    code = "KEY_NOT_FOUND"


class RunStateError(ClosedLoopError):
    """The operation does not fit the run's current status (e.g. logging to an ended run)."""

    code = "RUN_STATE"
    exit_code = 12


class DataWarning(UserWarning):
    """Data was accepted with something worth knowing (a guessed delimiter or encoding).

    The SDK's front door (:class:`closedloop.Client`) issues these as Python warnings, so a
    notebook shows them; the functions below it return them in their results instead.
    """

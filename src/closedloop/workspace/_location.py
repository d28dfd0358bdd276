"""Where a workspace's pieces live, resolved from the settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from closedloop.config import WORKSPACE_DIR, Settings, find_workspace_root
from closedloop.errors import ConfigurationError, WorkspaceNotFoundError

__all__ = ["DB_FILE", "KEY_FILE", "WorkspaceLocation", "resolve_location"]

DB_FILE = "closedloop.db"
KEY_FILE = "keys/workspace.key"
ARTIFACT_DIR = "artifacts"


@dataclass(frozen=True, slots=True)
class WorkspaceLocation:
    """The resolved addresses of one workspace.

    Attributes:
        root: The folder holding ``.closedloop/``, or ``None`` for a workspace given only by
            URIs (a team database with remote artifacts).
        metadata_uri: The metadata database URI.
        artifact_uri: The artifact store URL.
        key_file: The key file path.
    """

    root: Path | None
    metadata_uri: str
    artifact_uri: str
    key_file: Path

    @property
    def state_dir(self) -> Path | None:
        """``<root>/.closedloop`` when there is a root."""
        return None if self.root is None else self.root / WORKSPACE_DIR


def resolve_location(settings: Settings, *, must_exist: bool = True) -> WorkspaceLocation:
    """Resolve the workspace the settings point at.

    Args:
        settings: The settings built by ``load_settings``.
        must_exist: Raise if a local workspace folder has no ``.closedloop/`` yet.

    Raises:
        WorkspaceNotFoundError: No workspace was named or found.
        ConfigurationError: A URI-only workspace lacks its artifact URI or key file.
    """
    ws = settings.workspace
    metadata_uri = settings.metadata_uri
    root: Path | None = None
    if ws and "://" in ws:
        metadata_uri = metadata_uri or ws
    elif ws:
        root = Path(ws).expanduser().resolve()
        if root.name == WORKSPACE_DIR:
            root = root.parent
    if root is None and metadata_uri is None:
        root = find_workspace_root(Path.cwd())
    if root is None and metadata_uri is None:
        raise WorkspaceNotFoundError(
            "no closedloop workspace here or in any parent folder",
            hint="run `closedloop init` here, or set CLOSEDLOOP_WORKSPACE / --workspace",
        )
    if root is not None:
        state = root / WORKSPACE_DIR
        if must_exist and not state.is_dir():
            raise WorkspaceNotFoundError(
                f"{root} is not a closedloop workspace (no {WORKSPACE_DIR}/ folder)",
                hint=f"run `closedloop init {root}`",
            )
        return WorkspaceLocation(
            root=root,
            metadata_uri=metadata_uri or f"sqlite:///{state / DB_FILE}",
            artifact_uri=settings.artifact_uri or str(state / ARTIFACT_DIR),
            key_file=settings.key_file or state / KEY_FILE,
        )
    assert metadata_uri is not None
    missing = [
        name
        for name, value in (
            ("artifact_uri", settings.artifact_uri),
            ("key_file", settings.key_file),
        )
        if value is None
    ]
    if missing:
        raise ConfigurationError(
            f"a workspace given by database URI also needs {' and '.join(missing)}",
            hint="set "
            + ", ".join(f"CLOSEDLOOP_{m.upper()}" for m in missing)
            + " (or put them in closedloop.yaml)",
        )
    assert settings.artifact_uri is not None
    assert settings.key_file is not None
    return WorkspaceLocation(None, metadata_uri, settings.artifact_uri, settings.key_file)

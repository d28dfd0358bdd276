"""Settings: one object, built once at the entry point.

Sources, later ones winning: defaults, the workspace's ``closedloop.yaml``, ``CLOSEDLOOP_*``
environment variables, explicit overrides. No module reads the environment at import time.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from closedloop.errors import ConfigurationError

__all__ = [
    "CONFIG_FILE",
    "ENV_PREFIX",
    "WORKSPACE_DIR",
    "AuditReads",
    "Settings",
    "load_settings",
]

ENV_PREFIX = "CLOSEDLOOP_"
WORKSPACE_DIR = ".closedloop"
CONFIG_FILE = "closedloop.yaml"

#: Which reads the audit log records (see ``closedloop.workspace.Actions``).
AuditReads = Literal["all", "data_and_models", "none"]


class Settings(BaseModel):
    """Everything closedloop can be configured with.

    Attributes:
        workspace: A workspace directory, or a metadata database URI. Unset: found by walking
            up from the current directory to the first folder holding ``.closedloop/``.
        metadata_uri: The metadata database (``sqlite:///…`` or ``postgresql+psycopg://…``).
            Defaults to the SQLite file inside the workspace.
        artifact_uri: Where blobs live: a local folder or any fsspec URL (``s3://bucket/x``).
        key_file: The workspace key file (owner-only permissions).
        encrypt_artifacts: Encrypt new blobs at rest (AES-256-GCM).
        metric_flush_interval: Seconds between background flushes of buffered run data.
        metric_buffer_size: Buffered points that trigger a flush before the interval.
        synchronous_logging: Write every ``log_*`` call before it returns.
        gc_grace_seconds: ``gc`` leaves unreferenced blobs younger than this alone, so it
            never races a writer that has stored a blob but not yet recorded it.
        storage_options: Extra fsspec options for the artifact filesystem.
        serving_max_body_bytes: Most bytes of one request body the model server accepts
            (larger: 413).
        serving_max_string_length: Most characters of one category or string value in a
            request (longer: 422 naming the field).
        serving_out_of_range: A served number outside the range seen in training:
            ``warn`` (served with a warning, counted in the audit log) or ``refuse`` (422).
        serving_unseen_categories: A served category not seen in training: ``warn`` or
            ``refuse``, as for ``serving_out_of_range``.
        serving_reload_seconds: How often a model server looks at the registry for moved
            aliases and changed endpoints, and swaps to the new versions (0: never).
        serving_workers: Worker processes of ``closedloop serve`` (sharing one port and
            one prediction log).
        audit_reads: Which reads the audit log records (writes always are): ``all``;
            ``data_and_models`` (datasets, models, predictions and artifacts, not runs,
            experiments or loop decisions); or ``none``.
        monitoring: How ``closedloop monitor run`` watches served models: windows, drift
            rules per column, sensitive columns, alert rules and sinks (validated by
            ``closedloop.monitoring.MonitorConfig`` when monitoring starts; see
            ``docs/monitoring.md``).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    workspace: str | None = None
    metadata_uri: str | None = None
    artifact_uri: str | None = None
    key_file: Path | None = None
    encrypt_artifacts: bool = True
    metric_flush_interval: float = Field(default=5.0, gt=0)
    metric_buffer_size: int = Field(default=10_000, ge=1)
    synchronous_logging: bool = False
    gc_grace_seconds: float = Field(default=3600.0, ge=0)
    storage_options: dict[str, Any] = Field(default_factory=dict)
    serving_max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1)
    serving_max_string_length: int = Field(default=1000, ge=1)
    serving_out_of_range: Literal["warn", "refuse"] = "warn"
    serving_unseen_categories: Literal["warn", "refuse"] = "warn"
    serving_reload_seconds: float = Field(default=2.0, ge=0)
    serving_workers: int = Field(default=1, ge=1, le=64)
    audit_reads: AuditReads = "data_and_models"
    monitoring: dict[str, Any] = Field(default_factory=dict)


def _from_env(environ: Mapping[str, str]) -> dict[str, str]:
    fields = Settings.model_fields
    out: dict[str, str] = {}
    for key, value in environ.items():
        if key.startswith(ENV_PREFIX):
            name = key[len(ENV_PREFIX) :].lower()
            if name in fields and name not in ("storage_options", "monitoring"):
                out[name] = value
    return out


def read_config_file(path: Path) -> dict[str, Any]:
    """Read a ``closedloop.yaml`` settings file.

    Raises:
        ConfigurationError: The file is not a YAML mapping.
    """
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        raise ConfigurationError(f"{path} is not valid YAML: {e}") from e
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigurationError(
            f"{path} must hold a mapping of settings, not {type(data).__name__}"
        )
    return data


def find_workspace_root(start: Path) -> Path | None:
    """The nearest folder at or above ``start`` that holds ``.closedloop/`` (like git)."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / WORKSPACE_DIR).is_dir():
            return folder
    return None


def load_settings(
    overrides: Mapping[str, Any] | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Settings:
    """Build the settings for one entry point (CLI command, SDK client, server).

    Precedence, lowest first: defaults, ``<workspace>/.closedloop/closedloop.yaml``,
    ``CLOSEDLOOP_*`` environment variables, ``overrides`` (``None`` values are ignored).

    Raises:
        ConfigurationError: A value does not validate or the file holds an unknown setting.
    """
    env = _from_env(os.environ if environ is None else environ)
    given = {k: v for k, v in (overrides or {}).items() if v is not None}
    hint = given.get("workspace") or env.get("workspace")
    file_values: dict[str, Any] = {}
    root: Path | None
    if hint and "://" not in str(hint):
        root = Path(hint).expanduser()
        if root.name == WORKSPACE_DIR:
            root = root.parent
    elif hint:
        root = None
    else:
        root = find_workspace_root(cwd or Path.cwd())
    if root is not None:
        config_path = root / WORKSPACE_DIR / CONFIG_FILE
        if config_path.is_file():
            file_values = read_config_file(config_path)
            # relative paths in the file are relative to the workspace root
            for key in ("key_file", "artifact_uri"):
                value = file_values.get(key)
                if isinstance(value, str) and "://" not in value:
                    path = Path(value).expanduser()
                    file_values[key] = str(path if path.is_absolute() else root / path)
        if not hint:
            given.setdefault("workspace", str(root))
    try:
        return Settings.model_validate({**file_values, **env, **given})
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        raise ConfigurationError(
            f"invalid setting {where}: {first['msg']}",
            hint=f"check {where} in closedloop.yaml or {ENV_PREFIX}{where.upper()}",
        ) from e

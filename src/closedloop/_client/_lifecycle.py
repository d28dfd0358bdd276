"""The lifecycle areas of the SDK: datasets, models, predictions and the loop's decisions.

Each method is the verb it names (in :mod:`closedloop.data`, :mod:`closedloop.registry`,
:mod:`closedloop.serving` or :mod:`closedloop.loop`), with the same parameters, bound to the
client's workspace. Those packages import pandas, scikit-learn or FastAPI, so each is
imported on the first call that needs it: ``import closedloop`` stays light.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from closedloop._client._predictions import PredictionsClient
from closedloop._client._tracking import Area
from closedloop.core import (
    AliasChange,
    DatasetVersion,
    LoopDecision,
    ModelVersion,
    ProgressCallback,
    RegisteredModel,
    TableSchema,
)

if TYPE_CHECKING:
    import pandas as pd

    from closedloop.data import ValidationReport
    from closedloop.features._onnx import OnnxConversion

__all__ = ["DatasetsClient", "DecisionsClient", "ModelsClient", "PredictionsClient"]


class DatasetsClient(Area):
    """Datasets: immutable, content-addressed versions with their schema and lineage.

    Example:
        >>> version = client.datasets.ingest("train.csv", "churn")
        >>> frame = client.datasets.load("churn@latest")
    """

    def ingest(
        self,
        source: str | Path,
        dataset: str,
        *,
        format: str | None = None,
        options: Mapping[str, Any] | None = None,
        schema: TableSchema | None = None,
        parents: Sequence[str | DatasetVersion] = (),
        progress: ProgressCallback | None = None,
    ) -> DatasetVersion:
        """Ingest a CSV/Parquet/JSON file as an immutable dataset version.

        See :func:`closedloop.data.ingest`. The same content always gives the same version.
        What ingest accepted but you should know (a detected delimiter, a fallback
        encoding, a column without a name) is issued as a :class:`~closedloop.errors.DataWarning`.
        """
        import warnings

        from closedloop import data
        from closedloop.errors import DataWarning

        result = data.ingest(
            self.workspace,
            source,
            dataset,
            format=format,
            options=options,
            schema=schema,
            parents=parents,
            progress=progress,
        )
        for warning in result.warnings:
            warnings.warn(str(warning), DataWarning, stacklevel=2)
        return result.version

    def load(self, ref: str | DatasetVersion) -> pd.DataFrame:
        """A dataset version as a pandas DataFrame (``name@latest``, ``name/2``, …)."""
        from closedloop import data

        return data.load(self.workspace, ref)

    def list(self, dataset: str | None = None) -> builtins.list[DatasetVersion]:
        """Versions of one dataset (or of all), by dataset then number."""
        from closedloop import data

        return data.list_versions(self.workspace, dataset)

    def get(self, ref: str) -> DatasetVersion:
        """One dataset version (``name@latest``, ``name/2``) with its schema and lineage."""
        from closedloop import data

        return data.get_version(self.workspace, ref)

    def validate(
        self,
        ref: str | DatasetVersion,
        source_or_frame: str | Path | pd.DataFrame,
        *,
        format: str | None = None,
        options: Mapping[str, Any] | None = None,
    ) -> ValidationReport:
        """Check a batch against a version's schema; see :func:`closedloop.data.validate_batch`."""
        from closedloop import data

        return data.validate_batch(
            self.workspace, ref, source_or_frame, format=format, options=options
        )


class ModelsClient(Area):
    """The model registry: versions with signature and lineage, aliases such as ``champion``.

    Example:
        >>> v1 = client.models.register("churn", model, signature=sig, target="y")
        >>> client.models.set_alias("churn", "champion", v1.version)
        >>> client.models.load("churn@champion").predict(frame)
    """

    def register(
        self,
        name: str,
        model: Any,
        *,
        signature: TableSchema,
        target: str,
        classes: Sequence[str] = (),
        metrics: Mapping[str, float] | None = None,
        run_id: str | None = None,
        dataset_version_id: str | None = None,
        aliases: Sequence[str] = (),
    ) -> ModelVersion:
        """Register a fitted model; see :func:`closedloop.registry.register_model`."""
        from closedloop import registry

        return registry.register_model(
            self.workspace,
            name,
            model,
            signature=signature,
            target=target,
            classes=classes,
            metrics=metrics,
            run_id=run_id,
            dataset_version_id=dataset_version_id,
            aliases=aliases,
        )

    def register_from_run(
        self,
        name: str,
        run_id: str,
        artifact_path: str = "model/pipeline.pkl",
        *,
        signature: TableSchema,
        target: str,
        classes: Sequence[str] | None = None,
        metrics: Mapping[str, float] | None = None,
        dataset_version_id: str | None = None,
        aliases: Sequence[str] = (),
    ) -> ModelVersion:
        """Register the model a run stored, without storing it again.

        See :func:`closedloop.registry.register_model_from_run`.
        """
        from closedloop import registry

        return registry.register_model_from_run(
            self.workspace,
            name,
            run_id,
            artifact_path,
            signature=signature,
            target=target,
            classes=classes,
            metrics=metrics,
            dataset_version_id=dataset_version_id,
            aliases=aliases,
        )

    def get(self, ref: str) -> ModelVersion:
        """A registered model version with its signature, lineage and aliases."""
        from closedloop import registry

        return registry.get_model_version(self.workspace, ref)

    def list(self, name: str | None = None) -> builtins.list[ModelVersion]:
        """Registered versions of one model (or of all)."""
        from closedloop import registry

        return registry.list_model_versions(self.workspace, name)

    def load(self, ref: str | ModelVersion) -> Any:
        """The estimator registered as ``ref`` (``name@champion``, ``name/3``), verified."""
        from closedloop import registry

        return registry.load_model(self.workspace, ref).model

    def set_alias(self, name: str, alias: str, version: int, *, reason: str = "") -> ModelVersion:
        """Point an alias (``champion``) at a version: promotion and rollback.

        The move and ``reason`` are kept in the alias's history (:meth:`alias_history`).
        """
        from closedloop import registry

        return registry.set_alias(self.workspace, name, alias, version, reason=reason)

    def delete_alias(self, name: str, alias: str, *, reason: str = "") -> None:
        """Remove an alias from the model ``name`` (kept in its history with ``reason``)."""
        from closedloop import registry

        registry.delete_alias(self.workspace, name, alias, reason=reason)

    def convert_to_onnx(
        self,
        ref: str | ModelVersion,
        validation: pd.DataFrame | None = None,
        *,
        atol: float = 1e-4,
    ) -> OnnxConversion:
        """Convert a version to ONNX, recorded only if it predicts what the model does.

        See :func:`closedloop.registry.convert_to_onnx`.
        """
        from closedloop import registry

        return registry.convert_to_onnx(self.workspace, ref, validation, atol=atol)

    def alias_history(self, name: str, alias: str | None = None) -> builtins.list[AliasChange]:
        """Every move of ``name``'s aliases (or of one), newest first: from, to, who, why."""
        from closedloop import registry

        return registry.alias_history(self.workspace, name, alias)

    def get_model(self, name: str) -> RegisteredModel:
        """A model's description, tags, latest version and aliases."""
        from closedloop import registry

        return registry.get_model(self.workspace, name)

    def list_models(self) -> builtins.list[RegisteredModel]:
        """Every registered model, by name."""
        from closedloop import registry

        return registry.list_models(self.workspace)

    def set_description(self, ref_or_name: str, text: str | None) -> None:
        """Describe a model (``churn``) or a version (``churn/3``); empty text clears it."""
        from closedloop import registry

        registry.set_description(self.workspace, ref_or_name, text)

    def set_tag(self, ref_or_name: str, key: str, value: str) -> None:
        """Set a tag of a model (``churn``) or of a version (``churn/3``)."""
        from closedloop import registry

        registry.set_tag(self.workspace, ref_or_name, key, value)

    def delete_tag(self, ref_or_name: str, key: str) -> None:
        """Remove a tag of a model or of a version."""
        from closedloop import registry

        registry.delete_tag(self.workspace, ref_or_name, key)


class DecisionsClient(Area):
    """The loop's champion/challenger decisions, with their reasons."""

    def list(self, model: str | None = None) -> builtins.list[LoopDecision]:
        """Decisions about ``model`` (or every model), newest first."""
        from closedloop.loop import list_decisions

        return list_decisions(self.workspace, model)

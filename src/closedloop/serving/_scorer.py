"""Scorers: a loaded model version that turns a :class:`Batch` into a :class:`Scored`, once.

:class:`PipelineScorer` runs the registered estimator as is. A classifier is scored once:
``predict_proba``, and the labels are the classes of the highest probabilities, which is
what ``predict`` returns for scikit-learn's probabilistic classifiers (the estimators whose
``predict`` is not the arg-max of ``predict_proba`` — support-vector machines — are also
asked ``predict``). Its input is built in one step: a plain estimator fit on an array (no
``feature_names_in_``) over numeric columns gets a 2-D array; anything else a DataFrame
with the signature's columns. (scikit-learn's own finiteness check stays on: a missing
value a model cannot impute must fail the request, not answer NaN.)

:class:`~closedloop.serving._onnx.OnnxScorer` is the fast path when the version has a
verified ONNX conversion; :func:`make_scorer` picks. :func:`load_scorer` loads a version for a
server: when its conversion alone is enough to score it faithfully, the pickled pipeline is
not even read, so a server of converted models imports neither scikit-learn nor pandas.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from closedloop import registry
from closedloop.core import ModelVersion
from closedloop.errors import InvalidArgumentError
from closedloop.serving._batch import Batch, Scored
from closedloop.workspace import Workspace

__all__ = ["PipelineScorer", "Scorer", "load_scorer", "make_scorer"]

#: Final estimators whose ``predict`` is not the arg-max of ``predict_proba``.
_PREDICT_DIFFERS = frozenset({"SVC", "NuSVC"})


class Scorer(Protocol):
    """Scores validated batches for one model version; safe to call from any thread."""

    version: ModelVersion
    kind: str  # "pipeline" or "onnx"

    def score(self, batch: Batch) -> Scored:
        """Labels (and probabilities) for every row of ``batch``."""
        ...


def _final_estimator(model: Any) -> Any:
    steps = getattr(model, "steps", None)
    return steps[-1][1] if steps else model


class PipelineScorer:
    """The registered estimator (scikit-learn API), scored once per batch.

    Args:
        version: The model version.
        model: Its fitted estimator or pipeline.

    Raises:
        InvalidArgumentError: The registered classes contradict the model's.
    """

    kind = "pipeline"

    def __init__(self, version: ModelVersion, model: Any) -> None:
        self.version = version
        self.model = model
        self.has_proba = callable(getattr(model, "predict_proba", None))
        model_classes = [str(c) for c in getattr(model, "classes_", [])]
        self.classes: list[str] = list(version.classes) or model_classes
        if self.has_proba and model_classes and self.classes != model_classes:
            raise InvalidArgumentError(
                f"{version.id} was registered with classes {self.classes} but the model "
                f"predicts {model_classes}",
                hint="re-register the model with classes=list(model.classes_)",
            )
        raw_classes = getattr(model, "classes_", None)
        self._class_values = None if raw_classes is None else np.asarray(raw_classes)
        final = _final_estimator(model)
        self._predict_too = type(final).__name__ in _PREDICT_DIFFERS
        signature = version.signature
        plain = not hasattr(model, "steps") and not hasattr(model, "feature_names_in_")
        self._use_matrix = plain and all(c.type.is_numeric for c in signature.columns)

    def _input(self, batch: Batch) -> Any:
        if self._use_matrix:
            matrix = batch.matrix()
            if matrix is not None:
                return matrix
        return batch.frame()

    def score(self, batch: Batch) -> Scored:
        """Score every row of ``batch`` with one call into the model.

        Raises:
            InvalidArgumentError: The model could not score the rows (e.g. a missing value
                it cannot impute).
        """
        data = self._input(batch)
        try:
            if self.has_proba and self._class_values is not None:
                proba = np.asarray(self.model.predict_proba(data), dtype=np.float64)
                if self._predict_too:
                    labels = np.asarray(self.model.predict(data))
                else:
                    labels = self._class_values[np.argmax(proba, axis=1)]
                return Scored(labels, proba, self.classes, self.version.id)
            labels = np.asarray(self.model.predict(data))
        except (ValueError, TypeError) as e:  # e.g. a missing value the model cannot impute
            raise InvalidArgumentError(
                f"the model could not score the records: {e}",
                hint="check the records against the signature at /metadata",
            ) from e
        return Scored(labels, None, self.classes if self.has_proba else [], self.version.id)


def make_scorer(
    version: ModelVersion,
    model: Any,
    onnx_bytes: bytes | None = None,
    *,
    classes: Sequence[str] | None = None,
) -> Scorer:
    """The fastest faithful scorer: ONNX when a verified conversion is given, else the model.

    Args:
        version: The model version.
        model: Its fitted estimator.
        onnx_bytes: A conversion verified against the model (see ``registry.convert_to_onnx``).
        classes: Override of the class labels (default: the version's).
    """
    pipeline = PipelineScorer(version, model)
    if onnx_bytes is None:
        return pipeline
    from closedloop.serving._onnx import OnnxScorer

    return _Onnx(
        version,
        OnnxScorer(
            onnx_bytes,
            version.signature,
            list(classes) if classes is not None else pipeline.classes,
            version.id,
        ),
    )


def load_scorer(ws: Workspace, version: ModelVersion, use_onnx: bool) -> Scorer:
    """Load ``version`` for serving (verified and authenticated, through the gate).

    With ``use_onnx`` and a verified conversion (``version.onnx_digest``) whose graph
    predicts exactly the version's registered classes (or, for a regressor, none), the
    conversion alone is loaded and scored: the pipeline is not unpickled, so neither
    scikit-learn nor its pipeline's memory enters the server. The audit log records that
    one ``model.load`` (``format: onnx``). Otherwise (no conversion, ``use_onnx`` off, or
    classes the graph cannot confirm) the pipeline is loaded as well, and
    :func:`make_scorer` checks the registered classes against it and scores with the
    conversion when there is one, as before.

    Raises:
        NotFoundError: The version's blob (or its conversion's) is missing.
        UnauthenticatedArtifactError: A blob is not authenticated by the workspace key.
        ArtifactIntegrityError: A blob is corrupt or fails authentication.
        InvalidArgumentError: The registered classes contradict the model's, or the
            conversion's graph does not fit the signature.
    """
    onnx = None
    if use_onnx and version.onnx_digest is not None:
        onnx = registry.load_onnx(ws, version)
        if onnx is not None:
            from closedloop.serving._onnx import OnnxScorer, graph_classes

            if graph_classes(onnx) == tuple(version.classes):
                inner = OnnxScorer(onnx, version.signature, list(version.classes), version.id)
                return _Onnx(version, inner)
    loaded = registry.load_model(ws, version)
    return make_scorer(loaded.version, loaded.model, onnx)


class _Onnx:
    """An :class:`~closedloop.serving._onnx.OnnxScorer` as a :class:`Scorer` of a version."""

    kind = "onnx"

    def __init__(self, version: ModelVersion, inner: Any) -> None:
        self.version = version
        self._inner = inner

    def score(self, batch: Batch) -> Scored:
        """Score every row of ``batch`` with one ONNX Runtime session run."""
        scored: Scored = self._inner.score(batch)
        return scored

"""The ONNX fast path: score a :class:`Batch` with onnxruntime instead of the pipeline.

A component (no workspace, no stores). Single-row scoring through a scikit-learn pipeline on
a DataFrame costs about a millisecond; an onnxruntime session fed the batch's column arrays
directly costs microseconds. A conversion is used only once it was accepted by
:func:`convert_pipeline` (identical labels, probabilities within ``atol`` on validation
rows), which :func:`closedloop.registry.convert_to_onnx` records on the model version; the
scorer feeds columns exactly as that validation did (:func:`closedloop.features._onnx.onnx_feeds`).

onnxruntime is the optional ``onnx`` extra, imported when a scorer is made.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from closedloop.core import TableSchema
from closedloop.errors import InvalidArgumentError
from closedloop.features._onnx import (
    OnnxConversion,
    convert_pipeline,
    new_session,
    onnx_available,
    onnx_feeds,
)
from closedloop.serving._batch import Batch, Scored

__all__ = ["OnnxConversion", "OnnxScorer", "convert_pipeline", "graph_classes", "onnx_available"]


class OnnxScorer:
    """Scores batches with one onnxruntime session (one thread, sequential execution).

    ``score`` may be called from several threads at once: ``session.run`` releases the GIL
    and a session is safe to share.

    Args:
        onnx_bytes: An accepted conversion (``OnnxConversion.onnx_bytes``).
        signature: The model's input schema; every column must be a graph input.
        classes: Class labels in the probability columns' order (empty for a regressor).
        model_version_id: ``<name>/<version>``, carried into each :class:`Scored`.

    Raises:
        InvalidArgumentError: The graph's inputs are not the signature's columns, or its
            probabilities have a column per class other than ``classes``.
        ImportError: onnxruntime is not installed (the ``onnx`` extra).
    """

    def __init__(
        self,
        onnx_bytes: bytes,
        signature: TableSchema,
        classes: Sequence[str],
        model_version_id: str,
    ) -> None:
        """Open the session and check the graph against the signature."""
        self.signature = signature
        self.classes: tuple[str, ...] = tuple(classes)
        self.model_version_id = model_version_id
        onnx_bytes, self._matrix_input = _single_matrix_input(onnx_bytes, signature)
        self._session = new_session(onnx_bytes)
        self._input_types = {i.name: i.type for i in self._session.get_inputs()}
        if self._matrix_input is not None:
            self._matrix_dtype = _ONNX_FLOATS[self._input_types[self._matrix_input[0]]]
            self._input_types = {n: self._matrix_input[1] for n in signature.names}
        if set(self._input_types) != set(signature.names):
            raise InvalidArgumentError(
                f"the ONNX model of {model_version_id} takes inputs {sorted(self._input_types)}, "
                f"not the signature's columns {signature.names}",
                hint="convert the model again with closedloop models onnx",
            )
        outputs = self._session.get_outputs()
        self._has_probabilities = len(outputs) > 1
        if self._has_probabilities:
            width = outputs[1].shape[-1] if outputs[1].shape else None
            if isinstance(width, int) and width != len(self.classes):
                raise InvalidArgumentError(
                    f"the ONNX model of {model_version_id} gives {width} probabilities per "
                    f"row but the version has {len(self.classes)} classes",
                    hint="convert the model again with closedloop models onnx",
                )

    def score(self, batch: Batch) -> Scored:
        """Labels (as the pipeline's ``predict`` gives them) and ``float64`` probabilities.

        Raises:
            InvalidArgumentError: A column is missing from the batch, or a column the graph
                takes as ``int64`` has a missing value.
        """
        matrix = batch.matrix() if self._matrix_input is not None else None
        if matrix is not None and self._matrix_input is not None:
            feeds = {self._matrix_input[0]: matrix.astype(self._matrix_dtype, copy=False)}
        else:
            feeds = onnx_feeds(batch.columns, self._input_types)
        outputs = self._session.run(None, feeds)
        labels = np.asarray(outputs[0]).ravel()
        probabilities = (
            np.asarray(outputs[1], dtype=np.float64) if self._has_probabilities else None
        )
        return Scored(labels, probabilities, self.classes, self.model_version_id)


_ONNX_FLOATS = {"tensor(double)": np.float64, "tensor(float)": np.float32}
#: Nodes that carry the predicted label through unchanged (as values, not as bytes).
_LABEL_PASS_THROUGH = frozenset({"Cast", "Flatten", "Identity", "Reshape", "Squeeze", "Unsqueeze"})


def graph_classes(onnx_bytes: bytes) -> tuple[str, ...] | None:
    """The class labels a converted model's graph predicts, read from the graph alone.

    skl2onnx writes a classifier's labels into its graph: as the ``classlabels_*``
    attribute of an ``ai.onnx.ml`` classifier node (trees, support vectors), or as a
    constant that an ``ArrayFeatureExtractor`` indexes with the arg-max (linear models).
    Walking back from the label output to one of those gives them, as text, in the order
    of the probability columns. This lets a server check a version's registered classes
    against its conversion without loading the pipeline.

    Returns:
        The labels (``str`` of each) for a classifier; ``()`` for a regressor (a graph with
        one floating-point output); ``None`` when the graph does not say where the labels
        come from.
    """
    import onnx
    from onnx import numpy_helper

    graph = onnx.load_from_string(onnx_bytes).graph
    outputs = list(graph.output)
    if len(outputs) == 1:
        kind = outputs[0].type.tensor_type.elem_type
        return () if kind in (onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE) else None
    if len(outputs) != 2:
        return None
    producers = {name: node for node in graph.node for name in node.output}
    constants = {c.name: c for c in graph.initializer}
    name = outputs[0].name
    for _ in range(len(graph.node)):
        node = producers.get(name)
        if node is None:
            return None
        if node.op_type in _LABEL_PASS_THROUGH and node.domain in ("", "ai.onnx"):
            name = node.input[0]
            continue
        if node.op_type == "ArrayFeatureExtractor" and node.input[0] in constants:
            values = numpy_helper.to_array(constants[node.input[0]]).ravel().tolist()
            return tuple(v.decode() if isinstance(v, bytes) else str(v) for v in values)
        if node.domain == "ai.onnx.ml" and node.op_type.endswith("Classifier"):
            if name != node.output[0]:
                return None
            for attribute in node.attribute:
                if attribute.name == "classlabels_strings":
                    return tuple(v.decode() for v in attribute.strings)
                if attribute.name in ("classlabels_int64s", "classlabels_ints"):
                    return tuple(str(v) for v in attribute.ints)
        return None
    return None


def _single_matrix_input(
    onnx_bytes: bytes, signature: TableSchema
) -> tuple[bytes, tuple[str, str] | None]:
    """The graph fed one ``[n, k]`` matrix instead of ``k`` columns, when that is the same.

    A model fitted on an array was converted with one ``Concat`` of the per-column inputs
    in front (``closedloop_columns``). When every input is numeric of one float type and
    the ``Concat`` takes them in signature order, dropping it and feeding the batch's
    numeric matrix computes exactly the same, and one input costs a session run less than
    half of what thirty do. Otherwise the graph is kept as it is.

    Returns:
        The graph to load, and ``(matrix input name, the columns' onnxruntime type)`` when
        it was rewritten (else ``None``).
    """
    import onnx

    model = onnx.load_from_string(onnx_bytes)
    graph = model.graph
    first = graph.node[0] if graph.node else None
    names = [i.name for i in graph.input]
    if first is None or first.name != "closedloop_columns" or first.op_type != "Concat":
        return onnx_bytes, None
    if list(first.input) != names or names != signature.names:
        return onnx_bytes, None
    types = {i.type.tensor_type.elem_type for i in graph.input}
    float_types = {
        onnx.TensorProto.DOUBLE: "tensor(double)",
        onnx.TensorProto.FLOAT: "tensor(float)",
    }
    if len(types) != 1 or next(iter(types)) not in float_types:
        return onnx_bytes, None
    elem_type = next(iter(types))
    if any(node is not first and set(node.input) & set(names) for node in graph.node):
        return onnx_bytes, None  # a column is used beyond the Concat
    matrix = first.output[0]
    graph.node.remove(first)
    del graph.input[:]
    graph.input.append(onnx.helper.make_tensor_value_info(matrix, elem_type, [None, len(names)]))
    return model.SerializeToString(), (matrix, float_types[elem_type])

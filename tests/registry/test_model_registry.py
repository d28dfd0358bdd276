from __future__ import annotations

import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from closedloop import registry
from closedloop.errors import ArtifactIntegrityError, InvalidArgumentError, NotFoundError
from closedloop.features import FeatureSpec
from closedloop.workspace import Workspace
from lifecycle_support import SCHEMA, make_frame

SPEC = FeatureSpec(numeric=("age", "hours"), categorical=("group", "job"))


def _model() -> object:
    frame = make_frame(300)
    return make_pipeline(SPEC.build(), LogisticRegression(max_iter=500)).fit(frame, frame["y"])


def test_register_alias_and_load(workspace: Workspace) -> None:
    model = _model()
    sig = SPEC.signature(SCHEMA)
    v1 = registry.register_model(
        workspace,
        "m",
        model,
        signature=sig,
        target="y",
        classes=["no", "yes"],
        metrics={"roc_auc": 0.8},
        aliases=["champion"],
    )
    v2 = registry.register_model(workspace, "m", model, signature=sig, target="y")
    assert (v1.id, v2.id) == ("m/1", "m/2")
    assert v1.aliases == ("champion",)
    assert registry.get_model_version(workspace, "m@champion").id == "m/1"
    assert registry.get_model_version(workspace, "m@latest").id == "m/2"
    registry.set_alias(workspace, "m", "champion", 2)  # promotion moves the alias
    assert registry.get_model_version(workspace, "m@champion").id == "m/2"
    assert registry.get_model_version(workspace, "m/1").aliases == ()
    loaded = registry.load_model(workspace, "m@champion")
    frame = make_frame(20, seed=5)
    assert (loaded.model.predict(frame) == model.predict(frame)).all()  # type: ignore[attr-defined]
    assert loaded.version.signature == sig
    assert [v.id for v in registry.list_model_versions(workspace, "m")] == ["m/1", "m/2"]
    registry.delete_alias(workspace, "m", "champion")
    with pytest.raises(NotFoundError, match="champion"):
        registry.get_model_version(workspace, "m@champion")
    actions = {e.action for e in workspace.metadata.list_audit_events(limit=50)}
    assert {"model.register", "model.alias", "model.load"} <= actions


def test_refusals(workspace: Workspace) -> None:
    sig = SPEC.signature(SCHEMA)
    with pytest.raises(InvalidArgumentError, match="predict"):
        registry.register_model(workspace, "m", object(), signature=sig, target="y")
    with pytest.raises(InvalidArgumentError, match="name"):
        registry.register_model(workspace, "a@b", _model(), signature=sig, target="y")
    with pytest.raises(NotFoundError):
        registry.get_model_version(workspace, "ghost/1")
    registry.register_model(workspace, "m", _model(), signature=sig, target="y")
    with pytest.raises(InvalidArgumentError):
        registry.set_alias(workspace, "m", "latest", 1)
    with pytest.raises(NotFoundError):
        registry.set_alias(workspace, "m", "champion", 9)


def test_a_tampered_model_blob_is_refused(workspace: Workspace) -> None:
    v = registry.register_model(
        workspace, "m", _model(), signature=SPEC.signature(SCHEMA), target="y"
    )
    hex_digest = v.artifact_digest.removeprefix("sha256:")
    root = workspace.location.state_dir / "artifacts" / "objects"  # type: ignore[union-attr]
    blob = root / hex_digest[:2] / hex_digest[2:]
    raw = bytearray(blob.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    blob.write_bytes(bytes(raw))
    with pytest.raises(ArtifactIntegrityError):
        registry.load_model(workspace, "m/1")

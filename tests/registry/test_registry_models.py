from __future__ import annotations

import hashlib
import pickle
import sqlite3
from pathlib import Path

import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

from closedloop import Client, registry
from closedloop.artifacts._store import PLAIN_MAGIC
from closedloop.errors import (
    ArtifactIntegrityError,
    InvalidArgumentError,
    NotFoundError,
    UnauthenticatedArtifactError,
)
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
    with pytest.raises(ArtifactIntegrityError, match="model version m/1"):
        registry.load_model(workspace, "m/1")


# -- a planted plain blob must never be unpickled -----------------------------------------------


class _Payload:
    """Unpickling this writes ``marker``: stands in for any code an attacker would run."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (exec, (f"import pathlib; pathlib.Path({str(self.marker)!r}).write_text('pwned')",))


def _plant(workspace: Workspace, marker: Path) -> str:
    """Plant a plain pickle blob and point model version m/1 at it, without the key."""
    assert workspace.location is not None
    assert workspace.location.state_dir is not None
    data = pickle.dumps(_Payload(marker))
    hex_digest = hashlib.sha256(data).hexdigest()
    blob = workspace.location.state_dir / "artifacts" / "objects" / hex_digest[:2]
    blob.mkdir(parents=True, exist_ok=True)
    (blob / hex_digest[2:]).write_bytes(PLAIN_MAGIC + data)
    db = sqlite3.connect(workspace.location.state_dir / "closedloop.db")
    with db:
        db.execute("UPDATE model_versions SET artifact_digest = ?", (f"sha256:{hex_digest}",))
    db.close()
    return f"sha256:{hex_digest}"


def test_the_payload_runs_when_unpickled(tmp_path: Path) -> None:
    """Control: the payload of the tests below is live, so their markers prove something."""
    marker = tmp_path / "control-marker"
    pickle.loads(pickle.dumps(_Payload(marker)))
    assert marker.read_text() == "pwned"


def test_a_planted_plain_model_blob_is_refused_before_unpickling(
    workspace: Workspace, tmp_path: Path
) -> None:
    registry.register_model(workspace, "m", _model(), signature=SPEC.signature(SCHEMA), target="y")
    marker = tmp_path / "marker"
    digest = _plant(workspace, marker)

    with pytest.raises(UnauthenticatedArtifactError, match=r"model version m/1") as info:
        registry.load_model(workspace, "m/1")
    assert digest in info.value.message
    assert info.value.hint is not None
    assert "closedloop verify" in info.value.hint
    assert not marker.exists()
    events = workspace.metadata.list_audit_events(action="model.load", limit=1)
    assert events[0].outcome == "error:ARTIFACT_UNAUTHENTICATED"


def test_the_planted_blob_is_refused_through_the_client_and_serving(
    workspace: Workspace, tmp_path: Path
) -> None:
    from closedloop.serving import create_app

    registry.register_model(
        workspace, "m", _model(), signature=SPEC.signature(SCHEMA), target="y", aliases=["c"]
    )
    marker = tmp_path / "marker"
    _plant(workspace, marker)
    with pytest.raises(UnauthenticatedArtifactError, match="m/1"):
        Client(workspace).models.load("m@c")
    with pytest.raises(UnauthenticatedArtifactError, match="m/1"):
        create_app(workspace, "m@c")
    assert not marker.exists()


def test_models_registered_with_encryption_off_are_signed_and_load(tmp_path: Path) -> None:
    Workspace.init(tmp_path)
    (tmp_path / ".closedloop" / "closedloop.yaml").write_text("encrypt_artifacts: false\n")
    model = _model()
    with Workspace.open(tmp_path) as ws:
        v = registry.register_model(ws, "m", model, signature=SPEC.signature(SCHEMA), target="y")
        loaded = registry.load_model(ws, v.id)
    frame = make_frame(20, seed=3)
    assert (loaded.model.predict(frame) == model.predict(frame)).all()  # type: ignore[attr-defined]

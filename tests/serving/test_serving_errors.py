from __future__ import annotations

import pytest
from fastapi import FastAPI
from serving_support import Served, TestClient, records

import closedloop.serving as serving
from closedloop import errors
from closedloop.serving import HTTP_STATUS, create_app, install_error_handlers, status_for


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (errors.NotFoundError("no such thing"), 404),
        (errors.WorkspaceNotFoundError("no workspace"), 404),
        (errors.InvalidArgumentError("bad"), 422),
        (errors.FilterSyntaxError("bad filter"), 422),
        (errors.DataValidationError("bad data"), 422),
        (errors.PermissionDeniedError("no"), 403),
        (errors.AlreadyExistsError("twice"), 409),
        (errors.StorageError("db down"), 503),
        (errors.SchemaVersionError("old schema"), 503),
        (errors.ArtifactIntegrityError("tampered"), 500),
        (errors.KeyNotFoundError("no key"), 500),
        (errors.RunStateError("ended"), 409),
        (errors.ClosedLoopError("root"), 500),
    ],
)
def test_closedloop_errors_raised_in_the_app_get_their_status(
    error: errors.ClosedLoopError, status: int
) -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/boom")
    def boom() -> None:
        raise error

    with TestClient(app) as client:
        response = client.get("/boom")
    assert response.status_code == status == status_for(error)
    assert response.json() == {
        "error": {"code": error.code, "message": error.message, "hint": error.hint}
    }


def test_every_error_code_has_a_status() -> None:
    codes = {
        cls.code
        for name in errors.__all__
        if isinstance(cls := getattr(errors, name), type)
        and issubclass(cls, errors.ClosedLoopError)
        and cls is not errors.ClosedLoopError
    }
    assert codes <= set(HTTP_STATUS)
    assert HTTP_STATUS["NOT_FOUND"] == 404
    assert HTTP_STATUS["STORAGE"] == 503


def test_an_unknown_subclass_takes_its_parents_status() -> None:
    class GoneError(errors.NotFoundError):
        code = "GONE"

    assert status_for(GoneError("gone")) == 404


def test_the_app_maps_a_store_error_inside_a_request(served: Served) -> None:
    app = create_app(served.ws, "m@champion")

    @app.control.get("/fail")
    def fail() -> None:
        raise errors.PermissionDeniedError("not you", hint="ask an admin")

    with TestClient(app) as client:
        response = client.get("/fail")
        unknown = client.get("/no-such-route")
    assert response.status_code == 403
    assert response.json()["error"] == {
        "code": "PERMISSION_DENIED",
        "message": "not you",
        "hint": "ask an admin",
    }
    assert "X-Request-ID" in response.headers
    assert unknown.status_code == 404
    assert unknown.json()["error"]["code"] == "NOT_FOUND"


class _BrokenAppender:
    def append(self, items: object, audits: object = ()) -> None:
        raise errors.StorageError("metadata database unavailable")

    def close(self) -> None:
        pass


def test_a_prediction_that_cannot_be_logged_is_not_served(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(served.ws.metadata.predictions, "appender", _BrokenAppender)
    with TestClient(create_app(served.ws, "m@champion")) as client:
        response = client.post("/predict", json={"records": records(served.test.iloc[:3])})
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "STORAGE"
    assert "predictions" not in response.json()
    monkeypatch.undo()
    assert served.ws.metadata.predictions.count() == 0
    events = served.ws.metadata.list_audit_events(action="model.predict")
    assert [e.outcome for e in events] == ["error:STORAGE"]


def test_unexpected_errors_are_500_without_internals() -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/bug")
    def bug() -> None:
        raise RuntimeError("secret internals")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/bug")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "INTERNAL"
    assert "secret" not in response.text


def test_public_api_is_exactly_all() -> None:
    public = {n for n in vars(serving) if not n.startswith("_")} - {
        "annotations",
        "errors",
    }
    assert public == set(serving.__all__)
    assert all(getattr(serving, name) is not None for name in serving.__all__)

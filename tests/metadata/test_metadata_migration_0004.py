"""Revision 0004 moves the per-row prediction log into per-request rows, and back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from closedloop.metadata._sql._engine import _alembic_config, create_store_engine

_ROWS = [  # request, row, time, version, inputs, output, latency
    ("req-a", 0, 100, "adult/1", {"age": 30, "job": "x"}, {"label": "no"}, 2.0),
    ("req-a", 2, 102, "adult/1", {"age": 50, "job": None}, {"label": "yes"}, 2.5),
    ("req-a", 1, 101, "adult/1", {"age": 40, "job": "y"}, {"label": "no"}, 1.5),
    ("req-b", 0, 200, "adult/2", {"age": 20, "job": "z"}, "yes", 0.7),
]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def uri(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database on each backend (PostgreSQL: a fresh schema, see ``pg_url``)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'm.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


def _migrate(uri: str, command_name: str, revision: str) -> None:
    from alembic import command

    engine = create_store_engine(uri)
    config = _alembic_config()
    try:  # a refused migration raises: the engine is still disposed (no leaked connection)
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            getattr(command, command_name)(config, revision)
    finally:
        engine.dispose()


def _query(uri: str, sql: str, **params: object) -> list[dict[str, object]]:
    engine = create_store_engine(uri)
    with engine.begin() as conn:
        rows = [dict(r._mapping) for r in conn.execute(text(sql), params)]
    engine.dispose()
    return rows


def _log_0003(uri: str) -> None:
    engine = create_store_engine(uri)
    with engine.begin() as conn:
        for request_id, row, time, version, inputs, output, latency in _ROWS:
            conn.execute(
                text(
                    "INSERT INTO predictions (request_id, row, time, model_version_id, inputs, "
                    "output, latency_ms) VALUES (:r, :n, :t, :v, :i, :o, :l)"
                ),
                {
                    "r": request_id,
                    "n": row,
                    "t": time,
                    "v": version,
                    "i": json.dumps(inputs, sort_keys=True),
                    "o": json.dumps(output, sort_keys=True),
                    "l": latency,
                },
            )
    engine.dispose()


def _tables(uri: str) -> set[str]:
    engine = create_store_engine(uri)
    with engine.connect() as conn:
        names = set(inspect(conn).get_table_names())
    engine.dispose()
    return names


def test_per_row_predictions_become_requests_and_come_back(uri: str) -> None:
    _migrate(uri, "upgrade", "0003")
    _log_0003(uri)

    _migrate(uri, "upgrade", "0004")

    assert "predictions" not in _tables(uri)
    moved = _query(uri, "SELECT * FROM prediction_requests ORDER BY request_id")
    assert [(r["request_id"], r["model_version_id"], r["n_rows"]) for r in moved] == [
        ("req-a", "adult/1", 3),
        ("req-b", "adult/2", 1),
    ]
    for r in moved:
        assert (r["format"], r["key_id"], r["role"], r["endpoint"]) == (
            "json-rows/1",
            None,
            "primary",
            None,
        )
    a, b = moved
    assert (a["time"], a["latency_ms"]) == (100, 2.5)  # first row's time, slowest latency
    doc = json.loads(bytes(a["payload"]))  # type: ignore[arg-type]
    assert [item["row"] for item in doc["rows"]] == [0, 1, 2]  # in row order
    assert doc["rows"][2] == {
        "row": 2,
        "inputs": {"age": 50, "job": None},
        "output": {"label": "yes"},
    }
    assert json.loads(bytes(b["payload"]))["rows"] == [  # type: ignore[arg-type]
        {"row": 0, "inputs": {"age": 20, "job": "z"}, "output": "yes"}
    ]

    _migrate(uri, "downgrade", "0003")

    assert "prediction_requests" not in _tables(uri)
    back = _query(uri, "SELECT * FROM predictions ORDER BY request_id, row")
    expected = sorted(_ROWS, key=lambda r: (r[0], r[1]))
    assert [(r["request_id"], r["row"], r["model_version_id"]) for r in back] == [
        (e[0], e[1], e[3]) for e in expected
    ]
    assert [json.loads(str(r["inputs"])) for r in back] == [e[4] for e in expected]
    assert [json.loads(str(r["output"])) for r in back] == [e[5] for e in expected]
    # a request's rows get its one time and latency back (the per-row ones were merged)
    assert {(r["time"], r["latency_ms"]) for r in back if r["request_id"] == "req-a"} == {
        (100, 2.5)
    }


def test_an_empty_log_upgrades_and_a_sealed_one_cannot_downgrade(uri: str) -> None:
    _migrate(uri, "upgrade", "0004")
    assert _query(uri, "SELECT count(*) AS n FROM prediction_requests") == [{"n": 0}]
    engine = create_store_engine(uri)
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO prediction_requests (request_id, time, model_version_id, role, "
                "n_rows, latency_ms, format, key_id, payload) "
                "VALUES ('r', 1, 'adult/1', 'primary', 1, 1.0, 'arrow/1', 'k1', :p)"
            ),
            {"p": b"sealed"},
        )
    engine.dispose()
    with pytest.raises(RuntimeError, match="cannot downgrade below 0004"):
        _migrate(uri, "downgrade", "0003")
    assert "prediction_requests" in _tables(uri)  # the refused downgrade changed nothing

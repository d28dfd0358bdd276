"""The public surface of closedloop.data is exactly its ``__all__``."""

from __future__ import annotations

import inspect
import types

import closedloop.data as data


def test_all_names_exist_and_nothing_else_is_public() -> None:
    public = {
        name
        for name, value in vars(data).items()
        if not name.startswith("_") and not isinstance(value, types.ModuleType)
    }
    assert set(data.__all__) == public
    assert len(data.__all__) == len(set(data.__all__))
    for name in data.__all__:
        assert getattr(data, name) is not None


def test_public_objects_have_docstrings() -> None:
    for name in data.__all__:
        value = getattr(data, name)
        if inspect.isfunction(value) or inspect.isclass(value):
            assert (value.__doc__ or "").strip(), name

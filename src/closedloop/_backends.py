"""A small registry mapping URI schemes to lazily imported backend factories."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Generic, TypeVar

from closedloop.errors import UnsupportedBackendError

__all__ = ["BackendRegistry", "uri_scheme"]

T = TypeVar("T")


def uri_scheme(uri: str) -> str:
    """Return the lookup scheme of ``uri``: ``postgresql+psycopg://`` gives ``postgresql``.

    A string without ``://`` is a local path and gives ``file``.
    """
    if "://" not in uri:
        return "file"
    scheme = uri.split("://", 1)[0].lower()
    return scheme.split("+", 1)[0]


class BackendRegistry(Generic[T]):
    """Scheme → factory, where a factory is a callable or a ``"module:attr"`` string.

    String factories are imported on first use, so registering a backend costs nothing
    until somebody asks for it.

    Args:
        kind: What the registry builds, used in error messages ("metadata store").
    """

    def __init__(self, kind: str) -> None:
        self._kind = kind
        self._factories: dict[str, str | Callable[..., T]] = {}

    def register(self, scheme: str, factory: str | Callable[..., T]) -> None:
        """Register ``factory`` for ``scheme`` (replacing any earlier one)."""
        self._factories[scheme.lower()] = factory

    @property
    def schemes(self) -> list[str]:
        """The registered schemes, sorted."""
        return sorted(self._factories)

    def resolve(self, uri: str) -> Callable[..., T]:
        """Return the factory for ``uri``'s scheme.

        Raises:
            UnsupportedBackendError: No factory is registered for the scheme.
        """
        scheme = uri_scheme(uri)
        try:
            factory = self._factories[scheme]
        except KeyError:
            raise UnsupportedBackendError(
                f"no {self._kind} for scheme {scheme!r} in {uri!r}",
                hint=f"use one of: {', '.join(s + '://' for s in self.schemes)}",
            ) from None
        if isinstance(factory, str):
            module_name, _, attr = factory.partition(":")
            loaded: Callable[..., T] = getattr(importlib.import_module(module_name), attr)
            self._factories[scheme] = loaded
            return loaded
        return factory

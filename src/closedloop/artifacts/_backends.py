"""Artifact store lookup by URI scheme."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from closedloop._backends import BackendRegistry, uri_scheme
from closedloop.errors import UnsupportedBackendError

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from closedloop.artifacts._protocol import ArtifactStore
    from closedloop.crypto import Keyring

__all__ = ["artifact_stores", "get_artifact_store"]

_FSSPEC_STORE = "closedloop.artifacts._store:FsspecArtifactStore"

artifact_stores: BackendRegistry[ArtifactStore] = BackendRegistry("artifact store")
"""Scheme → artifact store factory. Schemes not registered here fall back to
:class:`~closedloop.artifacts.FsspecArtifactStore` when fsspec knows the protocol."""

artifact_stores.register("file", _FSSPEC_STORE)


def _resolve(uri: str) -> Callable[..., ArtifactStore]:
    scheme = uri_scheme(uri)
    if scheme in artifact_stores.schemes:
        return artifact_stores.resolve(uri)
    import fsspec  # ~90 ms; only needed once a store is actually built

    if scheme in fsspec.available_protocols():
        # Cache the fallback so the next lookup of this scheme is a plain dict hit.
        artifact_stores.register(scheme, _FSSPEC_STORE)
        return artifact_stores.resolve(uri)
    known = sorted({*artifact_stores.schemes, *fsspec.available_protocols()})
    raise UnsupportedBackendError(
        f"no artifact store for scheme {scheme!r} in {uri!r}",
        hint=f"use a local path or one of: {', '.join(s + '://' for s in known)}",
    )


def get_artifact_store(
    uri: str | ArtifactStore,
    *,
    keyring: Keyring | None,
    encrypt: bool = True,
    storage_options: Mapping[str, Any] | None = None,
) -> ArtifactStore:
    """Return the artifact store for ``uri``, or ``uri`` itself if it already is a store.

    A bare path or ``file://`` gives a local :class:`~closedloop.artifacts.FsspecArtifactStore`,
    as does any other protocol fsspec knows (``memory://``, ``s3://``, ``gs://``, ...), unless a
    backend is registered for it in :data:`artifact_stores`.

    Args:
        uri: A store URI or local path, or a ready store instance (returned unchanged).
        keyring: The workspace keyring; required when ``encrypt`` is set.
        encrypt: Encrypt new blobs.
        storage_options: Backend options (credentials, endpoint, ...).

    Raises:
        UnsupportedBackendError: Neither the registry nor fsspec knows the scheme.
        ConfigurationError: The store cannot be set up (e.g. ``encrypt`` without a keyring).
    """
    if not isinstance(uri, str):
        return uri
    factory = _resolve(uri)
    return factory(uri, keyring, encrypt=encrypt, storage_options=storage_options)

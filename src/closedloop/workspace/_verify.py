"""``Workspace.verify``: read and authenticate every blob a record references.

``doctor`` checks the configuration without reading blob contents; this reads every
referenced blob in full (decrypting or checking its signature, and checking its digest), so
it takes as long as reading the whole artifact store once.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from closedloop.core import ProgressCallback, report_progress
from closedloop.errors import (
    ArtifactIntegrityError,
    ClosedLoopError,
    InvalidArgumentError,
    KeyNotFoundError,
    NotFoundError,
)
from closedloop.metadata import BlobReference
from closedloop.workspace._actions import Actions

if TYPE_CHECKING:
    from closedloop.workspace._workspace import Workspace

__all__ = ["BlobProblem", "VerifyReport", "verify_blobs"]

_TASK = "verify blobs"

# How each kind of record gets its blob back: a put of the same content repairs the blob.
_REPAIR = {
    "dataset version": "ingest the original file again (`closedloop data ingest`)",
    "model version": "register the model again (retrain it), or restore the blob from a backup",
    "model version onnx": "convert the version to ONNX again, or restore the blob from a backup",
    "run artifact": "log the same file again (any run), or delete the run",
}


@dataclass(frozen=True, slots=True)
class BlobProblem:
    """One referenced blob that did not pass.

    Attributes:
        digest: The blob's digest.
        problem: ``missing``, ``corrupt`` (fails its digest or authentication),
            ``unauthenticated`` (plain: intact but not bound to the workspace key),
            ``key missing`` (written under a key the keyring lacks), ``invalid digest`` or
            ``unreadable`` (the backend failed).
        detail: The error's message.
        referenced_by: The records that point at the blob.
    """

    digest: str
    problem: str
    detail: str
    referenced_by: tuple[BlobReference, ...]

    @property
    def repair(self) -> str:
        """How to repair it, for the kinds of record that reference it."""
        if self.problem == "key missing":
            return "add the key that wrote it to the workspace key file"
        if self.problem == "unreadable":
            return "check the artifact store is reachable, then verify again"
        kinds = sorted({ref.kind for ref in self.referenced_by})
        return "; or ".join(_REPAIR.get(kind, "store the same content again") for kind in kinds)


@dataclass(frozen=True, slots=True)
class VerifyReport:
    """What ``Workspace.verify`` checked and found.

    Attributes:
        blobs_checked: Distinct referenced blobs read.
        bytes_checked: Plaintext bytes of the blobs that could be read in full.
        references: Records pointing at blobs (a blob can have several).
        problems: The blobs that did not pass, in digest order.
    """

    blobs_checked: int
    bytes_checked: int
    references: int
    problems: tuple[BlobProblem, ...]

    @property
    def ok(self) -> bool:
        """Whether every referenced blob is present, intact and authenticated."""
        return not self.problems


def _check(ws: Workspace, digest: str) -> tuple[int, str | None, str]:
    """Read one blob in full: ``(size, problem or None, detail)``."""
    try:
        with ws.artifacts.open(digest) as reader:
            size = sum(len(chunk) for chunk in reader.iter_chunks())
            authenticated = reader.authenticated
    except NotFoundError as e:
        return 0, "missing", e.message
    except KeyNotFoundError as e:
        return 0, "key missing", e.message
    except ArtifactIntegrityError as e:
        return 0, "corrupt", e.message
    except InvalidArgumentError as e:
        return 0, "invalid digest", e.message
    except ClosedLoopError as e:  # StorageError, CryptoError
        return 0, "unreadable", e.message
    if not authenticated:
        detail = f"artifact {digest} is plain: intact, but not authenticated by the workspace key"
        return size, "unauthenticated", detail
    return size, None, ""


def verify_blobs(ws: Workspace, *, progress: ProgressCallback | None = None) -> VerifyReport:
    """Read and authenticate every blob that a run artifact, dataset or model references.

    Each blob is read once, however many records reference it. A blob passes when it is
    present, matches its digest and is authenticated by the workspace key (encrypted or
    signed); a plain blob is reported as ``unauthenticated`` even when intact, since anyone
    with write access to the store could have planted it (a model would refuse to load).

    Args:
        ws: The workspace.
        progress: Called with a ``ProgressEvent`` (task ``"verify blobs"``, unit ``blobs``)
            before each blob and once at the end.

    Returns:
        The report; nothing is changed in the workspace (the check is audited as
        ``artifact.verify``).
    """
    with ws.action(Actions.ARTIFACT_VERIFY, "artifacts:*") as facts:
        references = ws.metadata.blob_references()
        by_digest: dict[str, list[BlobReference]] = defaultdict(list)
        for ref in references:
            by_digest[ref.digest].append(ref)
        total = len(by_digest)
        problems: list[BlobProblem] = []
        checked = 0
        for done, digest in enumerate(sorted(by_digest)):
            report_progress(progress, _TASK, done, total, "blobs")
            size, problem, detail = _check(ws, digest)
            checked += size
            if problem is not None:
                problems.append(BlobProblem(digest, problem, detail, tuple(by_digest[digest])))
        report_progress(progress, _TASK, total, total, "blobs")
        facts.update(blobs=total, broken=len(problems))
    return VerifyReport(total, checked, len(references), tuple(problems))

"""The sink interface: what the pipeline needs from a destination.

A sink stores batches of occurrences idempotently by ``occurrence.id`` (a replay must never
create a second record). ``write`` returns normally only when every occurrence of the batch is
durably stored or explicitly rejected; anything else raises ``SinkError`` and the pipeline
retries the whole batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from kubevents.export._occurrence import Occurrence

__all__ = ["HttpSinkError", "Rejected", "Sink", "SinkError", "WriteResult"]


class SinkError(Exception):
    """A write failed; ``reason`` is a short, bounded label for metrics (e.g. ``http_503``).

    ``permanent``: retrying cannot help without someone changing something (credentials that
    are refused, an index that does not exist, a request the destination will never accept).
    The pipeline retries a permanent failure a few times only, then dead-letters the batch.
    """

    def __init__(self, message: str, *, reason: str = "error", permanent: bool = False) -> None:
        super().__init__(message)
        self.reason = reason
        self.permanent = permanent


class HttpSinkError(SinkError):
    """A retryable failure of an HTTP destination: its status, and its ``Retry-After`` in
    seconds, which the pipeline waits at least (capped) before retrying the batch."""

    def __init__(
        self,
        message: str,
        *,
        reason: str,
        status: int | None = None,
        retry_after: float | None = None,
        permanent: bool = False,
    ) -> None:
        super().__init__(message, reason=reason, permanent=permanent)
        self.status = status
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Rejected:
    """An occurrence the destination refused for good (e.g. a mapping conflict)."""

    occurrence: Occurrence
    reason: str


@dataclass(frozen=True, slots=True)
class WriteResult:
    """Outcome of a successful write: everything stored except ``rejected``."""

    rejected: Sequence[Rejected] = field(default_factory=tuple)


@runtime_checkable
class Sink(Protocol):
    """A destination for occurrences."""

    @property
    def name(self) -> str:
        """Short unique name, used in metrics labels and logs."""
        ...

    async def start(self) -> None:
        """Connect and verify the destination; raise ``SinkError`` if it is unusable."""
        ...

    async def write(self, batch: Sequence[Occurrence]) -> WriteResult:
        """Store ``batch`` idempotently by occurrence id; raise ``SinkError`` to be retried."""
        ...

    async def close(self) -> None:
        """Flush and release resources."""
        ...

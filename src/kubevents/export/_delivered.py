"""The delivered resume point: up to where every sink has *stored* what the server sent.

The ack log's resume point also counts what a sink's disk spool holds, which is right for this
process (its spool replays after a restart) but not for another replica: a new leader cannot
read the old leader's spool, so the point handed over on the Lease must be one that every sink
has stored. This mark follows the ack log with a lag: whenever the ack log advances it notes,
for each spool, the last sequence written so far; the mark reaches that resume point once each
spool's sink has stored through its noted sequence. The notes are thinned when a long outage
piles them up, which only makes the mark coarser (a new leader re-sends a little more, and the
sinks' idempotent ids absorb it), never ahead of what was stored.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Protocol

__all__ = ["DeliveredMark", "SpoolProgress"]

#: Notes kept before thinning: a mark that lags by at most 1/4096 of an outage's backlog.
MAX_NOTES = 4_096


class SpoolProgress(Protocol):
    def written_through(self) -> int:
        """The sequence of the last occurrence on disk."""
        ...

    def stored_through(self) -> int:
        """Every occurrence up to this sequence is stored by the sink (or dropped and counted)."""
        ...


class DeliveredMark:
    def __init__(self, spools: Sequence[SpoolProgress], resource_version: str | None) -> None:
        self._spools = tuple(spools)
        self._notes: deque[tuple[str, tuple[int, ...]]] = deque()
        # Occurrences a spool holds from before this process are stored by nobody yet: until
        # they are, the start point is not delivered either (unknown: None).
        self._resource_version = resource_version
        if resource_version is not None and self._behind(self._written()):
            self._notes.append((resource_version, self._written()))
            self._resource_version = None

    def _written(self) -> tuple[int, ...]:
        return tuple(spool.written_through() for spool in self._spools)

    def _behind(self, written: tuple[int, ...]) -> bool:
        return any(
            spool.stored_through() < seq for spool, seq in zip(self._spools, written, strict=True)
        )

    def advanced(self, resource_version: str | None) -> None:
        """The ack log's resume point moved to ``resource_version``."""
        if resource_version is None:
            return
        written = self._written()
        notes = self._notes
        if notes and notes[-1][1] == written:
            notes[-1] = (resource_version, written)  # same spool contents: the newer point
        else:
            notes.append((resource_version, written))
            if len(notes) > MAX_NOTES:
                last = len(notes) - 1
                self._notes = deque(n for i, n in enumerate(notes) if i % 2 or i == last)

    def resource_version(self) -> str | None:
        """The newest resume point every sink has stored (None: none known yet)."""
        notes = self._notes
        while notes and not self._behind(notes[0][1]):
            self._resource_version = notes.popleft()[0]
        return self._resource_version

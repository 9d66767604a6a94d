"""After a hard stop, what the spool already holds is not spooled a second time.

A spool acknowledges an occurrence to the ack log once it is on disk, and the checkpoint
follows the ack log up to a save interval later. After a SIGKILL the next process resumes the
watch from the last saved checkpoint, so the occurrences between that point and the kill
arrive again, while the spool still holds those its sink had not stored yet and replays them
first. Spooled again, those would reach the sink twice from the same process. The ids of the
spool's newest unsent records are read at start (a bounded tail: the overlap is what arrived
within one checkpoint interval or so of the kill), and a put of one of them is acknowledged
at once: the copy on disk is the one the sink gets, in its place, so per-Event order holds.
"""

from __future__ import annotations

from collections.abc import Callable

from kubevents.export._occurrence import Occurrence
from kubevents.export._segmentlog import SegmentLog

__all__ = ["RECOVERED_IDS", "RecoveredIds"]

# How many of the newest unsent records are remembered (about 100 bytes each).
RECOVERED_IDS = 20_000
_READ_CHUNK = 1_000


class RecoveredIds:
    """The occurrence ids of the spool's newest unsent records, found when it opened."""

    def __init__(self, ids: set[str]) -> None:
        self._ids = ids
        # The repeats come first after the resume point; once this many puts have gone by
        # without them, they are not coming and the memory is let go.
        self._puts_left = 2 * len(ids) + _READ_CHUNK

    @classmethod
    def read(
        cls, log: SegmentLog, first: int, decode: Callable[[bytes], Occurrence]
    ) -> RecoveredIds:
        """The ids from ``first`` (or ``RECOVERED_IDS`` before the end) to the end of ``log``.

        Runs on the spool's file thread; leaves the log's reader at ``first``.
        """
        log.seek(max(first, log.next_sequence - RECOVERED_IDS))
        ids: set[str] = set()
        while records := log.read(_READ_CHUNK):
            for record in records:
                try:
                    ids.add(decode(record.payload).id)
                except ValueError:
                    continue  # the reader skips and counts it when it gets there
        log.seek(first)
        return cls(ids)

    def __len__(self) -> int:
        return len(self._ids)

    def holds(self, occurrence_id: str) -> bool:
        """Whether this occurrence is already in the spool (each id answers yes once)."""
        if not self._ids:
            return False
        self._puts_left -= 1
        if self._puts_left <= 0:
            self._ids.clear()
            return False
        try:
            self._ids.remove(occurrence_id)
        except KeyError:
            return False
        return True

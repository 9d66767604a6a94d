"""The count-bump throttle of one sink: at most one occurrence per Event per ``min_interval``.

A crash-looping pod bumps one Event's count every few seconds, and each bump is an occurrence.
A sink with ``throttle.min_interval`` gets the first occurrence of an Event at once; for the
rest of the interval the newest occurrence of that Event is held back, and handed on when the
interval ends (which starts the next one). So a series sends at most one occurrence per
interval, and its last count always arrives, at most ``min_interval`` after it happened.

Acknowledgements: an occurrence overtaken while held (a newer count of the same Event came)
will never go to this sink; it is acknowledged for the sink at once and counted in
``kubevents_throttled_total{sink}``. The one held is acknowledged only once it is handed on and
stored (or spooled): until then the checkpoint cannot pass it, so after a crash or a restart the
watch (or the relist) shows that count again and it is sent then. Ids stay ``<uid>:<count>``:
what a sink gets is a subset of the same occurrences, and a replay stores nothing twice.

``flush`` hands every held occurrence on at once (a drain, SIGTERM). State is kept per Event
only while its interval runs, so memory is bounded by the Events bumped within one interval.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable

from kubevents.export._buffer import Entry

__all__ = ["Throttle"]

# An Event whose interval runs and that holds nothing (only its first occurrence went out).
_NOTHING_HELD = None


class Throttle:
    """One sink's throttle: ``offer`` each occurrence; ``run`` (a task) hands on held ones."""

    def __init__(
        self,
        interval: float,
        put: Callable[[Entry], Awaitable[None]],
        settle: Callable[[Entry], None],
        throttled: Callable[[], None],
    ) -> None:
        if interval <= 0:
            raise ValueError("the throttle's interval must be more than 0")
        self._interval = interval
        self._put = put
        self._settle = settle
        self._throttled = throttled
        # uid -> the occurrence held back, for every Event whose interval runs.
        self._held: dict[str, Entry | None] = {}
        # When each running interval ends, in that order: the interval is the same for every
        # Event and time only moves forward, so appending keeps the queue sorted.
        self._ends: deque[tuple[float, str]] = deque()
        self._arrived = asyncio.Event()
        self._holding = 0

    def holding(self) -> int:
        """Occurrences held back, not yet handed on (nor acknowledged for this sink)."""
        return self._holding

    async def offer(self, entry: Entry) -> None:
        uid = entry.occurrence.uid
        held = self._held
        if uid in held:
            overtaken = held[uid]
            if overtaken is None:
                self._holding += 1
            else:
                self._throttled()
                self._settle(overtaken)
            held[uid] = entry
            return
        self._start(uid)
        await self._put(entry)

    def _start(self, uid: str) -> None:
        self._held[uid] = _NOTHING_HELD
        self._ends.append((asyncio.get_running_loop().time() + self._interval, uid))
        self._arrived.set()

    async def run(self) -> None:
        """End intervals as they come due, handing on what each held; until cancelled."""
        loop = asyncio.get_running_loop()
        ends = self._ends
        while True:
            if not ends:
                self._arrived.clear()
                await self._arrived.wait()
                continue
            end, uid = ends[0]
            wait = end - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            ends.popleft()
            entry = self._held.pop(uid, _NOTHING_HELD)
            if entry is not None:
                self._holding -= 1
                self._start(uid)  # the occurrence handed on starts the Event's next interval
                await self._put(entry)

    async def flush(self) -> None:
        """Hand on every held occurrence now (their intervals go on running)."""
        held = self._held
        for uid, entry in list(held.items()):
            if entry is not None and held.get(uid) is entry:
                held[uid] = _NOTHING_HELD
                self._holding -= 1
                await self._put(entry)

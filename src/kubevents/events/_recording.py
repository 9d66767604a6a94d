"""The bounded path from a recorder to the sink: client-go v0.38's ``tools/events``
(kubernetes#140868).

::

    eventf() ──► incoming queue ──► distributor ──► sink watcher's queue ──► SinkWriter
    ActionOrDrop:   1000, drops       one task        1000, drops when        one event at a
    never waits     when full                         full                    time: series cache,
                                                                              then create/patch
                                                                              with retries

Nothing on this path grows with the number of events: a recorder offers its event without
waiting (the broadcaster's ``ActionOrDrop``) and the sink watcher writes one event at a time,
retries included (``SinkWriter``), so during an API outage the watcher's queue fills and
further events are dropped, counted and logged rather than held. An event is dropped before
the series cache sees it, so the counts the cache reports are those of the occurrences that
were kept; a dropped first occurrence is not counted, and the next one that gets through is
created in its place.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from kubevents._recorderbase.aio import SleepFunc
from kubevents.clock import Clock
from kubevents.events._series import EventSeriesCache
from kubevents.events._sink import EventSink, attempt_recording
from kubevents.model import EventsV1Event

__all__ = ["SERIES_OUTCOME", "SinkWriter"]

# The sink outcome of an occurrence counted into an in-memory series (no API call).
SERIES_OUTCOME = "series"


class SinkWriter:
    """The sink watcher's handler (client-go's ``recordToSink``, run on the watcher itself).

    Each event is counted into the series cache; what the cache says to send is written
    before the next event is looked at, with up to ``MAX_TRIES_PER_EVENT`` attempts (one once
    ``stopping`` is set). ``count`` gets each outcome: a ``RecordOutcome`` value, or
    ``SERIES_OUTCOME`` for an occurrence only counted in memory.
    """

    def __init__(
        self,
        sink: EventSink,
        cache: EventSeriesCache,
        clock: Clock,
        sleep_duration: float,
        sleep: SleepFunc,
        stopping: asyncio.Event,
        count: Callable[[str], None],
    ) -> None:
        self.sink = sink
        self.cache = cache
        self.clock = clock
        self.sleep_duration = sleep_duration
        self.sleep = sleep
        self.stopping = stopping
        self.count = count

    async def __call__(self, event: EventsV1Event) -> None:
        to_send = self.cache.observe(event, self.clock.now())
        if to_send is None:
            self.count(SERIES_OUTCOME)
            return
        outcome = await attempt_recording(
            self.sink, to_send, self.sleep_duration, stopping=self.stopping, sleep=self.sleep
        )
        self.count(outcome.value)

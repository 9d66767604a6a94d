"""Client-side EventSeries: client-go ``tools/events``' isomorphic-event cache.

The first occurrence of an event is created; the second (an *isomorphic* event: same type,
action, reason, reporting controller/instance, regarding and related; the note does not count)
patches it at once with ``series{count: 2, lastObservedTime}``; later ones only bump the series
in memory. The heartbeat (``refresh_existing_event_series``, every 30 minutes) writes every
series' current count; ``finish_series`` (every 6 minutes) writes the final count of a series
idle for 6 minutes and forgets it, and forgets singletons older than 6 minutes.

Both passes follow client-go master rather than v0.36.3 in one respect: they copy the entries
under the lock, call the sink without it, and replace or delete an entry only if it is still
what was copied, so that occurrences counted while a call was in flight are never lost.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import NamedTuple

import msgspec

from kubevents.clock import Clock
from kubevents.events._sink import EventSink, deep_copy_event, record_event
from kubevents.model import EventsV1Event, EventsV1EventSeries, MicroTime, ObjectReference
from kubevents.record._util import wrap_int32

__all__ = [
    "FINISH_TIME",
    "INITIAL_SERIES_COUNT",
    "REFRESH_TIME",
    "EventKey",
    "EventSeriesCache",
    "finish_series",
    "get_key",
    "refresh_existing_event_series",
]

log = logging.getLogger("kubevents.events")

# finishTime: both the finish pass' period and how long a series must be idle to be finished.
FINISH_TIME = timedelta(minutes=6)
# refreshTime: the heartbeat period.
REFRESH_TIME = timedelta(minutes=30)
INITIAL_SERIES_COUNT = 2

_EMPTY_REFERENCE = msgspec.structs.astuple(ObjectReference())


class EventKey(NamedTuple):
    """client-go's ``eventKey``: what makes two events isomorphic (fields, not a joined string)."""

    event_type: str
    action: str
    reason: str
    reporting_controller: str
    reporting_instance: str
    regarding: tuple[str, ...]
    related: tuple[str, ...]


def get_key(event: EventsV1Event) -> EventKey:
    """The isomorphic key: whole references (resourceVersion, fieldPath too), never the note."""
    return EventKey(
        event.type,
        event.action,
        event.reason,
        event.reporting_controller,
        event.reporting_instance,
        msgspec.structs.astuple(event.regarding),
        # A missing related object keys like an all-empty reference, as in Go.
        _EMPTY_REFERENCE if event.related is None else msgspec.structs.astuple(event.related),
    )


def _before(when: datetime | None, limit: datetime) -> bool:
    # A missing time is Go's zero time, which is before every real one.
    return when is None or when < limit


class EventSeriesCache:
    """The isomorphic key -> event map (unbounded, as in client-go). Thread-safe.

    Entries are the cache's own copies: nothing handed out is shared with the cache.
    ``entries`` pre-fills it (client-go's tests do that through ``newBroadcaster``).
    """

    def __init__(self, entries: Mapping[EventKey, EventsV1Event] | None = None) -> None:
        self._lock = threading.Lock()
        self._entries: dict[EventKey, EventsV1Event] = {
            key: deep_copy_event(event) for key, event in (entries or {}).items()
        }

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def __contains__(self, key: object) -> bool:
        with self._lock:
            return key in self._entries

    def __iter__(self) -> Iterator[EventKey]:
        with self._lock:
            return iter(list(self._entries))

    def get(self, key: EventKey) -> EventsV1Event | None:
        """A copy of the entry for ``key``."""
        with self._lock:
            event = self._entries.get(key)
            return None if event is None else deep_copy_event(event)

    def put(self, event: EventsV1Event) -> EventKey:
        """Store a copy of ``event`` under its own key (for tests and warm starts)."""
        key = get_key(event)
        with self._lock:
            self._entries[key] = deep_copy_event(event)
        return key

    def observe(self, event: EventsV1Event, now: datetime) -> EventsV1Event | None:
        """Count one occurrence of ``event``; return what to send, or None.

        The first occurrence is stored and returned (a create). The second gets a series of
        count 2 and the *first* occurrence's event is returned with it (name, eventTime and note
        of the first: a patch). Later ones bump the stored series and return None.
        """
        key = get_key(event)
        observed = MicroTime.of(now)
        with self._lock:
            cached = self._entries.get(key)
            if cached is None:
                stored = deep_copy_event(event)
                self._entries[key] = stored
                return deep_copy_event(stored)
            if cached.series is not None:
                cached.series.count = wrap_int32(cached.series.count + 1)
                cached.series.last_observed_time = observed
                return None
            cached.series = EventsV1EventSeries(
                count=INITIAL_SERIES_COUNT, last_observed_time=observed
            )
            return deep_copy_event(cached)

    def series_snapshots(self) -> list[tuple[EventKey, EventsV1Event]]:
        """Copies of every entry that has a series."""
        with self._lock:
            return [
                (key, deep_copy_event(event))
                for key, event in self._entries.items()
                if event.series is not None
            ]

    def finished_snapshots(self, now: datetime) -> list[tuple[EventKey, EventsV1Event, bool]]:
        """Copies of the entries to finish: ``(key, event, send_final_count)``.

        A series whose last occurrence is more than ``FINISH_TIME`` before ``now`` (its final
        count is sent), and a singleton whose eventTime is (just forgotten).
        """
        limit = now - FINISH_TIME
        out: list[tuple[EventKey, EventsV1Event, bool]] = []
        with self._lock:
            for key, event in self._entries.items():
                if event.series is not None:
                    if _before(event.series.last_observed_time, limit):
                        out.append((key, deep_copy_event(event), True))
                elif _before(event.event_time, limit):
                    out.append((key, deep_copy_event(event), False))
        return out

    def replace_if_unchanged(
        self, key: EventKey, expected: EventsV1Event, new: EventsV1Event
    ) -> bool:
        """Store ``new`` for ``key`` unless the entry changed since ``expected`` was copied."""
        with self._lock:
            if self._entries.get(key) != expected:
                return False
            self._entries[key] = deep_copy_event(new)
            return True

    def delete_if_unchanged(self, key: EventKey, expected: EventsV1Event) -> bool:
        """Forget ``key`` unless the entry changed since ``expected`` was copied."""
        with self._lock:
            if self._entries.get(key) != expected:
                return False
            del self._entries[key]
            return True


async def refresh_existing_event_series(
    cache: EventSeriesCache, sink: EventSink, logger: logging.Logger | None = None
) -> int:
    """The heartbeat: write every series' current count, once each (no retries).

    An entry whose write succeeded is replaced by the server's event, the base of further
    counting, unless an occurrence was counted meanwhile. Returns the number written.
    """
    written = 0
    for key, snapshot in cache.series_snapshots():
        recorded, retry = await record_event(sink, deep_copy_event(snapshot), logger)
        if retry or recorded is None:
            continue
        written += 1
        cache.replace_if_unchanged(key, snapshot, recorded)
    return written


async def finish_series(
    cache: EventSeriesCache,
    sink: EventSink,
    now: datetime | Clock,
    logger: logging.Logger | None = None,
) -> int:
    """Write the final count of every series idle for ``FINISH_TIME`` and forget it.

    Singletons that old are forgotten without a write. A series whose write failed with a
    retryable error stays, for the next pass; one counted again meanwhile stays too, as it is
    active again. Returns the number of entries forgotten.
    """
    when = now if isinstance(now, datetime) else now.now()
    removed = 0
    for key, snapshot, send in cache.finished_snapshots(when):
        if send:
            _, retry = await record_event(sink, deep_copy_event(snapshot), logger)
            if retry:
                continue
        if cache.delete_if_unchanged(key, snapshot):
            removed += 1
    return removed

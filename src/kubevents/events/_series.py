"""Client-side EventSeries: client-go ``tools/events``' isomorphic-event cache.

The first occurrence of an event is created; the second (an *isomorphic* event: same type,
action, reason, reporting controller/instance, regarding and related; the note does not count)
patches it at once with ``series{count: 2, lastObservedTime}``; later ones only bump the series
in memory. The heartbeat (``refresh_existing_event_series``, every 30 minutes) writes every
series' current count; ``finish_series`` (every 6 minutes) writes the final count of a series
idle for 6 minutes and forgets it, and forgets singletons older than 6 minutes.

The cache counts only the occurrences that reach it: an event dropped on the way (a full
queue, see ``_recording``) is never counted, as in client-go v0.38, where the drop happens
before the cache is consulted.

Both passes follow client-go v0.38 (kubernetes#141654): they take the keys under the lock, copy
each entry just before its API call, call the sink without the lock, and afterwards replace or
delete the entry only if it is still the same series (same name), keeping a count observed
during the call. Recording never waits for a pass.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from typing import NamedTuple

import msgspec

from kubevents._recorderbase.gocompat import wrap_int32
from kubevents.clock import Clock
from kubevents.events._sink import EventSink, deep_copy_event, record_event
from kubevents.model import EventsV1Event, EventsV1EventSeries, MicroTime, ObjectReference

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

    def discard(self, key: EventKey) -> bool:
        """Forget ``key``; True if it was there."""
        with self._lock:
            return self._entries.pop(key, None) is not None

    def series_keys(self) -> list[EventKey]:
        """The keys of the entries that have a series."""
        with self._lock:
            return [key for key, event in self._entries.items() if event.series is not None]

    def series_copy(
        self, key: EventKey, idle_before: datetime | None = None
    ) -> EventsV1Event | None:
        """A copy of the entry for ``key`` if it has a series (last observed before
        ``idle_before``, when given); else None."""
        with self._lock:
            event = self._entries.get(key)
            if event is None or event.series is None:
                return None
            last = event.series.last_observed_time
            if idle_before is not None and not _before(last, idle_before):
                return None
            return deep_copy_event(event)

    def finish_scan(self, now: datetime) -> tuple[list[EventKey], int]:
        """Forget the singletons whose eventTime is more than ``FINISH_TIME`` before ``now``;
        return the keys of the series idle that long, and how many singletons went."""
        limit = now - FINISH_TIME
        idle: list[EventKey] = []
        forgotten = 0
        with self._lock:
            for key, event in list(self._entries.items()):
                if event.series is not None:
                    if _before(event.series.last_observed_time, limit):
                        idle.append(key)
                elif _before(event.event_time, limit):
                    del self._entries[key]
                    forgotten += 1
        return idle, forgotten

    def store_refreshed(self, key: EventKey, sent: EventsV1Event, recorded: EventsV1Event) -> bool:
        """After a heartbeat write: store the server's event for ``key`` if the entry is still
        the series that was sent (same name, still a series), keeping any later count."""
        assert recorded.series is not None
        with self._lock:
            cached = self._entries.get(key)
            if cached is None or cached.series is None:
                return False
            if cached.metadata.name != sent.metadata.name:
                return False
            if cached.series.count > recorded.series.count:
                recorded.series.count = cached.series.count
                recorded.series.last_observed_time = cached.series.last_observed_time
            self._entries[key] = deep_copy_event(recorded)
            return True

    def delete_finished(self, key: EventKey, sent: EventsV1Event) -> bool:
        """After a final write: forget ``key`` if the entry is still the series that was sent
        and was not observed again since."""
        assert sent.series is not None
        with self._lock:
            cached = self._entries.get(key)
            if (
                cached is None
                or cached.metadata.name != sent.metadata.name
                or cached.series is None
                or cached.series.count > sent.series.count
            ):
                return False
            del self._entries[key]
            return True


async def refresh_existing_event_series(
    cache: EventSeriesCache,
    sink: EventSink,
    logger: logging.Logger | None = None,
    *,
    stopping: asyncio.Event | None = None,
) -> int:
    """The heartbeat: write every series' current count, once each (no retries).

    Each entry is copied just before its write, so the count sent is the latest. A written
    entry is replaced by the server's event, the base of further counting, if it is still the
    same series; a count observed during the write is kept. Stops early once ``stopping`` is
    set. Returns the number of series written.
    """
    written = 0
    for key in cache.series_keys():
        if stopping is not None and stopping.is_set():
            break
        sent = cache.series_copy(key)
        if sent is None:
            continue
        recorded, retry = await record_event(sink, sent, logger)
        if retry or recorded is None:
            continue
        written += 1
        if recorded.series is not None:
            cache.store_refreshed(key, sent, recorded)
    return written


async def finish_series(
    cache: EventSeriesCache,
    sink: EventSink,
    now: datetime | Clock,
    logger: logging.Logger | None = None,
    *,
    stopping: asyncio.Event | None = None,
) -> int:
    """Write the final count of every series idle for more than ``FINISH_TIME``; forget it.

    Singletons that old are forgotten without a write. A series is checked again, and copied,
    just before its write (against ``now`` read again when it is a clock): one observed
    meanwhile is active again and is not written. After the write it is forgotten unless the
    write is to be retried, it was replaced, or it was observed again during the write. Stops
    early once ``stopping`` is set. Returns the number of entries forgotten.
    """
    idle, removed = cache.finish_scan(now if isinstance(now, datetime) else now.now())
    for key in idle:
        if stopping is not None and stopping.is_set():
            break
        when = now if isinstance(now, datetime) else now.now()
        sent = cache.series_copy(key, idle_before=when - FINISH_TIME)
        if sent is None:
            continue
        _, retry = await record_event(sink, sent, logger)
        if not retry and cache.delete_finished(key, sent):
            removed += 1
    return removed

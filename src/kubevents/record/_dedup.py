"""The correlator's dedup cache (client-go's ``eventLogger`` in events_cache.go)."""

from __future__ import annotations

import threading
from dataclasses import dataclass

import msgspec

from kubevents._recorderbase.gocompat import wrap_int32, wrap_uint64
from kubevents.model import Event, Time, go_json
from kubevents.record._keys import get_event_key
from kubevents.record._lru import LRUCache

__all__ = ["DedupCache", "shallow_copy"]

# The "old" side of the dedup patch has lastTimestamp = time.Unix(0, 0), which is not Go's zero
# time and so prints as a string, never as null.
_PATCH_OLD_LAST_TIMESTAMP = "1970-01-01T00:00:00Z"


@dataclass(frozen=True, slots=True)
class _EventLog:
    # Go keeps the count as uint, so a negative int32 count from the server becomes huge and
    # still counts as "seen".
    count: int
    first_timestamp: Time | None
    name: str
    resource_version: str


def _event_log(event: Event) -> _EventLog:
    return _EventLog(
        count=wrap_uint64(wrap_int32(event.count)),
        first_timestamp=event.first_timestamp,
        name=event.metadata.name,
        resource_version=event.metadata.resource_version,
    )


def shallow_copy(event: Event) -> Event:
    """Go's ``*event`` copy: embedded structs by value; maps, slices and pointers shared."""
    return msgspec.structs.replace(
        event,
        metadata=msgspec.structs.replace(event.metadata),
        involved_object=msgspec.structs.replace(event.involved_object),
        source=msgspec.structs.replace(event.source),
    )


def _dedup_patch(event: Event) -> bytes:
    """The two-way strategic merge patch client-go sends for a repeated event.

    The "old" document is the event itself with count 0, lastTimestamp at the Unix epoch and an
    empty message, so only those three fields can differ; everything else cancels out.
    """
    patch: dict[str, object] = {}
    # count and message are omitempty: absent on the old side, and also absent on the new side
    # when zero/empty, in which case they do not differ.
    if event.count != 0:
        patch["count"] = event.count
    last = event.last_timestamp
    last_timestamp = None if last is None else Time.of(last)
    # Compares the wire forms without a second JSON encoding: None (and Go's zero time) print
    # as null, which always differs from the epoch string.
    if last_timestamp is None or last_timestamp.wire() != _PATCH_OLD_LAST_TIMESTAMP:
        patch["lastTimestamp"] = last_timestamp
    if event.message:
        patch["message"] = event.message
    # go_json sorts map keys, as Go's encoding/json does for the patch map.
    return go_json(patch)


class DedupCache:
    """Dedups identical events into one server object with an increasing count.

    Never reads the clock: timestamps come from the events themselves.
    """

    def __init__(self, lru_cache_size: int) -> None:
        self._cache: LRUCache[str, _EventLog] = LRUCache(lru_cache_size)
        self._lock = threading.Lock()

    def observe(self, event: Event, key: str) -> tuple[Event, bytes | None]:
        """Record an occurrence under ``key``; return the event to send and its patch.

        The event returned is always a copy. On a repeat it takes the cached name,
        resourceVersion and firstTimestamp with count + 1, and the patch is set; otherwise the
        patch is None. The new lastTimestamp and message are kept.
        """
        observed = shallow_copy(event)
        patch: bytes | None = None
        with self._lock:
            last = self._cache.get(key)
            # An entry recorded with count 0 never dedups.
            if last is not None and last.count > 0:
                observed.metadata.name = last.name
                observed.metadata.resource_version = last.resource_version
                observed.first_timestamp = last.first_timestamp
                observed.count = wrap_int32(wrap_int32(last.count) + 1)
                patch = _dedup_patch(observed)
            self._cache.add(key, _event_log(observed))
        return observed, patch

    def update_state(self, event: Event) -> None:
        """Adopt the server's copy (name, resourceVersion, count) as the latest observation.

        The key is computed from the server's event, so for aggregates (whose dedup key is the
        aggregate key) this adds a separate entry and does not affect their counting.
        """
        key = get_event_key(event)
        with self._lock:
            self._cache.add(key, _event_log(event))

"""Port of client-go's legacy event correlator (``tools/record/events_cache.go``).

Every event passes three stages, in this order, before it reaches the API server:

1. the aggregator, which replaces bursts of similar events (same object and reason, different
   messages) with one "combined" event;
2. the logger, which dedups identical events into one server object with a growing count and
   builds the strategic-merge patch for it;
3. the spam filter, a token bucket per source+object+type, which may drop the result.

Both earlier stages update their caches before the spam filter decides, so skipped events
still count. The clock is read exactly twice per event: by the aggregator, then the spam filter.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import msgspec

from kubevents._recorderbase.gocompat import (
    GO_ZERO_TIME_UNIX_NANOS,
    go_hex,
    go_unix_nano,
    saturating_sub,
    unix_nanos,
    wrap_int64,
    wrap_uint64,
)
from kubevents.clock import Clock, RealClock
from kubevents.model import Event, ObjectMeta, Time
from kubevents.record._dedup import DedupCache
from kubevents.record._keys import (
    AGGREGATE_MESSAGE_PREFIX,
    EventAggregatorKeyFunc,
    EventAggregatorMessageFunc,
    EventSpamKeyFunc,
    event_aggregator_by_reason,
    event_aggregator_by_reason_message,
    get_event_key,
    get_spam_key,
)
from kubevents.record._lru import LRUCache
from kubevents.record._ratelimit import TokenBucket, float32

__all__ = [
    "AGGREGATE_MESSAGE_PREFIX",
    "DEFAULT_AGGREGATE_INTERVAL_SECONDS",
    "DEFAULT_AGGREGATE_MAX_EVENTS",
    "DEFAULT_SPAM_BURST",
    "DEFAULT_SPAM_QPS",
    "MAX_LRU_CACHE_ENTRIES",
    "CorrelateResult",
    "CorrelatorOptions",
    "DedupCache",
    "EventAggregator",
    "EventAggregatorKeyFunc",
    "EventAggregatorMessageFunc",
    "EventCorrelator",
    "EventSourceObjectSpamFilter",
    "EventSpamKeyFunc",
    "event_aggregator_by_reason",
    "event_aggregator_by_reason_message",
    "get_event_key",
    "get_spam_key",
]

MAX_LRU_CACHE_ENTRIES = 4096

# Aggregate once 10 distinct messages about the same object and reason have been seen with no
# gap longer than 10 minutes between consecutive ones.
DEFAULT_AGGREGATE_MAX_EVENTS = 10
DEFAULT_AGGREGATE_INTERVAL_SECONDS = 600

# A source may send 25 events about an object at once, then 1 every 5 minutes: this tames the
# long tail of events about objects that are always unhealthy.
DEFAULT_SPAM_BURST = 25
DEFAULT_SPAM_QPS = 1.0 / 300.0

_NANOS_PER_SECOND = 1_000_000_000


class EventSourceObjectSpamFilter:
    """Throttles the events one source sends about one object, with a token bucket per key."""

    def __init__(
        self,
        lru_cache_size: int,
        burst: int,
        qps: float,
        clock: Clock,
        spam_key_func: EventSpamKeyFunc = get_spam_key,
    ) -> None:
        self._cache: LRUCache[str, TokenBucket] = LRUCache(lru_cache_size)
        self._burst = burst
        self._qps = qps
        self._clock = clock
        self._spam_key_func = spam_key_func
        self._lock = threading.Lock()

    def filter(self, event: Event) -> bool:
        """True if the event must be skipped. Takes a token (one clock read) on every call."""
        key = self._spam_key_func(event)
        with self._lock:
            bucket = self._cache.get(key)
            if bucket is None:
                # An evicted key comes back with a full bucket.
                bucket = TokenBucket(self._qps, self._burst, self._clock)
            allowed = bucket.try_accept()
            self._cache.add(key, bucket)
        return not allowed


class _AggregateRecord:
    __slots__ = ("last_timestamp_ns", "local_keys")

    def __init__(self) -> None:
        self.local_keys: set[str] = set()
        self.last_timestamp_ns = GO_ZERO_TIME_UNIX_NANOS


class EventAggregator:
    """Replaces bursts of similar events with a single "combined" event."""

    def __init__(
        self,
        lru_cache_size: int,
        key_func: EventAggregatorKeyFunc,
        message_func: EventAggregatorMessageFunc,
        max_events: int,
        max_interval_seconds: int,
        clock: Clock,
    ) -> None:
        self._cache: LRUCache[str, _AggregateRecord] = LRUCache(lru_cache_size)
        self._key_func = key_func
        self._message_func = message_func
        # Go stores both as uint: a negative max_events can never be reached (no aggregation).
        self._max_events = wrap_uint64(max_events)
        # time.Duration(uint(s)) * time.Second: the uint round trip and the multiplication both
        # wrap modulo 2**64, so one final wrap gives Go's value (negative for negative s).
        self._max_interval_ns = wrap_int64(max_interval_seconds * _NANOS_PER_SECOND)
        self._clock = clock
        self._lock = threading.Lock()

    def aggregate(self, event: Event) -> tuple[Event, str]:
        """Return the event to record and its dedup cache key.

        Below the threshold that is the event itself and its event key; at the threshold a new
        aggregate event, keyed by the aggregate key so that later aggregates count onto it.
        """
        now = self._clock.now()
        now_ns = unix_nanos(now)
        event_key = get_event_key(event)
        aggregate_key, local_key = self._key_func(event)

        with self._lock:
            record = self._cache.get(aggregate_key)
            # Strictly greater: a gap of exactly max_interval keeps the group alive. (Go starts
            # from a zero-time record when there is none, which is always "too old".)
            if (
                record is None
                or saturating_sub(now_ns, record.last_timestamp_ns) > self._max_interval_ns
            ):
                record = _AggregateRecord()
            record.local_keys.add(local_key)
            record.last_timestamp_ns = now_ns
            self._cache.add(aggregate_key, record)

            if len(record.local_keys) < self._max_events:
                return event, event_key

            # Keep the set at max_events - 1. Which key goes is arbitrary (a random map entry in
            # Go); the set is shared with the cache entry, so the cache shrinks too.
            record.local_keys.pop()

        timestamp = Time.of(now)
        obj = event.involved_object
        aggregate = Event(
            metadata=ObjectMeta(
                # Unlike recorder-generated names, this one is not DNS-validated in client-go.
                name=f"{obj.name}.{go_hex(go_unix_nano(now))}",
                namespace=event.metadata.namespace,
            ),
            count=1,
            first_timestamp=timestamp,
            involved_object=msgspec.structs.replace(obj),
            last_timestamp=timestamp,
            message=self._message_func(event),
            type=event.type,
            reason=event.reason,
            source=msgspec.structs.replace(event.source),
        )
        return aggregate, aggregate_key


@dataclass
class CorrelatorOptions:
    """Options of ``EventCorrelator``. As in client-go, only zero or None selects the default:
    negative numbers are kept (a negative max_events disables aggregation, a negative
    lru_cache_size makes the caches forget everything, a negative burst skips every event).
    """

    lru_cache_size: int = MAX_LRU_CACHE_ENTRIES
    burst_size: int = DEFAULT_SPAM_BURST
    qps: float = DEFAULT_SPAM_QPS
    key_func: EventAggregatorKeyFunc | None = event_aggregator_by_reason
    message_func: EventAggregatorMessageFunc | None = event_aggregator_by_reason_message
    max_events: int = DEFAULT_AGGREGATE_MAX_EVENTS
    max_interval_seconds: int = DEFAULT_AGGREGATE_INTERVAL_SECONDS
    clock: Clock | None = None
    spam_key_func: EventSpamKeyFunc | None = get_spam_key


@dataclass(frozen=True, slots=True)
class CorrelateResult:
    """``event``/``patch`` to send, or ``skip`` (then both are None)."""

    event: Event | None
    patch: bytes | None
    skip: bool


class EventCorrelator:
    """Filters, aggregates, counts and dedups events before they are written."""

    def __init__(self, options: CorrelatorOptions | None = None) -> None:
        opts = options if options is not None else CorrelatorOptions()
        # Go's QPS field is a float32, so the zero test applies after narrowing: a qps too small
        # for float32 (1e-50) selects the default.
        qps = float32(opts.qps)
        lru_cache_size = opts.lru_cache_size or MAX_LRU_CACHE_ENTRIES
        clock: Clock = opts.clock if opts.clock is not None else RealClock()
        self._spam_filter = EventSourceObjectSpamFilter(
            lru_cache_size,
            opts.burst_size or DEFAULT_SPAM_BURST,
            qps if qps != 0 else DEFAULT_SPAM_QPS,
            clock,
            opts.spam_key_func or get_spam_key,
        )
        self._aggregator = EventAggregator(
            lru_cache_size,
            opts.key_func or event_aggregator_by_reason,
            opts.message_func or event_aggregator_by_reason_message,
            opts.max_events or DEFAULT_AGGREGATE_MAX_EVENTS,
            opts.max_interval_seconds or DEFAULT_AGGREGATE_INTERVAL_SECONDS,
            clock,
        )
        self._dedup = DedupCache(lru_cache_size)

    def correlate(self, event: Event | None) -> CorrelateResult:
        if event is None:
            raise ValueError("event is nil")
        aggregated, cache_key = self._aggregator.aggregate(event)
        observed, patch = self._dedup.observe(aggregated, cache_key)
        if self._spam_filter.filter(observed):
            return CorrelateResult(event=None, patch=None, skip=True)
        return CorrelateResult(event=observed, patch=patch, skip=False)

    def update_state(self, event: Event) -> None:
        """Call with the server's reply after a successful create or patch."""
        self._dedup.update_state(event)

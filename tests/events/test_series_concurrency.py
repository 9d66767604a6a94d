"""The heartbeat and finish passes against a cache that changes while their API call is in flight:
client-go v0.38's own tests (tools/events/eventseries_test.go, kubernetes#141654), ported case
for case. In Go a concurrent recorder changes the cache under the broadcaster's lock from inside
the sink's Patch; here it is the same: the sink's patch changes the cache through its methods
(``put`` to replace an entry, ``observe`` for one more occurrence, ``discard`` to finish it).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import msgspec
import pytest

from kubevents.clock import FakeClock
from kubevents.events import (
    EventKey,
    EventSeriesCache,
    get_key,
)
from kubevents.events._recorder import make_event
from kubevents.events._recording import SinkWriter
from kubevents.events._series import FINISH_TIME, finish_series, refresh_existing_event_series
from kubevents.model import EventsV1Event, EventsV1EventSeries, MicroTime, ObjectReference

if TYPE_CHECKING:
    from events.conftest import SeriesSink

NOW = datetime(2024, 1, 1, 12, tzinfo=UTC)
POD = ObjectReference(kind="Pod", namespace="baz", name="foo", uid="bar", api_version="v1")
# A guard against a hang (Go's wait.ForeverTestTimeout), not a speed limit.
HANG_GUARD = 30.0

Mutate = Callable[[EventSeriesCache, EventKey, EventsV1Event], None]
Verify = Callable[[EventSeriesCache, EventKey, EventsV1Event], None]


def cached_series_event(cache: EventSeriesCache, last_observed: datetime) -> EventsV1Event:
    """newCachedSeriesEvent: a count-10 series about a container of a pod, put in the cache."""
    regarding = msgspec.structs.replace(POD, field_path=".spec.containers[1]")
    related = msgspec.structs.replace(POD, field_path=".spec.containers[0]")
    event = make_event(
        regarding,
        related,
        MicroTime.of(NOW),
        int(NOW.timestamp() * 1e9),
        "Normal",
        "test",
        "some verbose message: 1",
        "eventTest",
        "eventTest-host",
        "started",
    )
    event.series = EventsV1EventSeries(count=10, last_observed_time=MicroTime.of(last_observed))
    cache.put(event)
    return event


def renamed(
    original: EventsV1Event, suffix: str, series: EventsV1EventSeries | None
) -> EventsV1Event:
    event = EventsV1Event.from_json(original.to_json())
    event.metadata.name = original.metadata.name + suffix
    event.metadata.resource_version = ""
    event.series = series
    return event


def recorded(event: EventsV1Event) -> EventsV1Event:
    """What the test sink answers a patch with: the event, with a resourceVersion."""
    copy = EventsV1Event.from_json(event.to_json())
    copy.metadata.resource_version = "recorded"
    return copy


# -- TestRefreshExistingEventSeriesConcurrentCacheUpdate --------------------------------------

OBSERVED_AGAIN_LATER = NOW + timedelta(minutes=1)


def replace_with_new_series(
    cache: EventSeriesCache, key: EventKey, original: EventsV1Event
) -> None:
    again = EventsV1EventSeries(count=2, last_observed_time=MicroTime.of(OBSERVED_AGAIN_LATER))
    cache.put(renamed(original, "-replacement", again))


def replace_with_singleton(cache: EventSeriesCache, key: EventKey, original: EventsV1Event) -> None:
    cache.put(renamed(original, "-singleton", None))


def observe_again(when: datetime) -> Mutate:
    def mutate(cache: EventSeriesCache, key: EventKey, original: EventsV1Event) -> None:
        assert cache.observe(renamed(original, "-again", None), when) is None

    return mutate


def finish(cache: EventSeriesCache, key: EventKey, original: EventsV1Event) -> None:
    assert cache.discard(key)


def kept_replacement(cache: EventSeriesCache, key: EventKey, original: EventsV1Event) -> None:
    cached = cache.get(key)
    assert cached is not None, "the replacement series must remain in the cache"
    assert cached.metadata.name == original.metadata.name + "-replacement"
    assert cached.series is not None and cached.series.count == 2


def kept_singleton(cache: EventSeriesCache, key: EventKey, original: EventsV1Event) -> None:
    cached = cache.get(key)
    assert cached is not None, "the singleton event must remain in the cache"
    assert (cached.metadata.name, cached.series) == (original.metadata.name + "-singleton", None)


def refreshed_with_count_11(
    cache: EventSeriesCache, key: EventKey, original: EventsV1Event
) -> None:
    cached = cache.get(key)
    assert cached is not None, "the series must remain in the cache"
    assert cached.metadata.name == original.metadata.name
    # Updated with the recorded event, with the observations made during the call.
    assert cached.metadata.resource_version == "recorded"
    assert cached.series is not None
    assert (cached.series.count, cached.series.last_observed_time) == (11, OBSERVED_AGAIN_LATER)


def not_in_cache(cache: EventSeriesCache, key: EventKey, original: EventsV1Event) -> None:
    assert key not in cache


@pytest.mark.parametrize(
    ("mutate", "verify"),
    [
        pytest.param(
            replace_with_new_series,
            kept_replacement,
            id="cache entry replaced by a new isomorphic series is not overwritten",
        ),
        pytest.param(
            observe_again(OBSERVED_AGAIN_LATER),
            refreshed_with_count_11,
            id="cache entry observed again keeps the most recent observations",
        ),
        pytest.param(
            finish, not_in_cache, id="cache entry finished while refreshing is not re-added"
        ),
        pytest.param(
            replace_with_singleton,
            kept_singleton,
            id="cache entry replaced by a singleton event is not overwritten",
        ),
    ],
)
async def test_refresh_existing_event_series_concurrent_cache_update(
    series_sink: SeriesSink, mutate: Mutate, verify: Verify
) -> None:
    cache = EventSeriesCache()
    original = cached_series_event(cache, NOW)
    key = get_key(original)

    async def on_patch(event: EventsV1Event, patch: bytes) -> EventsV1Event:
        assert event.metadata.name == original.metadata.name
        mutate(cache, key, original)
        return recorded(event)

    series_sink.on_patch = on_patch
    await refresh_existing_event_series(cache, series_sink)

    assert series_sink.verbs() == ["patch"]
    assert len(cache) <= 1
    verify(cache, key, original)


# -- TestFinishSeriesConcurrentCacheUpdate -----------------------------------------------------

OBSERVED_AGAIN_NOW = NOW


def unchanged(cache: EventSeriesCache, key: EventKey, original: EventsV1Event) -> None:
    pass


def kept_count_11(cache: EventSeriesCache, key: EventKey, original: EventsV1Event) -> None:
    cached = cache.get(key)
    assert cached is not None, "the series observed again must remain in the cache"
    assert cached.metadata.name == original.metadata.name
    assert cached.series is not None and cached.series.count == 11


@pytest.mark.parametrize(
    ("mutate", "verify"),
    [
        pytest.param(unchanged, not_in_cache, id="unchanged series is deleted"),
        pytest.param(
            replace_with_new_series,
            kept_replacement,
            id="cache entry replaced by a new isomorphic series is not deleted",
        ),
        pytest.param(
            observe_again(OBSERVED_AGAIN_NOW),
            kept_count_11,
            id="cache entry observed again is not deleted",
        ),
        pytest.param(
            replace_with_singleton,
            kept_singleton,
            id="cache entry replaced by a singleton event is not deleted",
        ),
    ],
)
async def test_finish_series_concurrent_cache_update(
    series_sink: SeriesSink, mutate: Mutate, verify: Verify
) -> None:
    cache = EventSeriesCache()
    original = cached_series_event(cache, NOW - FINISH_TIME - timedelta(minutes=1))
    key = get_key(original)

    async def on_patch(event: EventsV1Event, patch: bytes) -> EventsV1Event:
        assert event.metadata.name == original.metadata.name
        assert event.series is not None and event.series.count == 10  # the final count
        mutate(cache, key, original)
        return event

    series_sink.on_patch = on_patch
    await finish_series(cache, series_sink, NOW)

    assert series_sink.verbs() == ["patch"]
    assert len(cache) <= 1
    verify(cache, key, original)


# -- TestSeriesHousekeepingWithConcurrentRecordToSink ------------------------------------------


async def finish_pass(cache: EventSeriesCache, sink: SeriesSink) -> None:
    await finish_series(cache, sink, NOW)


async def refresh_pass(cache: EventSeriesCache, sink: SeriesSink) -> None:
    await refresh_existing_event_series(cache, sink)


@pytest.mark.parametrize(
    ("last_observed", "housekeeping", "verify"),
    [
        pytest.param(
            NOW - FINISH_TIME - timedelta(minutes=1),
            finish_pass,
            kept_count_11,
            id="finishSeries does not delete a series observed while patching",
        ),
        pytest.param(
            NOW,
            refresh_pass,
            refreshed_with_count_11,
            id="refreshExistingEventSeries keeps observations recorded while patching",
        ),
    ],
)
async def test_series_housekeeping_with_concurrent_record_to_sink(
    series_sink: SeriesSink,
    last_observed: datetime,
    housekeeping: Callable[[EventSeriesCache, SeriesSink], Coroutine[Any, Any, None]],
    verify: Verify,
) -> None:
    """Events recorded while a pass' API call is in flight are neither blocked by that call nor
    lost: an isomorphic one counts into the series (and keeps finish from forgetting it), an
    unrelated one is created at once."""
    cache = EventSeriesCache()
    original = cached_series_event(cache, last_observed)
    key = get_key(original)
    patch_started, release_patch = asyncio.Event(), asyncio.Event()

    async def on_patch(event: EventsV1Event, patch: bytes) -> EventsV1Event:
        patch_started.set()
        await release_patch.wait()
        return recorded(event)

    series_sink.on_patch = on_patch
    record_to_sink = SinkWriter(
        series_sink,
        cache,
        FakeClock(OBSERVED_AGAIN_LATER),
        0.0,
        asyncio.sleep,
        asyncio.Event(),
        lambda outcome: None,
    )
    pass_task = asyncio.ensure_future(housekeeping(cache, series_sink))
    await asyncio.wait_for(patch_started.wait(), HANG_GUARD)

    isomorphic = renamed(original, "-isomorphic", None)
    other = renamed(original, "-other", None)
    other.reason = "other"
    await asyncio.wait_for(record_to_sink(isomorphic), HANG_GUARD)
    await asyncio.wait_for(record_to_sink(other), HANG_GUARD)
    # The unrelated event was created while the pass' call was still in flight.
    assert [call.event.metadata.name for call in series_sink.of("create")] == [other.metadata.name]

    release_patch.set()
    await asyncio.wait_for(pass_task, HANG_GUARD)

    assert series_sink.verbs() == ["patch", "create"]
    assert len(cache) == 2
    other_cached = cache.get(get_key(other))
    assert other_cached is not None and other_cached.series is None
    verify(cache, key, original)

"""The isomorphic-event cache and its passes: client-go's TestFinishSeries,
TestRefreshExistingEventSeries and TestRecordEventToSink, the key, the patch body, and
occurrences counted while a pass' API call is in flight (client-go v0.38's own cases for that:
test_series_concurrency.py)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import msgspec
import pytest

from kubevents.errors import RequestConstructionError, StatusError, TransportError
from kubevents.events import (
    EventSeriesCache,
    get_key,
)
from kubevents.events._recorder import make_event
from kubevents.events._series import (
    FINISH_TIME,
    INITIAL_SERIES_COUNT,
    finish_series,
    refresh_existing_event_series,
)
from kubevents.events._sink import create_patch_bytes_for_series, record_event
from kubevents.model import EventsV1Event, EventsV1EventSeries, MicroTime, ObjectReference

if TYPE_CHECKING:
    from events.conftest import ApiSink, SeriesSink

NOW = datetime(2024, 1, 1, 12, tzinfo=UTC)
POD = ObjectReference(kind="Pod", namespace="baz", name="foo", uid="bar", api_version="v1")
# GetPartialReference(pod, ".spec.containers[1]") and [0], as client-go's tests use them.
REGARDING = msgspec.structs.replace(POD, field_path=".spec.containers[1]")
RELATED = msgspec.structs.replace(POD, field_path=".spec.containers[0]")


def event(
    *,
    when: datetime = NOW,
    note: str = "some verbose message: 1",
    action: str = "started",
    controller: str = "eventTest",
    related: ObjectReference | None = RELATED,
) -> EventsV1Event:
    return make_event(
        REGARDING,
        related,
        MicroTime.of(when),
        int(when.timestamp() * 1e9),
        "Normal",
        "test",
        note,
        controller,
        f"{controller}-host",
        action,
    )


def with_series(ev: EventsV1Event, count: int, last: datetime | None) -> EventsV1Event:
    ev.series = EventsV1EventSeries(
        count=count, last_observed_time=None if last is None else MicroTime.of(last)
    )
    return ev


# -- the key ----------------------------------------------------------------------------------


def test_note_name_namespace_and_time_are_not_in_the_key() -> None:
    first = event()
    later = event(when=NOW + timedelta(hours=1), note="another note")
    later.metadata.namespace = "elsewhere"
    assert later.metadata.name != first.metadata.name
    assert get_key(first) == get_key(later)


@pytest.mark.parametrize(
    "change",
    [
        lambda e: setattr(e, "type", "Warning"),
        lambda e: setattr(e, "action", "stopped"),
        lambda e: setattr(e, "reason", "other"),
        lambda e: setattr(e, "reporting_controller", "other"),
        lambda e: setattr(e, "reporting_instance", "other"),
        lambda e: setattr(e.regarding, "resource_version", "7"),
        lambda e: setattr(e.regarding, "field_path", ".spec"),
        lambda e: setattr(e, "related", None),
        lambda e: setattr(e.related, "uid", "other"),
    ],
)
def test_every_other_field_is_in_the_key(change: object) -> None:
    changed = event()
    assert callable(change)
    change(changed)
    assert get_key(changed) != get_key(event())


def test_no_related_keys_like_an_empty_reference() -> None:
    assert get_key(event(related=None)) == get_key(event(related=ObjectReference()))


# -- observe: recordToSink's cache logic ------------------------------------------------------


def test_first_occurrence_is_sent_as_is_and_cached() -> None:
    cache = EventSeriesCache()
    first = event()
    sent = cache.observe(first, NOW)
    assert sent == first
    assert sent is not first
    assert sent.series is None
    assert cache.get(get_key(first)) == first


def test_second_occurrence_sends_the_first_with_a_series_of_two() -> None:
    cache = EventSeriesCache()
    first = event()
    cache.observe(first, NOW)
    second = event(when=NOW + timedelta(seconds=5), note="a different note")
    sent = cache.observe(second, NOW + timedelta(seconds=6))
    assert sent is not None
    # The first occurrence's name, eventTime and note: a patch of the stored event.
    assert (sent.metadata.name, sent.event_time, sent.note) == (
        first.metadata.name,
        first.event_time,
        first.note,
    )
    assert sent.series == EventsV1EventSeries(
        count=INITIAL_SERIES_COUNT, last_observed_time=MicroTime.of(NOW + timedelta(seconds=6))
    )


def test_later_occurrences_only_count_in_memory() -> None:
    cache = EventSeriesCache()
    cache.observe(event(), NOW)
    cache.observe(event(), NOW)
    for i in range(1, 4):
        assert cache.observe(event(note=f"n{i}"), NOW + timedelta(minutes=i)) is None
    cached = cache.get(get_key(event()))
    assert cached is not None
    assert cached.series == EventsV1EventSeries(
        count=5, last_observed_time=MicroTime.of(NOW + timedelta(minutes=3))
    )
    # The later notes are never sent.
    assert cached.note == "some verbose message: 1"


def test_what_observe_returns_is_not_the_cache() -> None:
    cache = EventSeriesCache()
    sent = cache.observe(event(), NOW)
    assert sent is not None
    sent.metadata.resource_version = "changed"
    sent.regarding.name = "changed"
    assert cache.get(get_key(event())) == event()


def test_non_isomorphic_events_are_separate_entries() -> None:
    cache = EventSeriesCache()
    assert cache.observe(event(), NOW) is not None
    stopped = cache.observe(event(action="stopped"), NOW)
    assert stopped is not None
    assert stopped.series is None
    assert len(cache) == 2


# -- the patch body ---------------------------------------------------------------------------


def test_series_patch_body_is_client_gos() -> None:
    ev = with_series(event(), 10, datetime(2024, 1, 1, tzinfo=UTC))
    assert create_patch_bytes_for_series(ev) == (
        b'{"series":{"count":10,"lastObservedTime":"2024-01-01T00:00:00.000000Z"}}'
    )
    # Zero time is null (no omitempty in events/v1 EventSeries).
    assert create_patch_bytes_for_series(with_series(event(), 2, None)) == (
        b'{"series":{"count":2,"lastObservedTime":null}}'
    )


# -- TestFinishSeries -------------------------------------------------------------------------


async def test_finish_series(series_sink: SeriesSink) -> None:
    last_observed = NOW - timedelta(minutes=9)
    cached = with_series(event(), 10, last_observed)
    non_finished = event(controller="nonFinished-controller")
    cache = EventSeriesCache({get_key(cached): cached, get_key(non_finished): non_finished})

    assert await finish_series(cache, series_sink, NOW) == 1

    (call,) = series_sink.calls  # exactly one event emitted
    assert call.verb == "patch"
    assert call.event.series is not None
    assert call.event.series.last_observed_time == last_observed
    assert call.patch == create_patch_bytes_for_series(cached)
    assert len(cache) == 1
    assert get_key(non_finished) in cache


def test_finish_time_is_six_minutes() -> None:
    assert timedelta(minutes=6) == FINISH_TIME


@pytest.mark.parametrize(
    ("idle", "finished"),
    [
        (FINISH_TIME, False),  # Before(now - 6m) is strict
        (FINISH_TIME + timedelta(microseconds=1), True),
        (timedelta(minutes=5), False),
    ],
)
async def test_finish_needs_strictly_more_than_six_idle_minutes(
    series_sink: SeriesSink, idle: timedelta, finished: bool
) -> None:
    series = with_series(event(), 3, NOW - idle)
    single = event(when=NOW - idle, action="single")
    cache = EventSeriesCache({get_key(series): series, get_key(single): single})
    removed = await finish_series(cache, series_sink, NOW)
    assert removed == (2 if finished else 0)
    # A singleton is forgotten without an API call; only the series' final count is sent.
    assert series_sink.verbs() == (["patch"] if finished else [])


async def test_a_series_without_last_observed_time_is_finished(series_sink: SeriesSink) -> None:
    series = with_series(event(), 2, None)
    cache = EventSeriesCache({get_key(series): series})
    assert await finish_series(cache, series_sink, NOW) == 1
    assert series_sink.verbs() == ["patch"]


async def test_finish_keeps_a_series_whose_write_will_be_retried(
    series_sink: SeriesSink,
) -> None:
    series = with_series(event(), 4, NOW - timedelta(minutes=7))
    cache = EventSeriesCache({get_key(series): series})
    error: Exception = TransportError("connection refused")

    async def fail(ev: EventsV1Event, patch: bytes) -> EventsV1Event:
        raise error

    series_sink.on_patch = fail
    assert await finish_series(cache, series_sink, NOW) == 0
    assert get_key(series) in cache
    # A final error drops the series: client-go deletes when the write is not to be retried.
    error = StatusError(422, "Invalid", "bad")
    assert await finish_series(cache, series_sink, NOW) == 1
    assert len(cache) == 0


# -- TestRefreshExistingEventSeries -----------------------------------------------------------


async def test_refresh_existing_event_series_success(series_sink: SeriesSink) -> None:
    cached = with_series(event(), 10, NOW - timedelta(minutes=9))
    key = get_key(cached)
    cache = EventSeriesCache({key: cached})

    async def from_server(ev: EventsV1Event, patch: bytes) -> EventsV1Event:
        returned = msgspec.structs.replace(ev, metadata=msgspec.structs.replace(ev.metadata))
        returned.metadata.resource_version = "42"
        return returned

    series_sink.on_patch = from_server
    assert await refresh_existing_event_series(cache, series_sink) == 1
    assert series_sink.verbs() == ["patch"]
    assert len(cache) == 1
    entry = cache.get(key)
    # The server's event replaces the cached one and is the base of later counting.
    assert entry is not None
    assert entry.metadata.resource_version == "42"
    cache.observe(event(), NOW)
    counted = cache.get(key)
    assert counted is not None and counted.series is not None
    assert (counted.series.count, counted.metadata.resource_version) == (11, "42")


async def test_refresh_existing_event_series_error(series_sink: SeriesSink) -> None:
    cached = with_series(event(), 10, NOW - timedelta(minutes=9))
    key = get_key(cached)
    cache = EventSeriesCache({key: cached})

    async def fail(ev: EventsV1Event, patch: bytes) -> EventsV1Event:
        raise RequestConstructionError("simulated")

    series_sink.on_patch = fail
    assert await refresh_existing_event_series(cache, series_sink) == 0
    assert series_sink.verbs() == ["patch"]
    assert cache.get(key) == cached


async def test_refresh_skips_singletons(series_sink: SeriesSink) -> None:
    single = event()
    cache = EventSeriesCache({get_key(single): single})
    assert await refresh_existing_event_series(cache, series_sink) == 0
    assert series_sink.calls == []
    assert len(cache) == 1


# -- nothing counted during a pass' API call is lost ----------------------------------------


async def test_occurrence_during_a_refresh_write_is_kept(series_sink: SeriesSink) -> None:
    cached = with_series(event(), 10, NOW - timedelta(minutes=1))
    key = get_key(cached)
    cache = EventSeriesCache({key: cached})

    async def occurrence_meanwhile(ev: EventsV1Event, patch: bytes) -> EventsV1Event:
        assert cache.observe(event(), NOW) is None
        return ev

    series_sink.on_patch = occurrence_meanwhile
    assert await refresh_existing_event_series(cache, series_sink) == 1
    entry = cache.get(key)
    # The server's event is stored with the count observed during the write, not its 10.
    assert entry is not None and entry.series is not None
    assert entry.series.count == 11


async def test_occurrence_during_a_final_write_keeps_the_series(
    series_sink: SeriesSink,
) -> None:
    cached = with_series(event(), 10, NOW - timedelta(minutes=7))
    key = get_key(cached)
    cache = EventSeriesCache({key: cached})

    async def occurrence_meanwhile(ev: EventsV1Event, patch: bytes) -> EventsV1Event:
        assert cache.observe(event(), NOW) is None
        return ev

    series_sink.on_patch = occurrence_meanwhile
    assert await finish_series(cache, series_sink, NOW) == 0
    entry = cache.get(key)
    assert entry is not None and entry.series is not None
    assert (entry.series.count, entry.series.last_observed_time) == (11, NOW)


# -- TestRecordEventToSink (against an in-memory API) -----------------------------------------

SINGLE = event()
ISOMORPHIC = with_series(event(), 2, NOW)


@pytest.mark.parametrize(
    ("records", "expected"),
    [
        pytest.param([SINGLE], SINGLE, id="one event"),
        pytest.param([SINGLE, ISOMORPHIC], ISOMORPHIC, id="followed by an isomorphic one"),
        pytest.param([ISOMORPHIC, SINGLE], ISOMORPHIC, id="isomorphic before the original"),
        pytest.param([ISOMORPHIC], ISOMORPHIC, id="isomorphic without an original"),
    ],
)
async def test_record_event_to_sink(
    api_sink: ApiSink, records: list[EventsV1Event], expected: EventsV1Event
) -> None:
    for ev in records:
        await record_event(api_sink, copy.deepcopy(ev))
    (stored,) = api_sink.items()
    stored.metadata.resource_version = ""
    assert stored == expected

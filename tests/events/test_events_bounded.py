"""The bounded path from recorder to sink (client-go v0.38, kubernetes#140868): a full incoming
queue drops at the recorder, the sink watcher writes one event at a time, a busy sink watcher
drops beyond its own queue, and a dropped occurrence, a first one included, is never counted in
a series. Against the real apiserver behind a failing proxy: test_events_outage.py."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest

from kubevents.events import MAX_QUEUED_EVENTS, EventBroadcaster, Recorder
from kubevents.model import EventsV1Event, ObjectReference
from support import eventually

if TYPE_CHECKING:
    from events.conftest import SeriesSink

FLAPPY = "flappy"


def ref(name: str) -> ObjectReference:
    return ObjectReference(kind="Pod", namespace="ns", name=name, uid=name, api_version="v1")


def record(recorder: Recorder, name: str, note: str = "n") -> None:
    recorder.eventf(ref(name), None, "Warning", "BackOff", "Restarting", "%s", note)


async def test_a_full_incoming_queue_drops_and_logs(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[str] = []
    async with EventBroadcaster() as broadcaster:
        broadcaster.start_event_watcher(lambda event: seen.append(event.note))
        recorder = broadcaster.new_recorder("c")
        # Without yielding, the distributor cannot empty the incoming queue of 1000.
        for i in range(MAX_QUEUED_EVENTS + 500):
            record(recorder, f"p{i}", str(i))
        stats = broadcaster.stats()
        assert (stats.accepted, stats.dropped_queue_full) == (MAX_QUEUED_EVENTS, 500)
        assert broadcaster.dropped == 500
        assert await broadcaster.aflush(10)
    assert seen == [str(i) for i in range(MAX_QUEUED_EVENTS)]
    assert "Unable to record event: too many queued events, dropped event" in caplog.text


async def test_the_sink_writes_one_event_at_a_time_in_order(series_sink: SeriesSink) -> None:
    gate = asyncio.Event()
    in_flight = most_in_flight = 0

    async def create(event: EventsV1Event) -> EventsV1Event:
        nonlocal in_flight, most_in_flight
        in_flight += 1
        most_in_flight = max(most_in_flight, in_flight)
        await gate.wait()
        in_flight -= 1
        return event

    series_sink.on_create = create
    async with EventBroadcaster(series_sink) as broadcaster:
        broadcaster.start_recording_to_sink()
        recorder = broadcaster.new_recorder("c")
        for i in range(50):
            record(recorder, f"p{i}")
        # The loop runs for a while; with a task per write all 50 would be in flight.
        assert not await broadcaster.aflush(0.2)
        assert series_sink.verbs() == ["create"]
        gate.set()
        assert await broadcaster.aflush(10)
    assert most_in_flight == 1
    assert [call.event.regarding.name for call in series_sink.calls] == [f"p{i}" for i in range(50)]


async def fill_the_sink_watcher(
    broadcaster: EventBroadcaster, series_sink: SeriesSink, gate: asyncio.Event
) -> tuple[Recorder, list[str]]:
    """One write hanging on ``gate``, then a full queue (1000) behind it: what the sink watcher
    looks like during an outage. Returns the recorder and what a second watcher saw."""

    async def create(event: EventsV1Event) -> EventsV1Event:
        if event.regarding.name == "blocker":
            await gate.wait()
        return event

    series_sink.on_create = create
    seen: list[str] = []
    broadcaster.start_recording_to_sink()
    broadcaster.start_event_watcher(lambda event: seen.append(event.regarding.name))
    recorder = broadcaster.new_recorder("c")
    record(recorder, "blocker")
    await eventually(lambda: series_sink.verbs() == ["create"], "the hanging write")
    for i in range(MAX_QUEUED_EVENTS):
        record(recorder, f"p{i}")
    await eventually(lambda: len(seen) == MAX_QUEUED_EVENTS + 1, "the distributor")
    assert series_sink.verbs() == ["create"]
    return recorder, seen


async def test_a_busy_sink_watcher_drops_beyond_its_queue(series_sink: SeriesSink) -> None:
    gate = asyncio.Event()
    broadcaster = EventBroadcaster(series_sink)
    baseline = len(asyncio.all_tasks())
    recorder, seen = await fill_the_sink_watcher(broadcaster, series_sink, gate)
    for burst in range(8):
        for i in range(500):
            record(recorder, f"q{burst}-{i}")
        seen_now = MAX_QUEUED_EVENTS + 1 + 500 * (burst + 1)
        await eventually(lambda: len(seen) == seen_now, "the distributor")  # noqa: B023
    stats = broadcaster.stats()
    assert (stats.dropped_queue_full, stats.dropped_watcher_full) == (0, 4000)
    # The mux, two watchers and the passes: nothing per event.
    assert len(asyncio.all_tasks()) - baseline <= 4
    # The hanging write and the full queue behind it are what shutdown cannot deliver.
    report = await broadcaster.ashutdown(0.2)
    assert (report.dropped, report.timed_out) == (MAX_QUEUED_EVENTS + 1, True)


async def test_a_dropped_first_occurrence_is_not_counted(series_sink: SeriesSink) -> None:
    gate = asyncio.Event()
    async with EventBroadcaster(series_sink) as broadcaster:
        recorder, _ = await fill_the_sink_watcher(broadcaster, series_sink, gate)
        for i in range(5):
            record(recorder, FLAPPY, str(i))
        await eventually(lambda: broadcaster.stats().dropped_watcher_full == 5, "the drops")
        gate.set()
        assert await broadcaster.aflush(10)
        cached = [broadcaster.cache.get(key) for key in broadcaster.cache]
        assert len(cached) == MAX_QUEUED_EVENTS + 1
        assert FLAPPY not in {event.regarding.name for event in cached if event is not None}

        # The next occurrence that gets through is the first the cache sees: a create, with
        # its own note; the one after it starts the series at 2.
        record(recorder, FLAPPY, "kept 1")
        record(recorder, FLAPPY, "kept 2")
        assert await broadcaster.aflush(10)
    *_, created, patched = series_sink.calls
    assert (created.verb, created.event.note, created.event.series) == ("create", "kept 1", None)
    assert patched.verb == "patch"
    assert patched.event.series is not None and patched.event.series.count == 2

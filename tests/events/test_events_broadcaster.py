"""The events.k8s.io/v1 broadcaster: recordEvent's error handling with attempt counts (client-go's
TestRecordEventError cases), the jittered waits, the sink, watchers and logging, the
clock-driven heartbeat and finish passes, flush and shutdown. The bounded path (drops) is in
test_events_bounded.py."""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, cast

import pytest

from kubevents.clock import FakeClock
from kubevents.errors import (
    RequestConstructionError,
    StatusError,
    TransportError,
    UnexpectedObjectError,
)
from kubevents.events import (
    DEFAULT_SLEEP_DURATION,
    MAX_TRIES_PER_EVENT,
    SERIES_OUTCOME,
    BroadcasterStoppedError,
    EventBroadcaster,
    EventSeriesCache,
    KubeEventSink,
    RecordOutcome,
    get_key,
)
from kubevents.events._recorder import make_event
from kubevents.events._sink import attempt_recording, jitter
from kubevents.kube import CONTENT_TYPE_STRATEGIC_MERGE_PATCH, KubeClient
from kubevents.model import EventsV1Event, EventsV1EventSeries, MicroTime, ObjectReference

if TYPE_CHECKING:
    from events.conftest import ApiSink, SeriesSink

START = datetime(2024, 1, 1, tzinfo=UTC)
POD = ObjectReference(kind="Pod", namespace="ns", name="foo", uid="u1", api_version="v1")


def ref(name: str) -> ObjectReference:
    return ObjectReference(kind="Pod", namespace="ns", name=name, uid=name, api_version="v1")


def single(namespace: str = "ns") -> EventsV1Event:
    regarding = ObjectReference(kind="Pod", namespace=namespace, name="foo", api_version="v1")
    return make_event(regarding, None, MicroTime.of(START), 1, "Normal", "R", "n", "c", "c-h", "a")


def series() -> EventsV1Event:
    ev = single()
    ev.series = EventsV1EventSeries(count=2, last_observed_time=MicroTime.of(START))
    return ev


class Sleeps:
    """An injected sleep: records the requested delays and returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def failing(err: Exception, times: int = MAX_TRIES_PER_EVENT * 2) -> Any:
    """A sink call that fails ``times`` times, then returns the event."""
    calls = 0

    async def call(event: EventsV1Event, *rest: Any) -> EventsV1Event:
        nonlocal calls
        calls += 1
        if calls <= times:
            raise err
        return event

    return call


# -- recordEvent / attemptRecording error handling --------------------------------------------

NOT_FOUND = StatusError(404, "NotFound", "gone")
ALREADY_EXISTS = StatusError(409, "AlreadyExists", "exists")


@pytest.mark.parametrize(
    ("err", "attempts", "outcome"),
    [
        (RequestConstructionError("bad request"), 1, RecordOutcome.REJECTED),
        (StatusError(0), 1, RecordOutcome.REJECTED),
        (StatusError(500, "InternalError", "boom"), 1, RecordOutcome.REJECTED),
        (StatusError(422, "Invalid", "note too long"), 1, RecordOutcome.REJECTED),
        (ALREADY_EXISTS, 1, RecordOutcome.REJECTED),
        (UnexpectedObjectError("what?"), MAX_TRIES_PER_EVENT, RecordOutcome.RETRY_LIMIT),
        (TransportError("connection refused"), MAX_TRIES_PER_EVENT, RecordOutcome.RETRY_LIMIT),
        (ValueError("plain error"), MAX_TRIES_PER_EVENT, RecordOutcome.RETRY_LIMIT),
        # Only the error itself counts: a wrapped StatusError is a plain error, retried.
        (RuntimeError("wrapped"), MAX_TRIES_PER_EVENT, RecordOutcome.RETRY_LIMIT),
    ],
)
async def test_record_event_error_singleton(
    series_sink: SeriesSink, err: Exception, attempts: int, outcome: RecordOutcome
) -> None:
    series_sink.on_create = failing(err)
    sleeps = Sleeps()
    got = await attempt_recording(series_sink, single(), 0, sleep=sleeps)
    assert got is outcome
    assert series_sink.verbs() == ["create"] * attempts
    assert len(sleeps.delays) == attempts - 1


async def test_already_exists_is_retried_for_a_series(series_sink: SeriesSink) -> None:
    # The patch found nothing and the create raced with the original create.
    series_sink.on_patch = failing(NOT_FOUND)
    series_sink.on_create = failing(ALREADY_EXISTS)
    got = await attempt_recording(series_sink, series(), 0, sleep=Sleeps())
    assert got is RecordOutcome.RETRY_LIMIT
    assert series_sink.verbs() == ["patch", "create"] * MAX_TRIES_PER_EVENT


async def test_series_patch_not_found_creates_with_the_series(series_sink: SeriesSink) -> None:
    series_sink.on_patch = failing(NOT_FOUND)
    ev = series()
    ev.metadata.resource_version = "99"
    assert await attempt_recording(series_sink, ev, 0) is RecordOutcome.WRITTEN
    patch, create = series_sink.calls
    assert (patch.verb, create.verb) == ("patch", "create")
    assert create.event.metadata.resource_version == ""
    assert create.event.series == ev.series


async def test_not_found_reason_without_404_is_not_a_missing_event(
    series_sink: SeriesSink,
) -> None:
    series_sink.on_patch = failing(StatusError(500, "NotFound", "odd"))
    assert await attempt_recording(series_sink, series(), 0) is RecordOutcome.REJECTED
    assert series_sink.verbs() == ["patch"]


async def test_a_retryable_error_then_success(series_sink: SeriesSink) -> None:
    series_sink.on_create = failing(TransportError("reset"), times=1)
    sleeps = Sleeps()
    assert await attempt_recording(series_sink, single(), sleep=sleeps) is RecordOutcome.WRITTEN
    assert series_sink.verbs() == ["create", "create"]
    assert len(sleeps.delays) == 1


@pytest.mark.parametrize("rand", [0.0, 0.5, 0.999999])
async def test_every_wait_is_jittered_up_to_a_quarter(series_sink: SeriesSink, rand: float) -> None:
    series_sink.on_create = failing(TransportError("down"))
    sleeps = Sleeps()
    await attempt_recording(series_sink, single(), sleep=sleeps, rand=lambda: rand)
    expected = DEFAULT_SLEEP_DURATION * (1 + 0.25 * rand)
    assert sleeps.delays == [pytest.approx(expected)] * (MAX_TRIES_PER_EVENT - 1)
    assert all(10.0 <= delay < 12.5 for delay in sleeps.delays)


def test_jitter_is_wait_jitter() -> None:
    assert jitter(10.0, 0.25, lambda: 0.5) == 11.25
    # A non-positive factor means 1.0, as in apimachinery.
    assert jitter(10.0, 0.0, lambda: 0.5) == 15.0


async def test_stopping_means_one_attempt(series_sink: SeriesSink) -> None:
    series_sink.on_create = failing(TransportError("down"))
    stopping = asyncio.Event()
    stopping.set()
    got = await attempt_recording(series_sink, single(), stopping=stopping, sleep=Sleeps())
    assert got is RecordOutcome.SHUT_DOWN
    assert series_sink.verbs() == ["create"]


# -- KubeEventSink ----------------------------------------------------------------------------


class _EventsV1:
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...], dict[str, Any]]] = []

    async def create(self, event: EventsV1Event) -> EventsV1Event:
        self.calls.append(("create", (event,), {}))
        return event

    async def update(self, event: EventsV1Event) -> EventsV1Event:
        self.calls.append(("update", (event,), {}))
        return event

    async def patch(self, *args: Any, **kwargs: Any) -> EventsV1Event:
        self.calls.append(("patch", args, kwargs))
        return single()


class _Client:
    def __init__(self) -> None:
        self.events_v1 = _EventsV1()


async def test_kube_sink_refuses_an_empty_namespace_with_a_plain_error() -> None:
    client = _Client()
    sink = KubeEventSink(cast(KubeClient, client))
    ev = single()
    ev.metadata.namespace = ""
    with pytest.raises(ValueError, match="can't create an event with empty namespace"):
        await sink.create(ev)
    with pytest.raises(ValueError, match="can't update an event with empty namespace"):
        await sink.update(ev)
    with pytest.raises(ValueError, match="can't patch an event with empty namespace"):
        await sink.patch(ev, b"{}")
    assert client.events_v1.calls == []
    # Plain errors are retried, all 12 times, as client-go's EventSinkImpl's are.
    got = await attempt_recording(sink, ev, sleep=Sleeps())
    assert got is RecordOutcome.RETRY_LIMIT


async def test_kube_sink_patches_strategically_by_name() -> None:
    client = _Client()
    sink = KubeEventSink(cast(KubeClient, client))
    ev = series()
    await sink.patch(ev, b'{"series":{}}')
    ((verb, args, kwargs),) = client.events_v1.calls
    assert (verb, args) == ("patch", ("ns", ev.metadata.name, b'{"series":{}}'))
    assert kwargs == {"content_type": CONTENT_TYPE_STRATEGIC_MERGE_PATCH}


# -- watchers, logging, submission ------------------------------------------------------------


async def test_every_watcher_gets_every_event_in_order(caplog: pytest.LogCaptureFixture) -> None:
    seen: tuple[list[str], list[str]] = ([], [])

    async def slow(event: EventsV1Event) -> None:
        await asyncio.sleep(0)
        seen[1].append(event.note)
        if event.note == "3":
            raise RuntimeError("handler bug")

    async with EventBroadcaster() as broadcaster:
        broadcaster.start_event_watcher(lambda event: seen[0].append(event.note))
        broadcaster.start_event_watcher(slow)
        rec = broadcaster.new_recorder("c")
        # Without yielding, within the incoming queue's 1000: none may be dropped.
        for i in range(300):
            rec.eventf(ref(f"p{i}"), None, "Normal", "R", "a", "%d", i)
        assert broadcaster.stats().accepted == 300
        assert await broadcaster.aflush(10)
        assert broadcaster.stats().dropped == 0
    expected = [str(i) for i in range(300)]
    assert seen == (expected, expected)
    assert "Event handler failed" in caplog.text


async def test_logging_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="kubevents.events")
    async with EventBroadcaster() as broadcaster:
        broadcaster.start_logging()
        broadcaster.new_recorder("c").eventf(POD, None, "Warning", "Failed", "Pull", 'no "x"')
        assert await broadcaster.aflush(10)
    (record,) = [r for r in caplog.records if r.getMessage().startswith("Event occurred")]
    assert record.getMessage() == (
        'Event occurred object="ns/foo" kind="Pod" apiVersion="v1" type="Warning" '
        'reason="Failed" action="Pull" note="no \\"x\\""'
    )
    assert getattr(record, "k8s_event")["action"] == "Pull"  # noqa: B009 - set via extra=


async def test_after_shutdown(caplog: pytest.LogCaptureFixture, api_sink: ApiSink) -> None:
    broadcaster = EventBroadcaster(api_sink)
    await broadcaster.ashutdown()
    with pytest.raises(BroadcasterStoppedError):
        broadcaster.start_event_watcher(lambda event: None)
    assert broadcaster.start_structured_logging().stopped
    with pytest.raises(BroadcasterStoppedError):
        broadcaster.start_recording_to_sink()
    broadcaster.new_recorder("c").eventf(POD, None, "Normal", "R", "a", "n")
    assert broadcaster.stats().dropped_after_shutdown == 1
    assert "broadcaster already stopped" in caplog.text


async def test_one_sink_per_broadcaster(api_sink: ApiSink) -> None:
    async with EventBroadcaster() as broadcaster:
        with pytest.raises(ValueError, match="no sink"):
            broadcaster.start_recording_to_sink()
        broadcaster.start_recording_to_sink(api_sink)
        with pytest.raises(RuntimeError, match="already started"):
            broadcaster.start_recording_to_sink(api_sink)
        with pytest.raises(RuntimeError, match="not recording"):
            await EventBroadcaster().refresh_now()


async def test_series_outcomes_are_counted(api_sink: ApiSink) -> None:
    async with EventBroadcaster(api_sink) as broadcaster:
        broadcaster.start_recording_to_sink()
        rec = broadcaster.new_recorder("c")
        for _ in range(5):
            rec.eventf(POD, None, "Normal", "R", "a", "n")
            assert await broadcaster.aflush(10)
        outcomes = broadcaster.stats().sink_outcomes
    assert (outcomes[RecordOutcome.WRITTEN.value], outcomes[SERIES_OUTCOME]) == (2, 3)
    assert api_sink.verbs == ["create", "patch"]


# -- heartbeat and finish, on the clock -------------------------------------------------------


async def record_and_flush(broadcaster: EventBroadcaster, clock: FakeClock, times: int) -> None:
    rec = broadcaster.new_recorder("c")
    for _ in range(times):
        clock.step(1)
        rec.eventf(POD, None, "Normal", "R", "a", "n")
        assert await broadcaster.aflush(10)


def stored_count(api_sink: ApiSink) -> int:
    (stored,) = api_sink.items()
    assert stored.series is not None
    return stored.series.count


async def test_finish_pass_after_six_idle_minutes(api_sink: ApiSink) -> None:
    clock = FakeClock(START)
    async with EventBroadcaster(api_sink, clock=clock) as broadcaster:
        broadcaster.start_recording_to_sink()
        await record_and_flush(broadcaster, clock, 3)  # at START + 1, 2, 3 s
        assert (api_sink.verbs, stored_count(api_sink)) == (["create", "patch"], 2)
        clock.set(START + timedelta(minutes=6, seconds=-1))
        await broadcaster.run_due()  # the first finish pass is 6 min after the start
        clock.set(START + timedelta(minutes=6, seconds=3))
        await broadcaster.run_due()  # due, but idle for exactly 6 min: not "more than"
        assert api_sink.verbs == ["create", "patch"]
        assert len(broadcaster.cache) == 1

        # Sliding: the next pass is 6 min after this one ended.
        finished_at = START + timedelta(minutes=12, seconds=3)
        clock.set(finished_at - timedelta(seconds=1))
        await broadcaster.run_due()
        assert api_sink.verbs == ["create", "patch"]
        clock.set(finished_at)
        await broadcaster.run_due()
        assert (api_sink.verbs[-1], stored_count(api_sink)) == ("patch", 3)
        assert len(broadcaster.cache) == 0

        await record_and_flush(broadcaster, clock, 1)  # a singleton again
        clock.set(finished_at + timedelta(minutes=6))
        await broadcaster.run_due()
        assert len(broadcaster.cache) == 1
        clock.set(finished_at + timedelta(minutes=12))
        await broadcaster.run_due()
        # Forgotten without a write.
        assert len(broadcaster.cache) == 0
    assert api_sink.verbs == ["create", "patch", "patch", "create"]


async def test_heartbeat_every_thirty_minutes(api_sink: ApiSink) -> None:
    clock = FakeClock(START)
    async with EventBroadcaster(api_sink, clock=clock) as broadcaster:
        broadcaster.start_recording_to_sink()
        await record_and_flush(broadcaster, clock, 2)
        # An occurrence every 5 minutes keeps the series from finishing.
        for _ in range(6):
            clock.step(5 * 60 - 1)
            await record_and_flush(broadcaster, clock, 1)
            await broadcaster.run_due()
        assert api_sink.verbs == ["create", "patch", "patch"]
        assert stored_count(api_sink) == 8
        cached = broadcaster.cache.get(get_key(api_sink.items()[0]))
        # The server's event replaced the cached one.
        assert cached is not None and cached.metadata.resource_version != ""


async def test_passes_run_at_once_over_a_prefilled_cache(api_sink: ApiSink) -> None:
    clock = FakeClock(START)
    old = series()
    old.series = EventsV1EventSeries(
        count=7, last_observed_time=MicroTime.of(START - timedelta(minutes=10))
    )
    await api_sink.create(single())
    cache = EventSeriesCache({get_key(old): old})
    async with EventBroadcaster(api_sink, clock=clock, cache=cache) as broadcaster:
        broadcaster.start_recording_to_sink()
        await broadcaster.run_due()
        # Refresh wrote the count, finish wrote it again and forgot it (one run each).
        assert api_sink.verbs == ["create", "patch", "patch"]
        assert stored_count(api_sink) == 7
        assert len(cache) == 0


async def test_refresh_now_writes_current_counts(api_sink: ApiSink) -> None:
    clock = FakeClock(START)
    async with EventBroadcaster(api_sink, clock=clock) as broadcaster:
        broadcaster.start_recording_to_sink()
        await record_and_flush(broadcaster, clock, 4)
        assert await broadcaster.refresh_now() == 1
        assert stored_count(api_sink) == 4
        assert await broadcaster.finish_now() == 0


# -- flush and shutdown -----------------------------------------------------------------------


async def test_shutdown_gives_queued_events_one_attempt(series_sink: SeriesSink) -> None:
    series_sink.on_create = failing(TransportError("down"))
    sleeps = Sleeps()
    broadcaster = EventBroadcaster(series_sink, sleep=sleeps)
    broadcaster.start_recording_to_sink()
    rec = broadcaster.new_recorder("c")
    for i in range(3):
        rec.eventf(ref(f"p{i}"), None, "Normal", "R", "a", "n")
    report = await broadcaster.ashutdown(10)
    assert (report.delivered, report.dropped, report.timed_out) == (3, 0, False)
    assert series_sink.verbs() == ["create"] * 3
    assert broadcaster.stats().sink_outcomes[RecordOutcome.SHUT_DOWN.value] == 3
    assert await broadcaster.ashutdown() is report


async def test_shutdown_delivers_events_still_in_the_incoming_queue(api_sink: ApiSink) -> None:
    broadcaster = EventBroadcaster(api_sink)
    broadcaster.start_recording_to_sink()
    rec = broadcaster.new_recorder("c")
    for i in range(100):
        rec.eventf(ref(f"p{i}"), None, "Normal", "R", "a", "n")
    report = await broadcaster.ashutdown(10)
    assert (report.dropped, report.timed_out) == (0, False)
    assert api_sink.verbs == ["create"] * 100
    # Nothing to do any more, and no loop to do it on.
    assert await broadcaster.refresh_now() == 0
    assert await broadcaster.finish_now() == 0


async def test_shutdown_timeout_reports_what_was_dropped(series_sink: SeriesSink) -> None:
    never = asyncio.Event()

    async def hang(event: EventsV1Event) -> EventsV1Event:
        await never.wait()
        return event

    series_sink.on_create = hang
    broadcaster = EventBroadcaster(series_sink)
    broadcaster.start_recording_to_sink()
    rec = broadcaster.new_recorder("c")
    for i in range(2):
        rec.eventf(ref(f"p{i}"), None, "Normal", "R", "a", "n")
    report = await broadcaster.ashutdown(0.2)
    assert report.timed_out
    assert report.dropped == 2
    assert broadcaster.stats().dropped_at_shutdown == 2


def test_thread_mode(api_sink: ApiSink) -> None:
    with EventBroadcaster(api_sink) as broadcaster:
        broadcaster.start_recording_to_sink()
        rec = broadcaster.new_recorder("c")

        def work(worker: int) -> None:
            for i in range(100):
                rec.eventf(ref(f"w{worker}-{i}"), None, "Normal", "R", "a", "n")

        threads = [threading.Thread(target=work, args=(w,)) for w in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert broadcaster.flush(10)
        assert api_sink.verbs == ["create"] * 400
    assert broadcaster.stats().sink_outcomes[RecordOutcome.WRITTEN.value] == 400


async def test_blocking_calls_refuse_the_broadcasters_own_loop() -> None:
    async with EventBroadcaster() as broadcaster:
        with pytest.raises(RuntimeError, match="aflush"):
            broadcaster.flush()
        with pytest.raises(RuntimeError, match="ashutdown"):
            broadcaster.shutdown()

"""EventBroadcaster: watchers, per-watcher drops, flush, shutdown, threads and loops."""

from __future__ import annotations

import asyncio
import logging
import threading
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from kubevents.clock import FakeClock
from kubevents.errors import TransportError
from kubevents.model import Event, EventSource, ObjectReference
from kubevents.record import (
    AGGREGATE_MESSAGE_PREFIX,
    DEFAULT_SPAM_BURST,
    MAX_QUEUED_EVENTS,
    CorrelatorOptions,
    EventBroadcaster,
    RecordOutcome,
)

if TYPE_CHECKING:
    from record.conftest import FakeSink

START = datetime(2024, 1, 1, tzinfo=UTC)
SOURCE = EventSource(component="eventTest")
REF = ObjectReference(kind="Pod", namespace="ns", name="foo", uid="u1", api_version="v1")


async def _no_retry_wait(delay: float) -> None:
    raise AssertionError(f"unexpected retry wait of {delay}s")


def ref(name: str) -> ObjectReference:
    return ObjectReference(kind="Pod", namespace="ns", name=name, uid=name, api_version="v1")


async def test_every_watcher_gets_every_event_in_order() -> None:
    seen: tuple[list[str], list[str]] = ([], [])

    async def slow_async(event: Event) -> None:
        await asyncio.sleep(0)
        seen[1].append(event.message)

    async with EventBroadcaster() as broadcaster:
        broadcaster.start_event_watcher(lambda event: seen[0].append(event.message))
        broadcaster.start_event_watcher(slow_async)
        recorder = broadcaster.new_recorder(SOURCE)
        for i in range(200):
            recorder.eventf(ref(f"p{i}"), "Normal", "R", "%d", i)
        assert await broadcaster.aflush(10)
    expected = [str(i) for i in range(200)]
    assert seen == (expected, expected)


async def test_new_watcher_never_sees_earlier_events() -> None:
    early: list[str] = []
    late: list[str] = []
    async with EventBroadcaster() as broadcaster:
        recorder = broadcaster.new_recorder(SOURCE)
        broadcaster.start_event_watcher(lambda e: early.append(e.message))
        recorder.event(REF, "Normal", "R", "before")
        broadcaster.start_event_watcher(lambda e: late.append(e.message))
        recorder.event(REF, "Normal", "R", "after")
        await broadcaster.aflush()
    assert early == ["before", "after"]
    assert late == ["after"]


async def test_slow_watcher_drops_only_its_own_events() -> None:
    release = asyncio.Event()
    fast_count = 0
    fast_reached = asyncio.Event()
    target = MAX_QUEUED_EVENTS
    slow_handled: list[str] = []

    async def slow(event: Event) -> None:
        await release.wait()
        slow_handled.append(event.message)

    def fast(event: Event) -> None:
        nonlocal fast_count
        fast_count += 1
        if fast_count == target:
            fast_reached.set()

    async with EventBroadcaster() as broadcaster:
        slow_watch = broadcaster.start_event_watcher(slow)
        fast_watch = broadcaster.start_event_watcher(fast)
        recorder = broadcaster.new_recorder(SOURCE)

        async def record(count: int, until: int) -> None:
            nonlocal target
            target = until
            fast_reached.clear()
            for i in range(count):
                recorder.eventf(ref(f"p{i}"), "Normal", "R", "%d", until - count + i)
            await fast_reached.wait()

        # The slow watcher holds event 0 in its handler and 999 more in its queue ...
        await record(MAX_QUEUED_EVENTS, MAX_QUEUED_EVENTS)
        # ... so of the next 600 it can only queue one; the fast one gets them all.
        await record(600, MAX_QUEUED_EVENTS + 600)
        assert broadcaster.dropped == 0
        assert (slow_watch.dropped, fast_watch.dropped) == (599, 0)
        assert slow_watch.pending == MAX_QUEUED_EVENTS + 1
        release.set()
    assert slow_handled == [str(i) for i in range(MAX_QUEUED_EVENTS + 1)]
    assert broadcaster.stats().dropped_watcher_full == 599


async def test_stop_detaches_a_watcher() -> None:
    seen: list[str] = []
    async with EventBroadcaster() as broadcaster:
        recorder = broadcaster.new_recorder(SOURCE)
        watch = broadcaster.start_event_watcher(lambda e: seen.append(e.message))
        recorder.event(REF, "Normal", "R", "one")
        await broadcaster.aflush()
        watch.stop()
        watch.stop()
        recorder.event(REF, "Normal", "R", "two")
        await broadcaster.aflush()
        assert watch.stopped
    assert seen == ["one"]


async def test_handler_errors_are_logged_and_do_not_stop_the_watcher(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[str] = []

    def handler(event: Event) -> None:
        if event.message == "bad":
            raise RuntimeError("boom")
        seen.append(event.message)

    async with EventBroadcaster() as broadcaster:
        broadcaster.start_event_watcher(handler)
        recorder = broadcaster.new_recorder(SOURCE)
        for message in ("a", "bad", "b"):
            recorder.event(REF, "Normal", "R", message)
        await broadcaster.aflush()
    assert seen == ["a", "b"]
    assert any(r.exc_info and "boom" in str(r.exc_info[1]) for r in caplog.records)


async def test_shutdown_flushes_queued_events(make_sink: type[FakeSink]) -> None:
    gate = asyncio.Event()

    async def create(event: Event) -> Event:
        await gate.wait()
        return event

    sink = make_sink(on_create=create)
    broadcaster = EventBroadcaster(clock=FakeClock(START))
    broadcaster.start_recording_to_sink(sink)
    recorder = broadcaster.new_recorder(SOURCE)
    for i in range(50):
        recorder.event(ref(f"p{i}"), "Normal", "R", "m")

    async def open_gate() -> None:
        gate.set()

    # gather starts ashutdown first: it has taken its count when the sink starts answering.
    report, _ = await asyncio.gather(broadcaster.ashutdown(timeout=None), open_gate())
    # client-go would have dropped whatever was still queued; every one got its attempt.
    assert (report.delivered, report.dropped, report.timed_out) == (50, 0, False)
    assert sink.verbs() == ["create"] * 50
    assert broadcaster.stats().sink_outcomes[RecordOutcome.WRITTEN.value] == 50


async def test_shutdown_timeout_drops_and_reports(make_sink: type[FakeSink]) -> None:
    async def hang(event: Event) -> Event:
        await asyncio.Event().wait()
        return event

    sink = make_sink(on_create=hang)
    broadcaster = EventBroadcaster(clock=FakeClock(START))
    broadcaster.start_recording_to_sink(sink)
    recorder = broadcaster.new_recorder(SOURCE)
    for i in range(5):
        recorder.event(ref(f"p{i}"), "Normal", "R", "m")
    report = await broadcaster.ashutdown(timeout=0.2)
    # One in flight (cancelled) and four queued.
    assert (report.delivered, report.dropped, report.timed_out) == (0, 5, True)
    assert broadcaster.stats().dropped_at_shutdown == 5
    # Shutting down again just repeats the report.
    assert await broadcaster.ashutdown() is report


async def test_after_shutdown_each_queued_event_gets_one_attempt(
    make_sink: type[FakeSink],
) -> None:
    async def refuse(event: Event) -> Event:
        raise TransportError("connection refused")

    sink = make_sink(on_create=refuse)
    broadcaster = EventBroadcaster(clock=FakeClock(START))
    broadcaster.start_recording_to_sink(sink)
    recorder = broadcaster.new_recorder(SOURCE)
    for i in range(3):
        recorder.event(ref(f"p{i}"), "Normal", "R", "m")
    report = await broadcaster.ashutdown(timeout=None)
    assert report.delivered == 3
    assert sink.verbs() == ["create"] * 3
    assert broadcaster.stats().sink_outcomes[RecordOutcome.SHUT_DOWN.value] == 3


async def test_correlator_uses_the_broadcaster_clock(make_sink: type[FakeSink]) -> None:
    # With a frozen clock nothing refills the spam buckets: exactly the burst gets through,
    # and 10 messages for one reason make an aggregate.
    async def patch(event: Event, patch: bytes) -> Event:
        return event

    clock = FakeClock(START)
    sink = make_sink(on_patch=patch)
    async with EventBroadcaster(clock=clock, sleep=_no_retry_wait) as broadcaster:
        broadcaster.start_recording_to_sink(sink)
        recorder = broadcaster.new_recorder(SOURCE)
        for i in range(30):
            clock.step(1)
            recorder.event(REF, "Normal", f"Reason{i}", "m")
        await broadcaster.aflush()
        assert sink.verbs() == ["create"] * DEFAULT_SPAM_BURST
        other = ref("other")
        for i in range(11):
            clock.step(1)
            recorder.eventf(other, "Warning", "Failed", "message %d", i)
        await broadcaster.aflush()
    tail = sink.calls[DEFAULT_SPAM_BURST:]
    assert [c.verb for c in tail] == ["create"] * 10 + ["patch"]
    combined = tail[9].event
    assert combined.message == AGGREGATE_MESSAGE_PREFIX + "message 9"
    assert tail[10].event.message == AGGREGATE_MESSAGE_PREFIX + "message 10"
    assert tail[10].event.count == 2


async def test_correlator_options_are_used(make_sink: type[FakeSink]) -> None:
    sink = make_sink()
    options = CorrelatorOptions(burst_size=2, clock=FakeClock(START))
    async with EventBroadcaster(correlator_options=options) as broadcaster:
        broadcaster.start_recording_to_sink(sink)
        recorder = broadcaster.new_recorder(SOURCE)
        for i in range(5):
            recorder.event(REF, "Normal", f"R{i}", "m")
        await broadcaster.aflush()
    assert sink.verbs() == ["create", "create"]
    assert broadcaster.stats().sink_outcomes[RecordOutcome.SKIPPED.value] == 3


async def test_structured_logging(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("tests.events")
    caplog.set_level(logging.DEBUG, logger="tests.events")
    async with EventBroadcaster() as broadcaster:
        broadcaster.start_structured_logging(logger, logging.DEBUG)
        broadcaster.new_recorder(SOURCE).event(
            ObjectReference(kind="Node", name="n1", api_version="v1"), "Warning", "Bad", 'say "hi"'
        )
        await broadcaster.aflush()
    (record,) = [r for r in caplog.records if r.name == "tests.events"]
    assert record.levelno == logging.DEBUG
    assert record.getMessage() == (
        'Event occurred object="n1" fieldPath="" kind="Node" apiVersion="v1" '
        'type="Warning" reason="Bad" message="say \\"hi\\""'
    )
    assert getattr(record, "k8s_event")["object"] == "n1"  # noqa: B009 - set via extra=


async def test_blocking_calls_on_the_loop_raise() -> None:
    broadcaster = EventBroadcaster()
    with pytest.raises(RuntimeError, match="ashutdown"):
        broadcaster.shutdown()
    with pytest.raises(RuntimeError, match="aflush"):
        broadcaster.flush()
    # From another thread the same calls work (and wait for the loop).
    assert await asyncio.to_thread(broadcaster.flush, 10)
    report = await asyncio.to_thread(broadcaster.shutdown, 10)
    assert report.dropped == 0


def test_thread_mode_runs_its_own_loop_and_stops_it(fake_sink: FakeSink) -> None:
    before = {t.name for t in threading.enumerate()}
    with EventBroadcaster(clock=FakeClock(START)) as broadcaster:
        assert "kubevents-event-broadcaster" in {t.name for t in threading.enumerate()}
        broadcaster.start_recording_to_sink(fake_sink)
        broadcaster.new_recorder(SOURCE).event(REF, "Normal", "R", "m")
    assert fake_sink.verbs() == ["create"]
    assert not broadcaster.loop.is_running()
    # Everything still answers after the loop is gone.
    assert broadcaster.flush(1)
    assert broadcaster.shutdown(1).dropped == 0
    broadcaster.new_recorder(SOURCE).event(REF, "Normal", "R", "late")
    assert broadcaster.stats().dropped_after_shutdown == 1
    assert broadcaster.start_event_watcher(lambda event: None).stopped
    assert {t.name for t in threading.enumerate()} <= before | {"asyncio_0"}


async def test_thread_mode_broadcaster_awaited_from_another_loop(fake_sink: FakeSink) -> None:
    broadcaster = await asyncio.to_thread(EventBroadcaster, clock=FakeClock(START))
    assert broadcaster.loop is not asyncio.get_running_loop()
    broadcaster.start_recording_to_sink(fake_sink)
    broadcaster.new_recorder(SOURCE).event(REF, "Normal", "R", "m")
    assert await broadcaster.aflush(10)
    report = await broadcaster.ashutdown(10)
    assert fake_sink.verbs() == ["create"]
    assert report.dropped == 0


async def test_sinks_with_aclose_are_closed_at_shutdown() -> None:
    closed: list[str] = []

    class ClosingSink:
        async def create(self, event: Event) -> Event:
            return event

        async def update(self, event: Event) -> Event:
            return event

        async def patch(self, event: Event, patch: bytes) -> Event:
            return event

        async def aclose(self) -> None:
            closed.append("closed")

    async with EventBroadcaster() as broadcaster:
        broadcaster.start_recording_to_sink(ClosingSink())
    assert closed == ["closed"]


async def test_finished_watchers_are_forgotten() -> None:
    async with EventBroadcaster() as broadcaster:
        for _ in range(20):
            broadcaster.start_event_watcher(lambda event: None).stop()
            await broadcaster.aflush()
        # Each stopped watcher finishes within the next flush, and is dropped at the next start.
        assert len(broadcaster._watches) <= 2

"""The buffered pipeline: batching, bounded concurrency, backpressure, retries, acknowledgement."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from kubevents.export import (
    AckLog,
    BatchSettings,
    BufferSettings,
    DeadLetterHandler,
    EventTracker,
    ExportMetrics,
    Occurrence,
    Pipeline,
    Route,
)
from kubevents.export._sinkdriver import DriverSettings, lane_of
from kubevents.export.sinks import Rejected, SinkError, WriteResult
from support import eventually

from .memory_sink import MemorySink, occurrence


async def make(
    *sinks: MemorySink,
    rv: str | None = "0",
    dead_letter: DeadLetterHandler | None = None,
    **settings: float,
) -> tuple[Pipeline, AckLog, EventTracker]:
    tracker = EventTracker()
    acklog = AckLog(rv)
    defaults = {
        "queue_size": 100,
        "max_batch_size": 10,
        "flush_delay": 0.05,
        "max_concurrency": 2,
        "retry_initial_delay": 0.01,
        "retry_max_delay": 0.02,
    }
    defaults.update(settings)
    pipeline = Pipeline(
        list(sinks), tracker, acklog, ExportMetrics(),
        BatchSettings(**defaults),  # type: ignore[arg-type]
        dead_letter=dead_letter,
    )  # fmt: skip
    await pipeline.start()
    return pipeline, acklog, tracker


async def submit_all(pipeline: Pipeline, count: int, start_rv: int = 1) -> None:
    for i in range(count):
        uid = f"u{i}"
        pipeline.tracker.decide(uid, 1)
        await pipeline.submit(occurrence(uid), str(start_rv + i))


async def test_batches_are_bounded_and_everything_is_stored_once() -> None:
    sink = MemorySink()
    pipeline, acklog, _ = await make(sink)
    await submit_all(pipeline, 35)
    assert await pipeline.drain(10)
    assert len(sink.stored) == 35 and sink.duplicates == 0
    assert max(len(w) for w in sink.writes) <= 10
    assert acklog.resource_version == "35"
    await pipeline.stop()


async def test_a_partial_batch_is_flushed_after_the_delay() -> None:
    sink = MemorySink()
    pipeline, acklog, _ = await make(sink, flush_delay=0.01, max_concurrency=1)
    await submit_all(pipeline, 3)
    await eventually(lambda: acklog.resource_version == "3", "the delayed flush")
    assert sink.writes == [["u0:1", "u1:1", "u2:1"]]
    await pipeline.stop()


async def test_the_remainder_of_a_backlog_goes_at_once_and_a_trickle_still_waits() -> None:
    sink = MemorySink()
    pipeline, acklog, _ = await make(sink, flush_delay=3600, max_concurrency=1)
    await submit_all(pipeline, 15)
    # A full batch, then the queue ran dry: the 5 left are not held for the flush delay.
    await eventually(lambda: acklog.resource_version == "15", "the backlog's remainder")
    assert [len(w) for w in sink.writes] == [10, 5]
    # After a partial batch the lane waits again, so a trickle is gathered into one write.
    for i in range(15, 18):
        pipeline.tracker.decide(f"u{i}", 1)
        await pipeline.submit(occurrence(f"u{i}"), str(i + 1))
        for _ in range(20):
            await asyncio.sleep(0)
    assert await pipeline.drain(10)
    assert [len(w) for w in sink.writes] == [10, 5, 3]
    await pipeline.stop()


async def test_concurrency_is_capped_and_one_events_occurrences_stay_in_order() -> None:
    sink = MemorySink()
    sink.gate = asyncio.Event()
    pipeline, _, _ = await make(sink, max_batch_size=1, max_concurrency=3)
    # One Event per lane first, so that every lane has a write to make.
    firsts = {lane_of(f"e{i}", 3): f"e{i}" for i in range(50)}
    assert len(firsts) == 3
    for i, uid in enumerate(sorted(firsts.values())):
        pipeline.tracker.decide(uid, 1)
        await pipeline.submit(occurrence(uid), str(i + 1))
    for count in range(2, 5):  # then more occurrences of the same Events
        for uid in sorted(firsts.values()):
            pipeline.tracker.decide(uid, count)
            await pipeline.submit(occurrence(uid, count), None)
    await eventually(lambda: sink.in_flight == 3, "three writes in flight")
    sink.gate.set()
    assert await pipeline.drain(10)
    assert sink.max_in_flight == 3 and len(sink.stored) == 12
    for uid in firsts.values():
        counts = [int(i.split(":")[1]) for w in sink.writes for i in w if i.startswith(uid + ":")]
        assert counts == [1, 2, 3, 4]  # in order per Event
    await pipeline.stop()


async def test_backpressure_blocks_submit_when_the_queue_is_full() -> None:
    sink = MemorySink()
    sink.gate = asyncio.Event()  # the sink is "down"
    pipeline, acklog, _ = await make(sink, queue_size=5, max_batch_size=2, max_concurrency=1)
    producer = asyncio.create_task(submit_all(pipeline, 50))
    # Bounded: the buffer's 5 count what the driver holds too (the batch being written).
    bound = 5
    await eventually(lambda: pipeline.queue_depth() == bound, "the buffer to fill")
    await asyncio.sleep(0.05)
    assert not producer.done()  # the producer waits
    assert pipeline.queue_depth() == bound
    assert pipeline.metrics.occurrences._value.get() == bound + 1  # one waits to be queued
    assert acklog.resource_version == "0"
    sink.gate.set()
    await asyncio.wait_for(producer, 10)
    assert await pipeline.drain(10)
    assert len(sink.stored) == 50 and acklog.resource_version == "50"
    await pipeline.stop()


async def test_failed_writes_are_retried_until_stored() -> None:
    sink = MemorySink()
    sink.fail_next = 3
    pipeline, acklog, _ = await make(sink)
    await submit_all(pipeline, 4)
    assert await pipeline.drain(10)
    assert len(sink.stored) == 4 and acklog.resource_version == "4"
    errors = pipeline.metrics.sink_errors.labels("memory", "injected")._value.get()
    assert errors == 3
    await pipeline.stop()


async def test_acknowledged_only_when_every_sink_stored() -> None:
    fast, slow = MemorySink("fast"), MemorySink("slow")
    slow.gate = asyncio.Event()
    pipeline, acklog, tracker = await make(fast, slow)
    await submit_all(pipeline, 3)
    await eventually(lambda: len(fast.stored) == 3, "the fast sink")
    assert acklog.resource_version == "0"
    assert tracker.snapshot("c", None).events == {}
    slow.gate.set()
    assert await pipeline.drain(10)
    assert acklog.resource_version == "3"
    assert set(tracker.snapshot("c", None).events) == {"u0", "u1", "u2"}
    await pipeline.stop()


async def test_rejected_occurrences_go_to_the_dead_letter_handler() -> None:
    sink = MemorySink()
    sink.reject_ids = {"u1:1"}
    dead: list[tuple[str, list[str]]] = []

    async def dead_letter(name: str, rejected: object) -> None:
        dead.append((name, [r.occurrence.id for r in rejected]))  # type: ignore[attr-defined]

    pipeline = Pipeline(
        [sink], EventTracker(), AckLog("0"), ExportMetrics(),
        BatchSettings(flush_delay=0.01), dead_letter=dead_letter,
    )  # fmt: skip
    await pipeline.start()
    await submit_all(pipeline, 3)
    assert await pipeline.drain(10)
    assert dead == [("memory", ["u1:1"])]
    assert pipeline.metrics.rejected.labels("memory")._value.get() == 1
    await pipeline.stop()


async def test_a_failing_dead_letter_write_is_retried_before_the_batch_is_acknowledged() -> None:
    sink = MemorySink()
    sink.reject_ids = {"u1:1"}
    attempts: list[list[str]] = []

    async def dead_letter(name: str, rejected: Sequence[Rejected]) -> None:
        attempts.append([r.occurrence.id for r in rejected])
        if len(attempts) < 3:
            raise SinkError("cannot write dead letters", reason="is_directory")

    pipeline, _, _ = await make(sink, dead_letter=dead_letter, max_concurrency=1)
    await submit_all(pipeline, 3)
    assert await pipeline.drain(10)
    assert attempts == [["u1:1"]] * 3
    assert pipeline.acklog.resource_version == "3" and pipeline.acknowledged == 3
    assert pipeline.metrics.dead_letter_failures.labels("memory")._value.get() == 2
    # The sink stored the batch once: only the dead-letter write was repeated.
    assert pipeline.metrics.rejected.labels("memory")._value.get() == 1
    assert sink.writes == [["u0:1", "u1:1", "u2:1"]]
    assert pipeline.supervisor.failure is None and pipeline.failing_sinks() == []
    await pipeline.stop()


async def test_while_dead_letters_fail_the_sink_is_failing_and_nothing_is_acknowledged() -> None:
    sink = MemorySink()
    sink.reject_ids = {"u0:1"}

    async def dead_letter(name: str, rejected: Sequence[Rejected]) -> None:
        raise SinkError("disk full", reason="disk_full")

    pipeline, _, _ = await make(sink, dead_letter=dead_letter, max_concurrency=1)
    await submit_all(pipeline, 2)
    await eventually(lambda: pipeline.failing_sinks() != [], "the sink to count as failing")
    [(name, _, error)] = pipeline.failing_sinks()
    assert name == "memory" and "dead-letter write of 1 failed" in error and "disk full" in error
    assert pipeline.acklog.resource_version == "0" and pipeline.acknowledged == 0
    await pipeline.stop()


async def test_a_write_that_dies_is_reported_to_the_supervisor() -> None:
    class Broken(EventTracker):
        def stored(self, uid: str, count: int) -> None:
            raise RuntimeError("injected")

    pipeline = Pipeline(
        [MemorySink()], Broken(), AckLog("0"), ExportMetrics(), BatchSettings(flush_delay=0.01)
    )
    await pipeline.start()
    await submit_all(pipeline, 1)
    await pipeline.supervisor.failed.wait()
    assert pipeline.supervisor.failure is not None
    assert pipeline.supervisor.failure.task == "write-memory"
    await pipeline.stop()


async def test_drain_reports_a_missed_deadline_and_leaves_it_unacknowledged() -> None:
    sink = MemorySink()
    sink.gate = asyncio.Event()
    pipeline, acklog, _ = await make(sink)
    await submit_all(pipeline, 3)
    assert not await pipeline.drain(0.1)
    await pipeline.stop()
    assert acklog.resource_version == "0"


def test_a_pipeline_needs_a_sink() -> None:
    with pytest.raises(ValueError, match="at least one sink"):
        Pipeline([], EventTracker(), AckLog(), ExportMetrics())


async def test_a_refusal_answered_after_a_newer_success_does_not_mark_the_sink_failing() -> None:
    # Two lanes: the older write is refused for good, but its answer arrives after a write sent
    # later has succeeded. The sink works; its health follows the newest request.
    older, newer = (
        "u0",
        next(f"u{i}" for i in range(1, 50) if lane_of(f"u{i}", 2) != lane_of("u0", 2)),
    )
    release = asyncio.Event()
    newer_stored = asyncio.Event()
    lettered: list[str] = []

    class Sink(MemorySink):
        async def write(self, batch: Sequence[Occurrence]) -> WriteResult:
            if batch[0].uid == older:
                await release.wait()
                raise SinkError("HTTP 401", reason="http_401", permanent=True)
            result = await super().write(batch)
            newer_stored.set()
            return result

    async def dead_letter(name: str, rejected: Sequence[Rejected]) -> None:
        lettered.extend(r.occurrence.id for r in rejected)

    sink = Sink("hook")
    driver = DriverSettings(max_batch_size=1, flush_delay=0.0, max_concurrency=2,
                            permanent_attempts=1)  # fmt: skip
    pipeline = Pipeline(
        [Route(sink, BufferSettings("block", 10), driver, dead_letter)], EventTracker(),
        AckLog("0"), ExportMetrics(),
    )  # fmt: skip
    await pipeline.start()
    for i, uid in enumerate((older, newer)):
        pipeline.tracker.decide(uid, 1)
        await pipeline.submit(occurrence(uid), str(i + 1))
    await newer_stored.wait()
    release.set()
    assert await pipeline.drain(10)
    assert lettered == [f"{older}:1"]
    assert pipeline.failing_sinks() == []
    await pipeline.stop()


async def test_a_jittered_retry_never_waits_longer_than_the_maximum(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr("kubevents.export._sinkdriver.random.random", lambda: 0.999)
    sink = MemorySink()
    sink.fail_next = 2
    pipeline, _, _ = await make(sink, retry_initial_delay=0.2, retry_max_delay=0.2)
    await submit_all(pipeline, 1)
    assert await pipeline.drain(10)
    waits = [r.getMessage().rsplit(" ", 1)[1] for r in caplog.records if "retrying in" in r.msg]
    assert waits == ["0.2s", "0.2s"]
    await pipeline.stop()

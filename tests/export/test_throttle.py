"""A sink's count-bump throttle: one occurrence per Event per interval, the last one always sent,
and a held-back occurrence never passed by the checkpoint."""

from __future__ import annotations

import asyncio

import pytest

from kubevents.export import (
    AckLog,
    BufferSettings,
    EventTracker,
    ExportMetrics,
    Pipeline,
    Route,
)
from kubevents.export._sinkdriver import DriverSettings
from kubevents.export._throttle import Throttle
from support import eventually

from .memory_sink import MemorySink, occurrence

FAST = DriverSettings(max_batch_size=10, flush_delay=0.01, max_concurrency=1)
HOUR = 3600.0  # an interval no test waits for: only a drain hands on what it holds


async def make(throttled: MemorySink, other: MemorySink, interval: float) -> Pipeline:
    pipeline = Pipeline(
        [
            Route(throttled, BufferSettings("block", 100), FAST, min_interval=interval),
            Route(other, BufferSettings("block", 100), FAST),
        ],
        EventTracker(), AckLog("0"), ExportMetrics(),
    )  # fmt: skip
    await pipeline.start()
    return pipeline


async def bump(pipeline: Pipeline, uid: str, counts: range, rv: int) -> int:
    for count in counts:
        assert pipeline.tracker.decide(uid, count).export
        await pipeline.submit(occurrence(uid, count), str(rv))
        rv += 1
    return rv


async def test_first_at_once_newest_held_and_the_checkpoint_waits_for_it() -> None:
    hook, store = MemorySink("hook"), MemorySink("store")
    pipeline = await make(hook, store, HOUR)
    await bump(pipeline, "a", range(1, 6), rv=1)  # counts 1-5 at resourceVersions 1-5
    await eventually(lambda: len(store.stored) == 5, "the unthrottled sink")
    await eventually(lambda: set(hook.stored) == {"a:1"}, "the first occurrence")
    # 2-4 were overtaken by 5: acknowledged for the hook; 5 is held, and holds the checkpoint.
    await eventually(lambda: pipeline.acklog.resource_version == "4", "the ack log")
    assert pipeline.metrics.throttled.labels("hook")._value.get() == 3
    assert pipeline.holding() == 1
    assert not pipeline.settled() and not pipeline.idle()
    assert pipeline.tracker.snapshot("c", None).events["a"][0] == 4
    # A drain (SIGTERM) hands the held one on: the last count of the series arrives.
    assert await pipeline.drain(10)
    assert set(hook.stored) == {"a:1", "a:5"}
    assert pipeline.acklog.resource_version == "5"
    assert pipeline.tracker.snapshot("c", None).events["a"][0] == 5
    await pipeline.stop()


async def test_stopped_while_holding_the_checkpoint_stays_before_the_held_occurrence() -> None:
    # A crash or a drain that ran out of time: what was held is not acknowledged, so the next
    # start resumes before it and the watch shows that count again.
    hook, store = MemorySink("hook"), MemorySink("store")
    pipeline = await make(hook, store, HOUR)
    rv = await bump(pipeline, "a", range(1, 4), rv=1)
    await bump(pipeline, "b", range(1, 2), rv=rv)  # another Event after it: stored everywhere
    await eventually(lambda: len(hook.stored) == 2 and len(store.stored) == 4, "the writes")
    await pipeline.stop()
    assert pipeline.acklog.resource_version == "2"
    assert set(hook.stored) == {"a:1", "b:1"}
    assert pipeline.tracker.snapshot("c", None).events["a"][0] == 2


async def test_the_held_occurrence_goes_when_the_interval_ends() -> None:
    hook, store = MemorySink("hook"), MemorySink("store")
    pipeline = await make(hook, store, 0.05)
    await bump(pipeline, "a", range(1, 4), rv=1)
    await eventually(lambda: set(hook.stored) == {"a:1", "a:3"}, "the trailing occurrence")
    await eventually(pipeline.settled, "every acknowledgement")
    assert pipeline.acklog.resource_version == "3"
    # The series is quiet: its state is gone, and the next bump goes at once.
    throttle = pipeline._gates[0].throttle
    assert throttle is not None
    await eventually(lambda: not throttle._held, "the interval to end")
    await bump(pipeline, "a", range(4, 5), rv=4)
    await eventually(lambda: "a:4" in hook.stored, "a new series' first occurrence")
    assert await pipeline.drain(10)
    await pipeline.stop()


async def test_one_event_per_interval_whatever_the_others_do() -> None:
    # Each Event has its own interval: a busy Event holds back no other one.
    hook, store = MemorySink("hook"), MemorySink("store")
    pipeline = await make(hook, store, HOUR)
    rv = 1
    for count in range(1, 4):
        for uid in ("a", "b", "c"):
            rv = await bump(pipeline, uid, range(count, count + 1), rv)
    await eventually(lambda: set(hook.stored) == {"a:1", "b:1", "c:1"}, "every first")
    assert pipeline.holding() == 3
    assert await pipeline.drain(10)
    assert set(hook.stored) == {"a:1", "b:1", "c:1", "a:3", "b:3", "c:3"}
    assert len(store.stored) == 9 and pipeline.acklog.resource_version == "9"
    await pipeline.stop()


def test_an_interval_must_be_positive() -> None:
    async def put(entry: object) -> None:
        return None

    with pytest.raises(ValueError, match="more than 0"):
        Throttle(0, put, lambda entry: None, lambda: None)


async def test_a_full_buffer_makes_the_trailing_hand_off_wait_not_lose() -> None:
    hook, store = MemorySink("hook"), MemorySink("store")
    hook.gate = asyncio.Event()  # the hook is down
    pipeline = Pipeline(
        [
            Route(hook, BufferSettings("block", 1), FAST, min_interval=0.02),
            Route(store, BufferSettings("block", 100), FAST),
        ],
        EventTracker(), AckLog("0"), ExportMetrics(),
    )  # fmt: skip
    await pipeline.start()
    await bump(pipeline, "a", range(1, 3), rv=1)
    # The hook's buffer holds a:1: both b:1 and the hand-off of a:2 wait for room.
    blocked = asyncio.create_task(bump(pipeline, "b", range(1, 2), rv=3))
    await eventually(lambda: len(store.stored) == 2, "the other sink")
    hook.gate.set()
    await blocked
    assert await pipeline.drain(10)
    assert set(hook.stored) == {"a:1", "a:2", "b:1"}
    assert pipeline.acklog.resource_version == "3"
    await pipeline.stop()

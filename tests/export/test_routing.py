"""Per-sink rules: each sink gets its subset; what a sink excludes never holds the checkpoint."""

from __future__ import annotations

import asyncio

from kubevents.export import (
    AckLog,
    BufferSettings,
    EventTracker,
    ExportMetrics,
    Pipeline,
    Route,
    Rule,
    RuleSet,
    compile_rules,
)
from kubevents.export._sinkdriver import DriverSettings
from support import eventually

from .memory_sink import MemorySink, occurrence

FAST = DriverSettings(max_batch_size=10, flush_delay=0.01, max_concurrency=1)


def route(sink: MemorySink, rules: RuleSet | None = None) -> Route:
    compiled = compile_rules(rules) if rules is not None else None
    return Route(sink, BufferSettings("block", 100), FAST, None, compiled)


async def test_each_sink_gets_the_subset_its_rules_select() -> None:
    backoffs = MemorySink("backoffs")
    rest = MemorySink("rest")
    everything = MemorySink("everything")
    metrics = ExportMetrics()
    pipeline = Pipeline(
        [
            route(backoffs, RuleSet(match=[Rule(reason="BackOff")])),
            route(rest, RuleSet(drop=[Rule(name="no-backoff", reason="BackOff")])),
            route(everything),
        ],
        EventTracker(), AckLog("0"), metrics,
    )  # fmt: skip
    await pipeline.start()
    for i in range(10):
        reason = "BackOff" if i % 3 == 0 else "Pulled"
        pipeline.tracker.decide(f"u{i}", 1)
        await pipeline.submit(occurrence(f"u{i}", reason=reason), str(i + 1))
    assert await pipeline.drain(10)
    assert set(backoffs.stored) == {"u0:1", "u3:1", "u6:1", "u9:1"}
    assert set(rest.stored) == {f"u{i}:1" for i in range(10)} - set(backoffs.stored)
    assert len(everything.stored) == 10
    assert pipeline.acklog.resource_version == "10"
    assert pipeline.acknowledged == 10
    assert set(pipeline.tracker.snapshot("c", None).events) == {f"u{i}" for i in range(10)}
    filtered = metrics.sink_filtered
    assert filtered.labels("backoffs", "no_match")._value.get() == 6
    assert filtered.labels("rest", "no-backoff")._value.get() == 4
    await pipeline.stop()


async def test_what_a_stalled_sink_excludes_does_not_wait_for_it() -> None:
    # The webhook is down; the occurrences its rules exclude are acknowledged for it at once, so
    # the checkpoint moves over them as soon as the other sink has stored them.
    hook = MemorySink("hook")
    hook.gate = asyncio.Event()  # down
    store = MemorySink("store")
    pipeline = Pipeline(
        [route(hook, RuleSet(match=[Rule(reason="BackOff")])), route(store)],
        EventTracker(), AckLog("0"), ExportMetrics(),
    )  # fmt: skip
    await pipeline.start()
    for i, reason in enumerate(["Pulled", "Pulled", "BackOff", "Pulled"]):
        pipeline.tracker.decide(f"u{i}", 1)
        await pipeline.submit(occurrence(f"u{i}", reason=reason), str(i + 1))
    await eventually(lambda: len(store.stored) == 4, "the store")
    await eventually(lambda: pipeline.acklog.resource_version == "2", "the checkpoint to move")
    assert not pipeline.settled()  # u2 waits for the webhook, and holds what follows it
    hook.gate.set()
    assert await pipeline.drain(10)
    assert set(hook.stored) == {"u2:1"}
    assert pipeline.acklog.resource_version == "4"
    await pipeline.stop()


async def test_an_occurrence_no_sink_takes_is_acknowledged_at_once() -> None:
    a, b = MemorySink("a"), MemorySink("b")
    a.gate = asyncio.Event()
    b.gate = asyncio.Event()  # both down: nothing could be stored
    only_warnings = RuleSet(match=[Rule(type="Warning")])
    pipeline = Pipeline(
        [route(a, only_warnings), route(b, only_warnings)],
        EventTracker(), AckLog("0"), ExportMetrics(),
    )  # fmt: skip
    await pipeline.start()
    pipeline.tracker.decide("u0", 3)
    await pipeline.submit(occurrence("u0", 3), "7")  # a Normal Event
    assert pipeline.acklog.resource_version == "7"
    assert pipeline.settled() and pipeline.idle()
    assert pipeline.tracker.snapshot("c", None).events["u0"][0] == 3
    await pipeline.stop()

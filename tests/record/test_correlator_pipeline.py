"""EventCorrelator pipeline semantics: clock reads, counting across skips, UpdateState, options."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec

from kubevents.model import Event, EventSource, ObjectMeta, ObjectReference, Time
from kubevents.record._correlator import CorrelatorOptions, EventCorrelator

START = datetime(2024, 1, 1, tzinfo=UTC)


class SimpleIntervalClock:
    """k8s.io/utils/clock/testing.SimpleIntervalClock: each read first advances by ``step``."""

    def __init__(self, start: datetime, step: timedelta) -> None:
        self.time = start
        self.step = step
        self.reads = 0

    def now(self) -> datetime:
        self.time += self.step
        self.reads += 1
        return self.time


class ScriptedClock:
    """Returns the given times in order, and fails the test if read once too often."""

    def __init__(self, *times: datetime) -> None:
        self.times = list(times)

    def now(self) -> datetime:
        assert self.times, "clock read more often than expected"
        return self.times.pop(0)


def copy_event(event: Event) -> Event:
    return msgspec.structs.replace(
        event,
        metadata=msgspec.structs.replace(event.metadata),
        involved_object=msgspec.structs.replace(event.involved_object),
        source=msgspec.structs.replace(event.source),
    )


def pod_event(message: str = "m", reason: str = "R", **changes: object) -> Event:
    stamp = Time.of(START)
    event = Event(
        metadata=ObjectMeta(name="p.1", namespace="ns"),
        involved_object=ObjectReference(
            kind="Pod", namespace="ns", name="p", uid="u1", api_version="v1"
        ),
        reason=reason,
        message=message,
        source=EventSource(component="kubelet", host="node1"),
        first_timestamp=stamp,
        last_timestamp=stamp,
        count=1,
        type="Normal",
    )
    return msgspec.structs.replace(event, **changes)


def stamped(event: Event, when: datetime) -> Event:
    return msgspec.structs.replace(
        event, first_timestamp=Time.of(when), last_timestamp=Time.of(when)
    )


def test_exactly_two_clock_reads_per_correlate() -> None:
    clock = SimpleIntervalClock(START, timedelta(seconds=1))
    correlator = EventCorrelator(CorrelatorOptions(clock=clock, burst_size=3, max_events=3))
    kinds = []
    for i in range(8):  # fresh, repeats, aggregates and (after 3) skipped events
        before = clock.reads
        result = correlator.correlate(pod_event(f"m{i % 4}"))
        kinds.append("skip" if result.skip else "event")
        assert clock.reads - before == 2
    assert "skip" in kinds
    assert "event" in kinds


def test_aggregator_reads_the_clock_before_the_spam_filter() -> None:
    aggregator_time = START + timedelta(hours=1)
    spam_time = START + timedelta(seconds=1)
    # Every event is an aggregate (max_events=1), stamped with the aggregator's read.
    clock = ScriptedClock(START, START, aggregator_time, spam_time)
    correlator = EventCorrelator(
        CorrelatorOptions(clock=clock, burst_size=1, max_events=1, qps=0.5)
    )
    first = correlator.correlate(pod_event("a"))
    assert first.event is not None
    # An hour of refill had the spam filter read aggregator_time; one second is not enough.
    second = correlator.correlate(pod_event("b"))
    assert second.skip
    assert clock.times == []

    clock = ScriptedClock(START, START, aggregator_time, START + timedelta(seconds=2))
    correlator = EventCorrelator(CorrelatorOptions(clock=clock, max_events=1))
    correlator.correlate(pod_event("a"))
    result = correlator.correlate(pod_event("b"))
    assert result.event is not None
    assert result.event.last_timestamp == Time.of(aggregator_time)


def test_skipped_events_still_bump_the_count() -> None:
    clock = SimpleIntervalClock(START, timedelta(seconds=1))
    correlator = EventCorrelator(CorrelatorOptions(clock=clock, burst_size=1))
    first = correlator.correlate(pod_event())
    assert first.event is not None
    assert first.event.count == 1
    assert correlator.correlate(pod_event()).skip
    assert correlator.correlate(pod_event()).skip
    clock.time += timedelta(seconds=300)
    result = correlator.correlate(stamped(pod_event(), START + timedelta(seconds=400)))
    assert not result.skip
    assert result.event is not None
    assert result.event.count == 4
    assert result.event.metadata.name == "p.1"
    assert result.patch == b'{"count":4,"lastTimestamp":"2024-01-01T00:06:40Z","message":"m"}'


def test_update_state_adopts_the_servers_name_version_and_count() -> None:
    clock = SimpleIntervalClock(START, timedelta(seconds=1))
    correlator = EventCorrelator(CorrelatorOptions(clock=clock))
    result = correlator.correlate(stamped(pod_event(), START))
    assert result.event is not None
    server = copy_event(result.event)
    server.metadata.name = "server-name"
    server.metadata.resource_version = "42"
    server.count = 7
    server.first_timestamp = Time.of(START - timedelta(days=1))
    correlator.update_state(server)

    repeat = correlator.correlate(stamped(pod_event(), START + timedelta(seconds=9)))
    assert repeat.event is not None
    assert repeat.event.metadata.name == "server-name"
    assert repeat.event.metadata.resource_version == "42"
    assert repeat.event.count == 8
    assert repeat.event.first_timestamp == Time.of(START - timedelta(days=1))
    assert repeat.event.last_timestamp == Time.of(START + timedelta(seconds=9))
    assert repeat.patch == b'{"count":8,"lastTimestamp":"2024-01-01T00:00:09Z","message":"m"}'


def test_failed_write_keeps_the_count_and_name_for_the_404_recreate() -> None:
    # No update_state after the first correlate: its write failed. The repeat still counts on
    # the client-side entry, so the sink patches "p.1" (404) and re-creates it with count 2.
    clock = SimpleIntervalClock(START, timedelta(seconds=1))
    correlator = EventCorrelator(CorrelatorOptions(clock=clock))
    correlator.correlate(stamped(pod_event(), START))
    repeat = correlator.correlate(stamped(pod_event(), START + timedelta(seconds=5)))
    assert repeat.event is not None
    assert (repeat.event.count, repeat.event.metadata.name) == (2, "p.1")
    assert repeat.event.metadata.resource_version == ""
    assert repeat.event.first_timestamp == Time.of(START)
    assert repeat.patch is not None

    created = copy_event(repeat.event)
    created.metadata.resource_version = "99"
    correlator.update_state(created)
    third = correlator.correlate(stamped(pod_event(), START + timedelta(seconds=6)))
    assert third.event is not None
    assert (third.event.count, third.event.metadata.resource_version) == (3, "99")


def test_incoming_count_is_kept_on_a_miss() -> None:
    # An event that already carries Count 5 and has no cache entry passes through unchanged;
    # the sink will patch it (Count > 1) with no patch body.
    result = EventCorrelator().correlate(pod_event(count=5))
    assert result.event is not None
    assert result.event.count == 5
    assert result.patch is None


def test_aggregates_dedup_under_the_aggregate_key() -> None:
    clock = SimpleIntervalClock(START, timedelta(seconds=1))
    correlator = EventCorrelator(CorrelatorOptions(clock=clock, max_events=2))
    assert correlator.correlate(pod_event("a")).event is not None
    first = correlator.correlate(pod_event("b")).event
    assert first is not None
    assert first.message == "(combined from similar events): b"
    assert first.count == 1
    # The server's reply is keyed by its own event key, not the aggregate key: it is not used.
    server = copy_event(first)
    server.metadata.resource_version = "5"
    server.count = 40
    correlator.update_state(server)

    second = correlator.correlate(pod_event("c"))
    assert second.event is not None
    assert second.event.metadata.name == first.metadata.name
    assert second.event.count == 2
    assert second.event.metadata.resource_version == ""
    assert second.event.message == "(combined from similar events): c"
    assert second.patch == (
        b'{"count":2,"lastTimestamp":"2024-01-01T00:00:05Z",'
        b'"message":"(combined from similar events): c"}'
    )


def test_result_event_is_a_copy() -> None:
    event = pod_event()
    result = EventCorrelator().correlate(event)
    assert result.event is not None
    assert result.event is not event
    assert result.event == event
    result.event.metadata.name = "changed"
    result.event.involved_object.name = "changed"
    result.event.source.host = "changed"
    assert (event.metadata.name, event.involved_object.name, event.source.host) == (
        "p.1",
        "p",
        "node1",
    )


class TestOptions:
    def test_zero_means_default(self) -> None:
        clock = SimpleIntervalClock(START, timedelta(0))
        zero = CorrelatorOptions(
            lru_cache_size=0,
            burst_size=0,
            qps=0.0,
            key_func=None,
            message_func=None,
            max_events=0,
            max_interval_seconds=0,
            clock=clock,
            spam_key_func=None,
        )
        correlator = EventCorrelator(zero)
        results = [correlator.correlate(pod_event(f"m{i}")) for i in range(26)]
        # Default burst 25; default max_events 10 makes the 10th message an aggregate.
        assert [r.skip for r in results] == [False] * 25 + [True]
        assert results[9].event is not None
        assert results[9].event.message == "(combined from similar events): m9"
        assert results[8].event is not None
        assert results[8].event.message == "m8"

    def test_qps_too_small_for_float32_means_default(self) -> None:
        clock = SimpleIntervalClock(START, timedelta(0))
        correlator = EventCorrelator(CorrelatorOptions(clock=clock, burst_size=1, qps=1e-50))
        assert not correlator.correlate(pod_event()).skip
        clock.time += timedelta(seconds=300)
        # float32(1e-50) is 0, which selects 1/300: one token after 300 s.
        assert not correlator.correlate(pod_event()).skip

    def test_negative_qps_is_kept(self) -> None:
        clock = SimpleIntervalClock(START, timedelta(0))
        correlator = EventCorrelator(CorrelatorOptions(clock=clock, burst_size=1, qps=-1.0))
        assert not correlator.correlate(pod_event()).skip
        clock.time += timedelta(days=365)
        assert correlator.correlate(pod_event()).skip

    def test_negative_burst_skips_everything(self) -> None:
        correlator = EventCorrelator(CorrelatorOptions(burst_size=-1))
        assert correlator.correlate(pod_event()).skip

    def test_negative_cache_size_never_dedups_or_aggregates(self) -> None:
        correlator = EventCorrelator(CorrelatorOptions(lru_cache_size=-1, max_events=2))
        for message in ("a", "a", "b", "c"):
            result = correlator.correlate(pod_event(message))
            assert result.event is not None
            assert (result.event.count, result.event.message, result.patch) == (1, message, None)

    def test_negative_max_events_never_aggregates(self) -> None:
        clock = SimpleIntervalClock(START, timedelta(seconds=1))
        correlator = EventCorrelator(CorrelatorOptions(clock=clock, max_events=-1))
        for i in range(20):
            result = correlator.correlate(pod_event(f"m{i}"))
            assert result.event is not None
            assert result.event.message == f"m{i}"

    def test_custom_functions(self) -> None:
        correlator = EventCorrelator(
            CorrelatorOptions(
                max_events=2,
                key_func=lambda e: ("everything", e.message),
                message_func=lambda e: "many: " + e.reason,
            )
        )
        correlator.correlate(pod_event("a", reason="X"))
        other = ObjectReference(kind="Node", name="other")
        result = correlator.correlate(pod_event("b", reason="Y", involved_object=other))
        assert result.event is not None
        assert result.event.message == "many: Y"
        assert result.event.metadata.name.startswith("other.")

"""The correlator's stages on their own: keys, aggregator, dedup cache, spam filter."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from kubevents.clock import Clock, FakeClock
from kubevents.model import (
    Event,
    EventSeries,
    EventSource,
    MicroTime,
    ObjectMeta,
    ObjectReference,
    Time,
)
from kubevents.record._correlator import (
    AGGREGATE_MESSAGE_PREFIX,
    DedupCache,
    EventAggregator,
    EventSourceObjectSpamFilter,
    event_aggregator_by_reason,
    event_aggregator_by_reason_message,
    get_event_key,
    get_spam_key,
)

START = datetime(2024, 1, 1, tzinfo=UTC)
AGG_KEY = "kubeletnode1PodnspuidvNormalR"


class NanoTime(datetime):
    """A datetime with an extra sub-microsecond ``nanosecond`` field, like pandas.Timestamp."""

    nanosecond: int = 0


def nano_time(base: datetime, nanosecond: int) -> NanoTime:
    value = NanoTime(
        base.year,
        base.month,
        base.day,
        base.hour,
        base.minute,
        base.second,
        base.microsecond,
        tzinfo=UTC,
    )
    value.nanosecond = nanosecond
    return value


class ScriptedClock:
    def __init__(self, *times: datetime) -> None:
        self.times = list(times)

    def now(self) -> datetime:
        assert self.times, "clock read more often than expected"
        return self.times.pop(0)


def event(message: str = "m", reason: str = "R", **changes: object) -> Event:
    base = Event(
        metadata=ObjectMeta(name="p.1", namespace="ns"),
        involved_object=ObjectReference(
            kind="Pod", namespace="ns", name="p", uid="uid", api_version="v", field_path="fp"
        ),
        reason=reason,
        message=message,
        source=EventSource(component="kubelet", host="node1"),
        first_timestamp=Time.of(START),
        last_timestamp=Time.of(START),
        count=1,
        type="Normal",
    )
    return msgspec.structs.replace(base, **changes)


def aggregator(clock: Clock, max_events: int = 10, interval: int = 600) -> EventAggregator:
    return EventAggregator(
        4096,
        event_aggregator_by_reason,
        event_aggregator_by_reason_message,
        max_events,
        interval,
        clock,
    )


class TestKeys:
    def test_event_key_puts_field_path_between_name_and_uid(self) -> None:
        assert get_event_key(event()) == "kubeletnode1PodnspfpuidvNormalRm"

    def test_spam_key_has_no_reason_message_or_field_path(self) -> None:
        assert get_spam_key(event()) == "kubeletnode1PodnspuidvNormal"
        assert (
            get_spam_key(event("x", "Y", involved_object=ObjectReference())) == "kubeletnode1Normal"
        )

    def test_aggregate_key_adds_reporting_fields_and_drops_field_path(self) -> None:
        assert event_aggregator_by_reason(event()) == (AGG_KEY, "m")
        with_reporting = event(reporting_controller="rc", reporting_instance="ri")
        assert event_aggregator_by_reason(with_reporting) == (AGG_KEY + "rcri", "m")

    def test_keys_are_plain_concatenations_and_can_collide(self) -> None:
        ab_c = event(source=EventSource(component="ab", host="c"))
        a_bc = event(source=EventSource(component="a", host="bc"))
        assert get_event_key(ab_c) == get_event_key(a_bc)
        assert get_spam_key(ab_c) == get_spam_key(a_bc)
        assert event_aggregator_by_reason(ab_c) == event_aggregator_by_reason(a_bc)

    def test_keys_ignore_names_counts_times_and_versions(self) -> None:
        other = event(
            metadata=ObjectMeta(name="zzz", namespace="other", resource_version="9"),
            count=7,
            last_timestamp=None,
            involved_object=msgspec.structs.replace(event().involved_object, resource_version="3"),
        )
        assert get_event_key(other) == get_event_key(event())
        assert get_spam_key(other) == get_spam_key(event())

    def test_by_reason_func_from_client_go(self) -> None:
        agg1, local1 = event_aggregator_by_reason(event("it was fun", "end-of-world"))
        agg2, local2 = event_aggregator_by_reason(event("it was awful", "end-of-world"))
        agg3, _ = event_aggregator_by_reason(event("it was a bug", "nevermind"))
        assert agg1 == agg2
        assert local1 != local2
        assert agg1 != agg3

    def test_by_reason_message_func_from_client_go(self) -> None:
        assert AGGREGATE_MESSAGE_PREFIX == "(combined from similar events): "
        message = event_aggregator_by_reason_message(event("it was fun"))
        assert message == "(combined from similar events): it was fun"


class TestAggregator:
    def test_below_threshold_returns_the_event_itself(self) -> None:
        ev = event()
        assert aggregator(FakeClock(START)).aggregate(ev) == (ev, get_event_key(ev))
        assert aggregator(FakeClock(START)).aggregate(ev)[0] is ev

    def test_aggregate_event_contents(self) -> None:
        now = nano_time(START + timedelta(seconds=7), 123)
        agg = aggregator(ScriptedClock(START, now), max_events=2)
        agg.aggregate(event("a", reporting_controller="rc", reporting_instance="ri"))
        trigger = event(
            "b",
            metadata=ObjectMeta(
                name="x", namespace="ns", annotations={"k": "v"}, resource_version="4"
            ),
            reporting_controller="rc",
            reporting_instance="ri",
            event_time=MicroTime.of(START),
            action="Act",
            related=ObjectReference(name="rel"),
            series=EventSeries(count=3),
            count=9,
        )
        result, key = agg.aggregate(trigger)
        assert key == AGG_KEY + "rcri"
        assert result == Event(
            metadata=ObjectMeta(name=f"p.{1_704_067_207_000_000_123:x}", namespace="ns"),
            involved_object=trigger.involved_object,
            reason="R",
            message="(combined from similar events): b",
            source=trigger.source,
            first_timestamp=Time.of(now),
            last_timestamp=Time.of(now),
            count=1,
            type="Normal",
        )
        assert result.involved_object is not trigger.involved_object
        assert result.metadata.name == "p.17a61018a2a0867b"

    def test_aggregate_name_is_not_dns_checked(self) -> None:
        before_epoch = datetime(1969, 12, 31, 23, 59, 59, tzinfo=UTC)
        odd = ObjectReference(kind="Pod", name="My_Pod")
        agg = aggregator(FakeClock(before_epoch), max_events=1)
        result, _ = agg.aggregate(event(involved_object=odd))
        assert result.metadata.name == "My_Pod.-3b9aca00"

    def test_interval_of_exactly_max_keeps_the_group(self) -> None:
        agg = aggregator(ScriptedClock(START, START + timedelta(seconds=600)), max_events=2)
        agg.aggregate(event("a"))
        assert agg.aggregate(event("b"))[1] == AGG_KEY

    def test_interval_one_nanosecond_over_max_resets_the_group(self) -> None:
        late = nano_time(START + timedelta(seconds=600), 1)
        agg = aggregator(ScriptedClock(START, late), max_events=2)
        agg.aggregate(event("a"))
        result, key = agg.aggregate(event("b"))
        assert key == get_event_key(event("b"))
        assert result.message == "b"

    def test_each_event_refreshes_the_group_timestamp(self) -> None:
        times = [START + timedelta(seconds=s) for s in (0, 500, 1000, 1500)]
        agg = aggregator(ScriptedClock(*times), max_events=4)
        keys = [agg.aggregate(event(m))[1] for m in "abcd"]
        assert keys[-1] == AGG_KEY

    def test_pop_any_keeps_the_set_one_below_max(self) -> None:
        agg = aggregator(FakeClock(START), max_events=3)
        for message in "abc":
            agg.aggregate(event(message))
        record = agg._cache.get(AGG_KEY)
        assert record is not None
        assert len(record.local_keys) == 2
        (popped,) = set("abc") - record.local_keys
        kept = sorted(record.local_keys)[0]
        # A message still in the set leaves it at 2: not aggregated, deduped on its own key.
        assert agg.aggregate(event(kept))[1] == get_event_key(event(kept))
        # The popped one brings the set back to 3: aggregated again.
        assert agg.aggregate(event(popped))[1] == AGG_KEY
        assert len(record.local_keys) == 2

    def test_max_events_one_aggregates_everything(self) -> None:
        agg = aggregator(FakeClock(START), max_events=1)
        for _ in range(3):
            assert agg.aggregate(event())[1] == AGG_KEY

    def test_negative_max_events_never_aggregates(self) -> None:
        agg = aggregator(FakeClock(START), max_events=-1)
        for i in range(50):
            assert agg.aggregate(event(str(i)))[0].message == str(i)

    def test_negative_interval_resets_every_time(self) -> None:
        agg = aggregator(FakeClock(START), max_events=2, interval=-1)
        for i in range(5):
            assert agg.aggregate(event(str(i)))[0].message == str(i)

    def test_lru_eviction_forgets_groups(self) -> None:
        agg = EventAggregator(
            1,
            event_aggregator_by_reason,
            event_aggregator_by_reason_message,
            2,
            600,
            FakeClock(START),
        )
        for i in range(5):
            assert agg.aggregate(event(f"a{i}", reason="A"))[0].message == f"a{i}"
            assert agg.aggregate(event(f"b{i}", reason="B"))[0].message == f"b{i}"

    def test_one_clock_read(self) -> None:
        clock = ScriptedClock(START)
        aggregator(clock).aggregate(event())
        assert clock.times == []


def observe_twice(second: Event) -> tuple[Event, bytes | None]:
    cache = DedupCache(4096)
    cache.observe(event(), "k")
    return cache.observe(second, "k")


class TestEventLogger:
    def test_miss_returns_a_copy_and_no_patch(self) -> None:
        ev = event()
        observed, patch = DedupCache(10).observe(ev, "k")
        assert observed == ev
        assert observed is not ev
        assert observed.metadata is not ev.metadata
        assert patch is None

    def test_hit_takes_name_version_first_timestamp_and_bumps_count(self) -> None:
        cache = DedupCache(10)
        cache.update_state(event(metadata=ObjectMeta(name="srv", resource_version="8"), count=4))
        later = Time.of(START + timedelta(seconds=30))
        observed, patch = cache.observe(
            event(first_timestamp=later, last_timestamp=later, metadata=ObjectMeta(name="new")),
            get_event_key(event()),
        )
        assert observed.metadata.name == "srv"
        assert observed.metadata.resource_version == "8"
        assert observed.first_timestamp == Time.of(START)
        assert observed.last_timestamp == later
        assert observed.count == 5
        assert patch == b'{"count":5,"lastTimestamp":"2024-01-01T00:00:30Z","message":"m"}'

    def test_patch_leaves_out_an_empty_message(self) -> None:
        _, patch = observe_twice(event(""))
        assert patch == b'{"count":2,"lastTimestamp":"2024-01-01T00:00:00Z"}'

    def test_patch_null_last_timestamp(self) -> None:
        _, patch = observe_twice(event(last_timestamp=None))
        assert patch == b'{"count":2,"lastTimestamp":null,"message":"m"}'

    def test_patch_leaves_out_a_last_timestamp_printing_as_the_epoch(self) -> None:
        epochish = Time.of(datetime(1970, 1, 1, 0, 0, 0, 500000, tzinfo=UTC))
        _, patch = observe_twice(event(last_timestamp=epochish))
        assert patch == b'{"count":2,"message":"m"}'

    def test_patch_escapes_like_go(self) -> None:
        _, patch = observe_twice(event('<a href="x">&\u2028é', last_timestamp=None))
        assert patch == (
            b'{"count":2,"lastTimestamp":null,'
            b'"message":"\\u003ca href=\\"x\\"\\u003e\\u0026\\u2028\xc3\xa9"}'
        )

    def test_patch_has_only_the_three_fields(self) -> None:
        noisy = event(
            metadata=ObjectMeta(name="n", annotations={"a": "b"}, resource_version="1"),
            reporting_controller="rc",
            first_timestamp=Time.of(START - timedelta(days=1)),
        )
        _, patch = observe_twice(noisy)
        assert patch == b'{"count":2,"lastTimestamp":"2024-01-01T00:00:00Z","message":"m"}'

    def test_count_zero_entries_never_dedup(self) -> None:
        cache = DedupCache(10)
        cache.observe(event(count=0), "k")
        observed, patch = cache.observe(event(count=0), "k")
        assert (observed.count, patch) == (0, None)

    def test_count_wraps_like_int32(self) -> None:
        cache = DedupCache(10)
        cache.update_state(event(count=2**31 - 1))
        observed, patch = cache.observe(event(), get_event_key(event()))
        assert observed.count == -(2**31)
        assert patch is not None
        assert patch.startswith(b'{"count":-2147483648,')

    def test_negative_server_count_still_counts_as_seen(self) -> None:
        # Go keeps the count as uint: -1 is huge, so it dedups; int32(-1) + 1 is 0, which is
        # then omitted from both sides of the patch.
        cache = DedupCache(10)
        cache.update_state(event(count=-1))
        observed, patch = cache.observe(event(), get_event_key(event()))
        assert observed.count == 0
        assert patch == b'{"lastTimestamp":"2024-01-01T00:00:00Z","message":"m"}'

    def test_lru_eviction(self) -> None:
        cache = DedupCache(1)
        for _ in range(3):
            assert cache.observe(event("a"), "a")[1] is None
            assert cache.observe(event("b"), "b")[1] is None


class TestSpamFilter:
    def test_burst_then_skip(self) -> None:
        spam = EventSourceObjectSpamFilter(10, 2, 1 / 300, FakeClock(START))
        assert [spam.filter(event()) for _ in range(3)] == [False, False, True]

    def test_shared_across_reasons_messages_and_field_paths(self) -> None:
        spam = EventSourceObjectSpamFilter(10, 2, 1 / 300, FakeClock(START))
        other_path = msgspec.structs.replace(event().involved_object, field_path="other")
        assert not spam.filter(event("a", "A"))
        assert not spam.filter(event("b", "B", involved_object=other_path))
        assert spam.filter(event("c", "C"))

    def test_separate_per_type_and_object(self) -> None:
        spam = EventSourceObjectSpamFilter(10, 1, 1 / 300, FakeClock(START))
        assert not spam.filter(event())
        assert not spam.filter(event(type="Warning"))
        other = msgspec.structs.replace(event().involved_object, name="q")
        assert not spam.filter(event(involved_object=other))
        assert spam.filter(event())

    def test_refill(self) -> None:
        clock = FakeClock(START)
        spam = EventSourceObjectSpamFilter(10, 1, 1 / 300, clock)
        assert not spam.filter(event())
        clock.step(299)
        assert spam.filter(event())
        clock.step(1)
        assert not spam.filter(event())

    def test_eviction_gives_a_fresh_full_bucket(self) -> None:
        spam = EventSourceObjectSpamFilter(1, 1, 1 / 300, FakeClock(START))
        assert not spam.filter(event())
        assert spam.filter(event())
        assert not spam.filter(event(type="Warning"))  # evicts the Normal bucket
        assert not spam.filter(event())

    def test_custom_key(self) -> None:
        spam = EventSourceObjectSpamFilter(10, 1, 1 / 300, FakeClock(START), lambda e: e.reason)
        assert not spam.filter(event(reason="A"))
        assert not spam.filter(event(reason="B"))
        assert spam.filter(event(reason="A", involved_object=ObjectReference(name="other")))

    @pytest.mark.parametrize("skip_first", [False, True])
    def test_one_clock_read_per_call(self, skip_first: bool) -> None:
        clock = ScriptedClock(START, START)
        spam = EventSourceObjectSpamFilter(10, 0 if skip_first else 1, 1 / 300, clock)
        spam.filter(event())
        spam.filter(event())
        assert clock.times == []

"""EventCorrelator: a port of client-go's events_cache_test.go table and spam filter cases."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import msgspec
import pytest

from kubevents.model import Event, EventSource, ObjectReference, Time
from kubevents.record._correlator import (
    DEFAULT_AGGREGATE_INTERVAL_SECONDS,
    DEFAULT_AGGREGATE_MAX_EVENTS,
    DEFAULT_SPAM_BURST,
    DEFAULT_SPAM_QPS,
    MAX_LRU_CACHE_ENTRIES,
    CorrelatorOptions,
    EventCorrelator,
    EventSpamKeyFunc,
    event_aggregator_by_reason,
    event_aggregator_by_reason_message,
    get_spam_key,
)

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


def copy_event(event: Event) -> Event:
    """A copy as independent as a Go struct value copy."""
    return msgspec.structs.replace(
        event,
        metadata=msgspec.structs.replace(event.metadata),
        involved_object=msgspec.structs.replace(event.involved_object),
        source=msgspec.structs.replace(event.source),
    )


def make_object_reference(kind: str, name: str, namespace: str) -> ObjectReference:
    return ObjectReference(
        kind=kind,
        name=name,
        namespace=namespace,
        uid="C934D34AFB20242",
        api_version="version",
        field_path="spec.containers{mycontainer}",
    )


def make_event(reason: str, message: str, involved_object: ObjectReference) -> Event:
    stamp = Time.of(START)
    return Event(
        reason=reason,
        message=message,
        involved_object=msgspec.structs.replace(involved_object),
        source=EventSource(component="kubelet", host="kublet.node1"),
        count=1,
        first_timestamp=stamp,
        last_timestamp=stamp,
        type="Normal",
    )


def make_events(num: int, template: Event) -> list[Event]:
    return [copy_event(template) for _ in range(num)]


def make_unique_events(num: int) -> list[Event]:
    return [
        make_event(
            f"reason-{i}", f"message-{i}", make_object_reference("Pod", f"pod-{i}", f"ns-{i}")
        )
        for i in range(num)
    ]


def make_similar_events(num: int, template: Event, message_prefix: str) -> list[Event]:
    events = make_events(num, template)
    for i, event in enumerate(events):
        event.message = f"{message_prefix}-{i}-{event.message}"
    return events


def set_count(event: Event, count: int) -> Event:
    return msgspec.structs.replace(copy_event(event), count=count)


def validate_event(actual: Event, expected: Event, name_prefix: str) -> None:
    assert actual.first_timestamp is not None
    assert actual.last_timestamp is not None
    if actual.first_timestamp == actual.last_timestamp:
        assert expected.count <= 1, "compression must show as first != last timestamp"
    else:
        assert expected.count != 1, "a single occurrence must have first == last timestamp"
    assert actual.metadata.name.startswith(name_prefix)
    comparable = msgspec.structs.replace(
        copy_event(actual),
        first_timestamp=expected.first_timestamp,
        last_timestamp=expected.last_timestamp,
        reporting_controller=expected.reporting_controller,
    )
    comparable.metadata.name = expected.metadata.name
    assert comparable == expected


first_event = make_event("first", "i am first", make_object_reference("Pod", "my-pod", "my-ns"))
duplicate_event = make_event(
    "duplicate", "me again", make_object_reference("Pod", "my-pod", "my-ns")
)
unique_event = make_event("unique", "snowflake", make_object_reference("Pod", "my-pod", "my-ns"))
similar_event = make_event(
    "similar", "similar message", make_object_reference("Pod", "my-pod", "my-ns")
)
similar_event.involved_object.field_path = "spec.containers{container1}"
aggregate_event = make_event(
    similar_event.reason,
    event_aggregator_by_reason_message(similar_event),
    similar_event.involved_object,
)
similar_but_different_container_event = copy_event(similar_event)
similar_but_different_container_event.involved_object.field_path = "spec.containers{container2}"


@dataclass
class Scenario:
    previous_events: list[Event]
    new_event: Event
    interval_seconds: int
    expected_event: Event = field(default_factory=Event)
    expected_skip: bool = False
    # Go only checks an (empty) prefix; aggregates must also be named after the object.
    name_prefix: str = ""


SCENARIOS = {
    "create-a-single-event": Scenario([], first_event, 5, set_count(first_event, 1)),
    "the-same-event-should-just-count": Scenario(
        make_events(1, duplicate_event), duplicate_event, 5, set_count(duplicate_event, 2)
    ),
    "the-same-event-should-just-count-even-if-more-than-aggregate": Scenario(
        make_events(DEFAULT_AGGREGATE_MAX_EVENTS, duplicate_event),
        duplicate_event,
        30,  # a larger interval would allow aggregation but avoids spam filtering
        set_count(duplicate_event, DEFAULT_AGGREGATE_MAX_EVENTS + 1),
    ),
    "the-same-event-is-spam-if-happens-too-frequently": Scenario(
        make_events(DEFAULT_SPAM_BURST + 1, duplicate_event),
        duplicate_event,
        1,
        expected_skip=True,
    ),
    "create-many-unique-events": Scenario(
        make_unique_events(30), unique_event, 5, set_count(unique_event, 1)
    ),
    "similar-events-should-aggregate-event": Scenario(
        make_similar_events(DEFAULT_AGGREGATE_MAX_EVENTS - 1, similar_event, similar_event.message),
        similar_event,
        5,
        set_count(aggregate_event, 1),
        name_prefix="my-pod.",
    ),
    "similar-events-many-times-should-count-the-aggregate": Scenario(
        make_similar_events(DEFAULT_AGGREGATE_MAX_EVENTS, similar_event, similar_event.message),
        similar_event,
        5,
        set_count(aggregate_event, 2),
        name_prefix="my-pod.",
    ),
    "events-from-different-containers-do-not-aggregate": Scenario(
        make_events(1, similar_but_different_container_event),
        similar_event,
        5,
        set_count(similar_event, 1),
    ),
    "similar-events-whose-interval-is-greater-than-aggregate-interval-do-not-aggregate": Scenario(
        make_similar_events(DEFAULT_AGGREGATE_MAX_EVENTS - 1, similar_event, similar_event.message),
        similar_event,
        DEFAULT_AGGREGATE_INTERVAL_SECONDS,
        set_count(similar_event, 1),
    ),
}


@pytest.mark.parametrize("scenario", SCENARIOS.values(), ids=SCENARIOS.keys())
def test_event_correlator(scenario: Scenario) -> None:
    clock = SimpleIntervalClock(START, timedelta(seconds=scenario.interval_seconds))
    correlator = EventCorrelator(CorrelatorOptions(clock=clock))
    for previous in scenario.previous_events:
        event = copy_event(previous)
        now = Time.of(clock.now())
        event.first_timestamp = now
        event.last_timestamp = now
        result = correlator.correlate(event)
        if not result.skip:
            assert result.event is not None
            correlator.update_state(result.event)

    new_event = copy_event(scenario.new_event)
    now = Time.of(clock.now())
    new_event.first_timestamp = now
    new_event.last_timestamp = now
    result = correlator.correlate(new_event)

    assert result.skip == scenario.expected_skip
    if scenario.expected_skip:
        assert result.event is None
        assert result.patch is None
        return
    assert result.event is not None
    validate_event(result.event, scenario.expected_event, scenario.name_prefix)
    # A count above 1 is what makes the sink patch instead of create; it needs a patch body.
    assert (result.patch is not None) == (scenario.expected_event.count > 1)
    # Three reads per event: the test's own stamp, the aggregator, the spam filter.
    assert clock.reads == 3 * (len(scenario.previous_events) + 1)


def spam_key_by_object_and_reason(event: Event) -> str:
    obj = event.involved_object
    return "".join(
        (
            event.source.component,
            event.source.host,
            obj.kind,
            obj.namespace,
            obj.name,
            obj.uid,
            obj.api_version,
            event.reason,
        )
    )


original_event = make_event(
    "original", "i am first", make_object_reference("Pod", "my-pod", "my-ns")
)
different_reason_event = make_event(
    "duplicate", "me again", make_object_reference("Pod", "my-pod", "my-ns")
)
spam_event = make_event("original", "me again", make_object_reference("Pod", "my-pod", "my-ns"))


@pytest.mark.parametrize(
    ("new_event", "spam_key_func", "expected_skip"),
    [
        pytest.param(different_reason_event, None, True, id="default-key-same-object-is-spam"),
        pytest.param(
            different_reason_event,
            spam_key_by_object_and_reason,
            False,
            id="custom-key-different-reason-is-not-spam",
        ),
        pytest.param(
            spam_event,
            spam_key_by_object_and_reason,
            True,
            id="custom-key-same-reason-different-message-is-spam",
        ),
    ],
)
def test_event_spam_filter(
    new_event: Event, spam_key_func: EventSpamKeyFunc | None, expected_skip: bool
) -> None:
    clock = SimpleIntervalClock(START, timedelta(seconds=1))
    # None selects the default, as a nil SpamKeyFunc does in Go.
    options = CorrelatorOptions(clock=clock, burst_size=1, spam_key_func=spam_key_func)
    correlator = EventCorrelator(options)
    result = correlator.correlate(copy_event(original_event))
    assert not result.skip
    assert result.event is not None
    correlator.update_state(result.event)

    result = correlator.correlate(copy_event(new_event))
    assert result.skip == expected_skip
    if not expected_skip:
        assert result.event is not None
        validate_event(result.event, set_count(new_event, 1), "")


def test_none_event_is_an_error() -> None:
    with pytest.raises(ValueError, match=r"^event is nil$"):
        EventCorrelator().correlate(None)


def test_default_options() -> None:
    options = CorrelatorOptions()
    assert options.lru_cache_size == MAX_LRU_CACHE_ENTRIES == 4096
    assert options.burst_size == DEFAULT_SPAM_BURST == 25
    assert options.qps == DEFAULT_SPAM_QPS == 1 / 300
    assert options.max_events == DEFAULT_AGGREGATE_MAX_EVENTS == 10
    assert options.max_interval_seconds == DEFAULT_AGGREGATE_INTERVAL_SECONDS == 600
    assert options.key_func is event_aggregator_by_reason
    assert options.message_func is event_aggregator_by_reason_message
    assert options.spam_key_func is get_spam_key
    assert options.clock is None


def test_real_clock_by_default() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    # A 10th distinct message aggregates, stamped with the (real) aggregator clock.
    correlator = EventCorrelator()
    aggregate = None
    for i in range(DEFAULT_AGGREGATE_MAX_EVENTS):
        aggregate = correlator.correlate(
            make_event("r", f"m{i}", make_object_reference("P", "p", "n"))
        ).event
    assert aggregate is not None
    assert aggregate.first_timestamp is not None
    assert before <= aggregate.first_timestamp <= datetime.now(UTC)

"""Property tests: odd strings and times survive the wire unchanged."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from kubevents.model import (
    Event,
    EventSeries,
    EventSource,
    EventsV1Event,
    EventsV1EventSeries,
    ManagedFieldsEntry,
    MicroTime,
    ObjectMeta,
    ObjectReference,
    OwnerReference,
    Time,
    to_core,
    to_events_v1,
)

texts = st.text(max_size=40)
maps = st.none() | st.dictionaries(st.text(min_size=1, max_size=20), texts, min_size=1, max_size=4)
instants = st.datetimes(
    min_value=datetime(1970, 1, 1),  # noqa: DTZ001 - hypothesis wants naive bounds
    max_value=datetime(2300, 1, 1),  # noqa: DTZ001
    timezones=st.just(UTC),
)
times = st.none() | instants.map(Time.of)
micro_times = st.none() | instants.map(MicroTime.of)
refs = st.builds(
    ObjectReference,
    kind=texts,
    namespace=texts,
    name=texts,
    uid=texts,
    api_version=texts,
    resource_version=texts,
    field_path=texts,
)
core_events = st.builds(
    Event,
    metadata=st.builds(ObjectMeta, name=texts, namespace=texts, annotations=maps, labels=maps),
    involved_object=refs,
    reason=texts,
    message=texts,
    source=st.builds(EventSource, component=texts, host=texts),
    first_timestamp=times,
    last_timestamp=times,
    count=st.integers(min_value=0, max_value=2**31 - 1),
    type=texts,
    event_time=micro_times,
    series=st.none()
    | st.builds(EventSeries, count=st.integers(0, 1000), last_observed_time=micro_times),
    action=texts,
    related=st.none() | refs,
    reporting_controller=texts,
    reporting_instance=texts,
)


def _truncate(value: datetime | None, micro: bool) -> datetime | None:
    if value is None:
        return None
    return value if micro else value.replace(microsecond=0)


@settings(max_examples=200)
@given(core_events)
def test_core_event_survives_json(event: Event) -> None:
    decoded = Event.from_json(event.to_json())
    # Only the sub-second part of metav1.Time is lost, exactly as in Go.
    assert decoded.first_timestamp == _truncate(event.first_timestamp, micro=False)
    assert decoded.last_timestamp == _truncate(event.last_timestamp, micro=False)
    assert decoded.event_time == event.event_time
    assert decoded.message == event.message
    assert decoded.metadata.annotations == event.metadata.annotations
    assert decoded.involved_object == event.involved_object
    # The output is valid JSON that any parser reads back to the same dict.
    assert json.loads(event.to_json()) == event.to_dict()
    assert Event.from_dict(event.to_dict()).to_json() == decoded.to_json()


@settings(max_examples=200)
@given(core_events)
def test_conversion_round_trip(event: Event) -> None:
    converted = to_events_v1(event)
    assert isinstance(converted, EventsV1Event)
    assert converted.note == event.message
    assert converted.regarding == event.involved_object
    assert converted.deprecated_count == event.count
    back = to_core(converted)
    assert back.to_json() == event.to_json()
    # Conversion copies: changing the copy leaves the original alone.
    back.involved_object.name += "x"
    assert back.involved_object != event.involved_object


@given(instants, st.integers(min_value=-(10**6), max_value=10**6))
def test_time_wire_round_trip(instant: datetime, micros: int) -> None:
    moved = instant + timedelta(microseconds=micros)
    assert MicroTime.parse(MicroTime.of(moved).wire()) == moved
    assert Time.parse(Time.of(moved).wire()) == moved.replace(microsecond=0)


def test_no_api_struct_is_tracked_by_the_cyclic_gc() -> None:
    # Typed fields only, so no instance can be part of a reference cycle; untracked, the
    # events a recorder has queued do not trigger or slow down collections (issue 7).
    for cls in (
        Event,
        EventSeries,
        EventSource,
        EventsV1Event,
        EventsV1EventSeries,
        ManagedFieldsEntry,
        ObjectMeta,
        ObjectReference,
        OwnerReference,
    ):
        assert cls.__struct_config__.gc is False, cls

"""Occurrence identity and time, for both styles of Event."""

from __future__ import annotations

from datetime import UTC, datetime

from kubevents.export import Occurrence, occurrence_count, occurrence_time
from kubevents.model import Event, EventSeries, MicroTime, ObjectMeta, Time

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def at(minute: int) -> datetime:
    return T0.replace(minute=minute)


def test_core_v1_style() -> None:
    event = Event(
        metadata=ObjectMeta(uid="u1", resource_version="9", creation_timestamp=Time.of(at(0))),
        count=7, first_timestamp=Time.of(at(1)), last_timestamp=Time.of(at(5)),
    )  # fmt: skip
    occurrence = Occurrence.of(event, b"{}", "prod")
    assert (occurrence.id, occurrence.count, occurrence.time) == ("u1:7", 7, at(5))
    assert (occurrence.cluster, occurrence.resource_version) == ("prod", "9")


def test_events_k8s_io_style_uses_the_series() -> None:
    event = Event(
        metadata=ObjectMeta(uid="u2"),
        event_time=MicroTime.of(at(1)),
        series=EventSeries(count=4, last_observed_time=MicroTime.of(at(9))),
    )
    assert occurrence_count(event) == 4
    assert occurrence_time(event) == at(9)
    # Before the series exists, the first occurrence is at eventTime.
    single = Event(metadata=ObjectMeta(uid="u3"), event_time=MicroTime.of(at(2)))
    assert (occurrence_count(single), occurrence_time(single)) == (1, at(2))


def test_fallbacks() -> None:
    # kopf-style events carry no count: the first occurrence.
    assert occurrence_count(Event(count=0)) == 1
    only_first = Event(first_timestamp=Time.of(at(3)))
    assert occurrence_time(only_first) == at(3)
    created = Event(metadata=ObjectMeta(creation_timestamp=Time.of(at(4))))
    assert occurrence_time(created) == at(4)
    # A legacy event with both stamps keeps lastTimestamp (the latest occurrence).
    both = Event(last_timestamp=Time.of(at(6)), event_time=MicroTime.of(at(1)))
    assert occurrence_time(both) == at(6)

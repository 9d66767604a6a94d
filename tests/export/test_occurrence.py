"""Occurrence identity and time, for both styles of Event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubevents.export import EventFields, Occurrence, TimeWindow, occurrence_count, occurrence_time
from kubevents.export._fields import FieldsMeta, FieldsSeries
from kubevents.model import Event, EventSeries, MicroTime, ObjectMeta, Time

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def fields(**kwargs: Any) -> EventFields:
    return EventFields.of(Event(**kwargs))


def at(minute: int) -> datetime:
    return T0.replace(minute=minute)


def test_core_v1_style() -> None:
    event = fields(
        metadata=ObjectMeta(uid="u1", resource_version="9", creation_timestamp=Time.of(at(0))),
        count=7,
        first_timestamp=Time.of(at(1)),
        last_timestamp=Time.of(at(5)),
    )
    occurrence = Occurrence.of(event, b"{}", "prod")
    assert (occurrence.id, occurrence.count, occurrence.time) == ("u1:7", 7, at(5))
    assert (occurrence.cluster, occurrence.resource_version) == ("prod", "9")


def test_events_k8s_io_style_uses_the_series() -> None:
    event = fields(
        metadata=ObjectMeta(uid="u2"),
        event_time=MicroTime.of(at(1)),
        series=EventSeries(count=4, last_observed_time=MicroTime.of(at(9))),
    )
    assert occurrence_count(event) == 4
    assert occurrence_time(event) == at(9)
    # Before the series exists, the first occurrence is at eventTime.
    single = fields(metadata=ObjectMeta(uid="u3"), event_time=MicroTime.of(at(2)))
    assert (occurrence_count(single), occurrence_time(single)) == (1, at(2))


def test_fallbacks() -> None:
    # kopf-style events carry no count: the first occurrence.
    assert occurrence_count(fields(count=0)) == 1
    only_first = fields(first_timestamp=Time.of(at(3)))
    assert occurrence_time(only_first) == at(3)
    created = fields(metadata=ObjectMeta(creation_timestamp=Time.of(at(4))))
    assert occurrence_time(created) == at(4)
    # A legacy event with both stamps keeps lastTimestamp (the latest occurrence).
    both = fields(last_timestamp=Time.of(at(6)), event_time=MicroTime.of(at(1)))
    assert occurrence_time(both) == at(6)


NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
WINDOW = TimeWindow(past=timedelta(days=30), future=timedelta(hours=1))


def dated(when: datetime, created: datetime | None) -> EventFields:
    return fields(
        metadata=ObjectMeta(
            uid="u", creation_timestamp=None if created is None else Time.of(created)
        ),
        last_timestamp=Time.of(when),
    )


@pytest.mark.parametrize(
    ("when", "created", "filed", "side"),
    [
        (NOW - timedelta(minutes=5), NOW, NOW - timedelta(minutes=5), None),
        (NOW - timedelta(days=29), None, NOW - timedelta(days=29), None),
        (NOW + timedelta(minutes=59), None, NOW + timedelta(minutes=59), None),
        # Out of the window: the creation time the API server set, when that is in it...
        (
            datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
            NOW - timedelta(hours=2),
            NOW - timedelta(hours=2),
            "future",
        ),
        (datetime(1, 1, 1, 0, 0, 1, tzinfo=UTC), NOW, NOW, "past"),
        # ... else the nearest edge of the window.
        (datetime(9999, 12, 31, tzinfo=UTC), None, NOW + timedelta(hours=1), "future"),
        (
            datetime(1, 1, 1, 0, 0, 1, tzinfo=UTC),
            datetime(1, 1, 1, 0, 0, 1, tzinfo=UTC),
            NOW - timedelta(days=30),
            "past",
        ),
        (NOW - timedelta(days=45), NOW - timedelta(days=40), NOW - timedelta(days=30), "past"),
    ],
)
def test_the_filing_time_stays_in_the_window(
    when: datetime, created: datetime | None, filed: datetime, side: str | None
) -> None:
    occurrence = Occurrence.of(dated(when, created), b"{}", "prod", WINDOW, NOW)
    assert occurrence.time == when  # what the documents show
    assert occurrence.filing_time == filed
    assert occurrence.clamped == side


def test_without_a_window_the_filing_time_is_the_own_time() -> None:
    old = dated(datetime(1, 1, 1, 0, 0, 1, tzinfo=UTC), None)
    occurrence = Occurrence.of(old, b"{}", "prod")
    assert occurrence.filing_time == occurrence.time and occurrence.clamped is None


def test_a_window_reaching_past_the_calendar_is_bounded_by_it() -> None:
    huge = TimeWindow(past=timedelta(days=36_500_00), future=timedelta(days=36_500_00))
    for when in (datetime(1, 1, 1, 0, 0, 1, tzinfo=UTC), datetime(9999, 12, 31, tzinfo=UTC)):
        assert Occurrence.of(dated(when, None), b"{}", "p", huge, NOW).filing_time == when


_STAMP = st.none() | st.integers(0, 59).map(at)


@settings(max_examples=300)
@given(
    st.integers(-1, 3),
    st.none() | st.tuples(st.integers(-1, 3), _STAMP),
    _STAMP,
    _STAMP,
    _STAMP,
    _STAMP,
)
def test_an_occurrence_has_the_count_and_time_its_event_shows(
    count: int,
    series: tuple[int, datetime | None] | None,
    first: datetime | None,
    last: datetime | None,
    event_time: datetime | None,
    created: datetime | None,
) -> None:
    event = EventFields(
        FieldsMeta(uid="u", creation_timestamp=created),
        count=count,
        first_timestamp=first,
        last_timestamp=last,
        event_time=event_time,
        series=None if series is None else FieldsSeries(*series),
    )
    occurrence = Occurrence.of(event, b"{}", "c")
    assert occurrence.count == occurrence_count(event)
    assert occurrence.time == occurrence_time(event)
    assert occurrence.id == f"u:{occurrence_count(event)}"

"""The model's JSON is the API's JSON: names, omitempty, nulls, times, Go escaping."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import msgspec
import pytest

from kubevents.model import (
    Event,
    EventSeries,
    EventSource,
    EventsV1Event,
    EventsV1EventSeries,
    MicroTime,
    ObjectMeta,
    ObjectReference,
    Time,
    go_json,
)

SERVER_EVENT = {
    "kind": "Event",
    "apiVersion": "v1",
    "metadata": {
        "name": "web-0.17f3b2c4d5e6f708",
        "namespace": "shop",
        "uid": "9f1c",
        "resourceVersion": "4711",
        "creationTimestamp": "2024-03-01T10:00:00Z",
        "annotations": {"a": "1", "z": "2"},
        "managedFields": [
            {
                "manager": "kubelet",
                "operation": "Update",
                "apiVersion": "v1",
                "time": "2024-03-01T10:00:00Z",
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:count": {}, "f:type": {}, "f:firstTimestamp": {}},
            }
        ],
    },
    "involvedObject": {
        "kind": "Pod",
        "namespace": "shop",
        "name": "web-0",
        "uid": "p-1",
        "apiVersion": "v1",
        "resourceVersion": "12",
        "fieldPath": "spec.containers{web}",
    },
    "reason": "BackOff",
    "message": "Back-off restarting failed container",
    "source": {"component": "kubelet", "host": "node-1"},
    "firstTimestamp": "2024-03-01T10:00:00Z",
    "lastTimestamp": "2024-03-01T10:05:00Z",
    "count": 7,
    "type": "Warning",
    "eventTime": None,
    "reportingComponent": "kubelet",
    "reportingInstance": "node-1",
}


def test_core_event_round_trips_dict_and_json() -> None:
    event = Event.from_dict(SERVER_EVENT)
    assert event.involved_object.field_path == "spec.containers{web}"
    assert event.reporting_controller == "kubelet"
    assert event.count == 7
    assert event.first_timestamp == datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
    assert event.to_dict() == SERVER_EVENT
    # Key order is Go's struct order, so the bytes match what the server wrote.
    assert event.to_json() == json.dumps(SERVER_EVENT, separators=(",", ":")).encode()
    assert Event.from_json(event.to_json()) == event


def test_empty_core_event_serialises_like_go() -> None:
    # Struct-typed fields and the two reporting strings have no omitempty in Go.
    assert Event().to_dict() == {
        "metadata": {},
        "involvedObject": {},
        "source": {},
        "firstTimestamp": None,
        "lastTimestamp": None,
        "eventTime": None,
        "reportingComponent": "",
        "reportingInstance": "",
    }


def test_empty_events_v1_event_serialises_like_go() -> None:
    assert EventsV1Event().to_dict() == {
        "metadata": {},
        "eventTime": None,
        "regarding": {},
        "deprecatedSource": {},
        "deprecatedFirstTimestamp": None,
        "deprecatedLastTimestamp": None,
    }
    # events/v1 EventSeries has no omitempty at all; core/v1's count has.
    assert EventsV1EventSeries().to_dict() == {"count": 0, "lastObservedTime": None}
    assert EventSeries().to_dict() == {"lastObservedTime": None}


def test_time_truncates_and_micro_time_has_six_digits() -> None:
    instant = datetime(2024, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
    event = Event(
        first_timestamp=Time.of(instant),
        event_time=MicroTime.of(instant),
        series=EventSeries(
            count=2, last_observed_time=MicroTime.of(instant.replace(microsecond=0))
        ),
    )
    wire = event.to_dict()
    assert wire["firstTimestamp"] == "2024-01-02T03:04:05Z"
    assert wire["eventTime"] == "2024-01-02T03:04:05.678901Z"
    assert wire["series"] == {"count": 2, "lastObservedTime": "2024-01-02T03:04:05.000000Z"}


def test_times_are_normalised_to_utc() -> None:
    plus_two = timezone(timedelta(hours=2))
    assert Time.of(datetime(2024, 1, 1, 2, 0, tzinfo=plus_two)).wire() == "2024-01-01T00:00:00Z"
    parsed = Event.from_dict({"firstTimestamp": "2024-01-01T02:00:00+02:00"}).first_timestamp
    assert parsed is not None and parsed.tzinfo is UTC and parsed.hour == 0
    # Go reads any fraction length (nanoseconds too); MicroTime keeps microseconds.
    micro = EventsV1Event.from_dict({"eventTime": "2024-01-01T00:00:00.123456789Z"}).event_time
    assert micro is not None and micro.microsecond in (123456, 123457)


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Time.of(datetime(2024, 1, 1))  # noqa: DTZ001 - the point of the test


def test_bad_times_fail_decoding() -> None:
    with pytest.raises((msgspec.ValidationError, ValueError)):
        Event.from_dict({"firstTimestamp": "yesterday"})


@pytest.mark.parametrize(
    "value", ["9999-12-31T23:59:59-01:00", "0001-01-01T00:59:59+01:00", "0001-01-01T00:00:00+00:01"]
)
def test_times_outside_years_1_to_9999_in_utc_are_invalid(value: str) -> None:
    # Valid RFC 3339, but not representable in UTC: the object is malformed, not a crash.
    for data in (
        b'{"lastTimestamp":"%s"}' % value.encode(),
        b'{"eventTime":"%s"}' % value.encode(),
    ):
        with pytest.raises(msgspec.ValidationError, match="out of range"):
            Event.from_json(data)
    with pytest.raises(ValueError, match="out of range"):
        Time.parse(value)
    aware = datetime(9999, 12, 31, 23, 0, tzinfo=timezone(timedelta(hours=-2)))
    with pytest.raises(msgspec.ValidationError, match="out of range"):
        Event.from_dict({"lastTimestamp": aware})
    # The extremes themselves are fine.
    assert Time.parse("9999-12-31T23:59:59Z").year == 9999
    assert Time.parse("0001-01-01T00:00:01Z").year == 1


@pytest.mark.parametrize(
    ("field", "bits"),
    [
        ("count", 32),
        ("series.count", 32),
        ("metadata.generation", 64),
        ("metadata.deletionGracePeriodSeconds", 64),
    ],
)
def test_integers_have_gos_sizes(field: str, bits: int) -> None:
    # Go could not decode a larger value either, and a count must fit a SQLite INTEGER.
    def event(value: int) -> bytes:
        *outer, name = field.split(".")
        data: dict[str, object] = {name: value}
        for key in reversed(outer):
            data = {key: data}
        return json.dumps(data).encode()

    limit = 2 ** (bits - 1)
    for ok in (limit - 1, -limit):
        Event.from_json(event(ok))
    for bad in (limit, -limit - 1, 2**200):
        with pytest.raises(msgspec.ValidationError, match="Expected `int`"):
            Event.from_json(event(bad))
    deprecated = EventsV1Event.from_json(b'{"deprecatedCount":2147483647}')
    assert deprecated.deprecated_count == 2**31 - 1
    with pytest.raises(msgspec.ValidationError):
        EventsV1Event.from_json(b'{"deprecatedCount":2147483648}')


def test_go_escaping_of_html_characters() -> None:
    event = Event(message="a<b>&c\u2028", metadata=ObjectMeta(annotations={"k": "<"}))
    data = event.to_json()
    assert b"a\\u003cb\\u003e\\u0026c\\u2028" in data
    assert b'"annotations":{"k":"\\u003c"}' in data
    assert json.loads(data)["message"] == "a<b>&c\u2028"


def test_maps_are_sorted_like_go() -> None:
    meta = ObjectMeta(labels={"b": "2", "a": "1", "app.kubernetes.io/name": "x"})
    assert go_json(meta) == b'{"labels":{"a":"1","app.kubernetes.io/name":"x","b":"2"}}'


def test_wire_names() -> None:
    ref = ObjectReference(api_version="apps/v1", resource_version="1", field_path="spec")
    assert ref.to_dict() == {"apiVersion": "apps/v1", "resourceVersion": "1", "fieldPath": "spec"}
    assert EventSource(component="c", host="h").to_dict() == {"component": "c", "host": "h"}
    v1 = EventsV1Event(reporting_controller="x/y", deprecated_count=3)
    assert v1.to_dict()["reportingController"] == "x/y"
    assert v1.to_dict()["deprecatedCount"] == 3


def test_go_zero_time_is_null() -> None:
    event = Event.from_dict({"lastTimestamp": "0001-01-01T00:00:00Z"})
    assert event.to_dict()["lastTimestamp"] is None

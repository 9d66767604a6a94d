"""EventFields: what the exporter reads of an Event, decoded as the model decodes it."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest

from kubevents.export import EventFields
from kubevents.model import DECODE_ERRORS, Event

from .factories import make_event


def _with(raw: bytes, **fields: object) -> bytes:
    obj = msgspec.json.decode(raw)
    obj.update(fields)
    return msgspec.json.encode(obj)


def test_the_fields_of_an_event_are_the_models() -> None:
    for event in (make_event(count=3), make_event(series=True, count=4)):
        raw = event.to_json()
        fields = EventFields.from_json(raw)
        assert fields == EventFields.of(Event.from_json(raw))
        assert fields.metadata.uid == event.metadata.uid and fields.count == event.count


def test_times_with_an_offset_are_kept_in_utc() -> None:
    raw = _with(make_event().to_json(), lastTimestamp="2024-05-01T14:00:00+02:00")
    fields = EventFields.from_json(raw)
    assert fields.last_timestamp == datetime(2024, 5, 1, 12, tzinfo=UTC)
    assert fields.last_timestamp is not None and fields.last_timestamp.tzinfo is UTC
    assert fields.last_timestamp == Event.from_json(raw).last_timestamp


@pytest.mark.parametrize(
    "value",
    [
        "2024-05-01T12:00:00",  # no zone
        "9999-12-31T23:59:59-01:00",  # after year 9999 in UTC
        "yesterday",
        17,
    ],
)
def test_a_time_the_model_rejects_is_rejected(value: object) -> None:
    raw = _with(make_event().to_json(), firstTimestamp=value)
    with pytest.raises(DECODE_ERRORS):
        Event.from_json(raw)
    with pytest.raises(DECODE_ERRORS):
        EventFields.from_json(raw)


def test_a_count_beyond_int32_is_rejected_like_the_model() -> None:
    raw = _with(make_event().to_json(), count=2**31)
    with pytest.raises(DECODE_ERRORS):
        Event.from_json(raw)
    with pytest.raises(DECODE_ERRORS):
        EventFields.from_json(raw)


def test_what_the_exporter_does_not_read_is_not_checked() -> None:
    # The Event travels as its exact bytes: a field the exporter never reads cannot make it
    # lose the occurrence (the model, which reads every field, rejects this one).
    raw = _with(make_event().to_json(), kind=5)
    with pytest.raises(DECODE_ERRORS):
        Event.from_json(raw)
    assert EventFields.from_json(raw).metadata.uid

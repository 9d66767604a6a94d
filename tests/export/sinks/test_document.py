"""The export document: schema, key order, times, and the server's Event embedded byte for byte."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from msgspec.structs import replace

from kubevents.export import EventFields
from kubevents.export._document import (
    encode_array,
    encode_document,
    encode_lines,
    format_time,
    occurrence_document,
)
from kubevents.model import Event, ObjectMeta, ObjectReference

from ._factory import make_batch, make_occurrence

KEYS = [
    "id", "uid", "count", "time", "cluster", "namespace", "name", "involvedObject", "type",
    "reason", "message", "source", "reportingController", "reportingInstance", "action",
    "firstTimestamp", "lastTimestamp", "eventTime", "resourceVersion", "event",
]  # fmt: skip
SERIES_KEYS = [*KEYS[:18], "series", *KEYS[18:]]


def decode(data: bytes) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(data)
    return doc


def test_core_event_document_schema_and_key_order() -> None:
    occ = make_occurrence("u1", 3)
    doc = decode(encode_document(occ))
    assert list(doc) == KEYS
    assert doc["id"] == "u1:3" and doc["uid"] == "u1" and doc["count"] == 3
    assert doc["time"] == "2024-05-01T12:00:02.000000Z"  # lastTimestamp
    assert doc["cluster"] == "test-cluster"
    assert (doc["namespace"], doc["name"]) == ("default", "app.u1")
    assert doc["involvedObject"] == {
        "kind": "Pod", "namespace": "default", "name": "app", "uid": "pod-uid",
        "apiVersion": "v1", "fieldPath": "spec.containers{app}",
    }  # fmt: skip
    assert list(doc["involvedObject"]) == [
        "kind", "namespace", "name", "uid", "apiVersion", "fieldPath",
    ]  # fmt: skip
    assert (doc["type"], doc["reason"], doc["message"]) == (
        "Normal",
        "Started",
        "Started container app",
    )
    assert doc["source"] == {"component": "kubelet", "host": "node-1"}
    assert doc["reportingController"] == "" and doc["reportingInstance"] == ""
    assert doc["action"] == ""
    assert doc["firstTimestamp"] == "2024-05-01T12:00:00.000000Z"
    assert doc["lastTimestamp"] == "2024-05-01T12:00:02.000000Z"
    assert doc["eventTime"] is None
    assert doc["resourceVersion"] == "103"
    assert doc["event"] == json.loads(occ.raw)


def test_series_event_document() -> None:
    occ = make_occurrence("s1", 4, series=True)
    doc = decode(encode_document(occ))
    assert list(doc) == SERIES_KEYS
    assert doc["id"] == "s1:4" and doc["count"] == 4
    assert doc["series"] == {"count": 4, "lastObservedTime": "2024-05-01T12:00:04.000250Z"}
    assert doc["time"] == doc["series"]["lastObservedTime"]
    assert doc["eventTime"] == "2024-05-01T12:00:00.123456Z"
    assert doc["firstTimestamp"] is None and doc["lastTimestamp"] is None
    assert doc["source"] == {"component": "", "host": ""}
    assert (doc["reportingController"], doc["reportingInstance"], doc["action"]) == (
        "kubelet",
        "node-1",
        "Pulling",
    )


def test_empty_involved_object_fields_are_left_out() -> None:
    occ = make_occurrence()
    meta = occ.event.metadata
    bare = Event(
        metadata=ObjectMeta(name=meta.name, namespace=meta.namespace, uid=meta.uid),
        involved_object=ObjectReference(kind="Node", name="node-1"),
        count=1,
    )
    doc = decode(encode_lines([replace(occ, event=EventFields.of(bare), raw=bare.to_json())]))
    assert doc["involvedObject"] == {"kind": "Node", "name": "node-1"}
    assert doc["firstTimestamp"] is None and "series" not in doc


def test_event_is_embedded_byte_exact() -> None:
    # Key order, number spelling and fields the model does not know must all survive.
    occ = make_occurrence()
    raw = occ.raw[:-1] + b',"zExtra":{"b":1.50,"a":[true,null]},"note":"\\u003cx\\u003e"}'
    odd = replace(occ, raw=raw)
    for encoded in (encode_document(odd), encode_lines([odd]), encode_array([odd])):
        assert b'"event":' + raw + b"}" in encoded
    assert encode_document(odd).endswith(b'"event":' + raw + b"}")


def test_a_raw_with_line_breaks_still_makes_one_line() -> None:
    occ = make_occurrence()
    pretty = json.dumps(json.loads(occ.raw), indent=2).encode() + b"\n"
    lines = encode_lines([replace(occ, raw=pretty)]).splitlines()
    assert len(lines) == 1
    assert decode(lines[0])["event"] == json.loads(occ.raw)


def test_a_raw_with_line_breaks_is_never_parsed_again() -> None:
    # The decoder accepted this nesting on a shallower stack than the sink's: parsing it
    # again in the sink could fail on the recursion limit, and fail every retry of the batch.
    nested = b"[" * 5000 + b"]" * 5000
    occ = replace(make_occurrence(), raw=b'{"a":\r\n' + nested + b"}\n")
    for encoded in (encode_lines([occ]), encode_array([occ]), encode_document(occ)):
        assert b'"event":{"a":  ' + nested + b"}}" in encoded
        assert b"\n" not in encoded.rstrip(b"\n")


def test_time_formatting() -> None:
    assert format_time(None) is None
    assert (
        format_time(datetime(2024, 1, 2, 3, 4, 5, 6, tzinfo=UTC)) == "2024-01-02T03:04:05.000006Z"
    )
    plus_two = timezone(timedelta(hours=2))
    assert format_time(datetime(2024, 1, 1, 1, 0, tzinfo=plus_two)) == "2023-12-31T23:00:00.000000Z"
    occ = make_occurrence()
    shifted = replace(occ, time=datetime(2024, 5, 1, 14, 0, 0, 7, tzinfo=plus_two))
    assert occurrence_document(shifted).time == "2024-05-01T12:00:00.000007Z"


@given(
    st.datetimes(
        min_value=datetime(2, 1, 1),  # noqa: DTZ001 - hypothesis bounds are naive
        max_value=datetime(9998, 12, 31),  # noqa: DTZ001
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=-7, minutes=-30))]),
    )
)
def test_time_formatting_of_any_instant(value: datetime) -> None:
    utc = value.astimezone(UTC)
    expected = f"{utc.year:04d}-{utc:%m-%dT%H:%M:%S.%f}Z"
    # Twice: the second answer for a UTC value comes from the cache of formatted instants.
    assert format_time(value) == format_time(value) == expected


def test_lines_and_array_encoders_agree() -> None:
    batch = make_batch(3)
    lines = encode_lines(batch)
    assert lines.endswith(b"\n") and lines.count(b"\n") == 3
    from_lines = [decode(line) for line in lines.splitlines()]
    assert json.loads(encode_array(batch)) == from_lines
    assert [d["id"] for d in from_lines] == ["u0:1", "u1:1", "u2:1"]
    assert encode_lines([]) == b"" and encode_array([]) == b"[]"


@given(st.text(max_size=200))
def test_any_message_round_trips_on_one_line(message: str) -> None:
    occ = make_occurrence(message=message)
    lines = encode_lines([occ, occ]).split(b"\n")
    assert len(lines) == 3 and lines[2] == b""
    doc = decode(lines[0])
    assert doc["message"] == message
    assert doc["event"].get("message", "") == message  # omitempty on the wire

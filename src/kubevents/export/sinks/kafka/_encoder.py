"""An occurrence as a Kafka record: key, value and headers.

- key: the involved object's uid (the Event's own uid when it has none), so that the
  occurrences of one object land in one partition, where Kafka keeps their order;
- value: the export document as JSON, or (``format: cloudevents``) a CloudEvents 1.0
  structured-mode envelope whose ``data`` is that document;
- headers: ``id`` (the occurrence id, the consumers' dedup key), ``type``, ``reason``,
  ``namespace``, and ``content-type`` in CloudEvents mode.
"""

from __future__ import annotations

from typing import Literal

import msgspec

from kubevents.export._document import encode_document, format_time
from kubevents.export._occurrence import Occurrence

__all__ = ["CLOUDEVENTS_TYPE", "KafkaRecord", "RecordFormat", "encode_record"]

RecordFormat = Literal["json", "cloudevents"]

#: The CloudEvents ``type`` of every occurrence.
CLOUDEVENTS_TYPE = "io.kubevents.occurrence.v1"
_CLOUDEVENTS_CONTENT_TYPE = b"application/cloudevents+json; charset=UTF-8"


class _CloudEvent(msgspec.Struct, gc=False):
    """CloudEvents 1.0, JSON format, structured mode (the attributes beside ``data``)."""

    specversion: str
    id: str
    source: str
    type: str
    subject: str
    time: str | None
    datacontenttype: str
    data: msgspec.Raw


class KafkaRecord(msgspec.Struct, frozen=True, gc=False):
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]


_encode = msgspec.json.Encoder().encode


def _subject(occ: Occurrence) -> str:
    obj = occ.event.involved_object
    return "/".join(part for part in (obj.namespace, obj.kind, obj.name) if part)


def encode_record(occ: Occurrence, record_format: RecordFormat = "json") -> KafkaRecord:
    event = occ.event
    key = (event.involved_object.uid or occ.uid).encode()
    headers = [
        ("id", occ.id.encode()),
        ("type", event.type.encode()),
        ("reason", event.reason.encode()),
        ("namespace", event.metadata.namespace.encode()),
    ]
    document = encode_document(occ)
    if record_format == "json":
        return KafkaRecord(key, document, headers)
    envelope = _CloudEvent(
        specversion="1.0",
        id=occ.id,
        source=f"kubevents/{occ.cluster}",
        type=CLOUDEVENTS_TYPE,
        subject=_subject(occ),
        time=format_time(occ.time),
        datacontenttype="application/json",
        data=msgspec.Raw(document),
    )
    headers.append(("content-type", _CLOUDEVENTS_CONTENT_TYPE))
    return KafkaRecord(key, _encode(envelope), headers)

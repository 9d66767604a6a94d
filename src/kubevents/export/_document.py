"""The export document: the one JSON shape every line and HTTP sink writes for an occurrence.

Key order is fixed (a msgspec Struct encodes fields in declaration order) and documented in
``docs/sinks/jsonl-and-webhook.md``::

    id uid count time cluster namespace name involvedObject type reason message source
    reportingController reportingInstance action firstTimestamp lastTimestamp eventTime
    [series] resourceVersion event

Every key is always present except ``series`` (only for events that have one) and the empty
fields of ``involvedObject``. All top-level times share one format, RFC 3339 in UTC with exactly
six fractional digits and ``Z`` (``2024-05-01T12:00:00.000000Z``), so a consumer needs a single
date format; unset times are ``null``. ``event`` is the server's Event JSON embedded byte for
byte, so nothing the document flattens is ever lost or reinterpreted.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import msgspec

from kubevents.export._occurrence import Occurrence

__all__ = [
    "DocumentInvolvedObject",
    "DocumentSeries",
    "DocumentSource",
    "ExportDocument",
    "encode_array",
    "encode_document",
    "encode_lines",
    "format_time",
    "occurrence_document",
]


class DocumentInvolvedObject(msgspec.Struct, omit_defaults=True, gc=False):
    """The Event's ``involvedObject``; empty fields are left out (cluster-scoped: no namespace)."""

    kind: str = ""
    namespace: str = ""
    name: str = ""
    uid: str = ""
    apiVersion: str = ""  # noqa: N815 - the wire name is the field name
    fieldPath: str = ""  # noqa: N815


class DocumentSource(msgspec.Struct, gc=False):
    component: str
    host: str


class DocumentSeries(msgspec.Struct, gc=False):
    count: int
    lastObservedTime: str | None  # noqa: N815


# The camelCase attribute names are the JSON keys: renaming at encode time would cost a lookup
# per field per document on the hot path, and the document is read as JSON, never as Python.
class ExportDocument(msgspec.Struct, kw_only=True, omit_defaults=True, gc=False):
    """One occurrence as exported. Build it with ``occurrence_document``."""

    id: str
    uid: str
    count: int
    time: str
    cluster: str
    namespace: str
    name: str
    involvedObject: DocumentInvolvedObject  # noqa: N815
    type: str
    reason: str
    message: str
    source: DocumentSource
    reportingController: str  # noqa: N815
    reportingInstance: str  # noqa: N815
    action: str
    firstTimestamp: str | None  # noqa: N815
    lastTimestamp: str | None  # noqa: N815
    eventTime: str | None  # noqa: N815
    # Only ``series`` has a default, so it is the only key omit_defaults can ever leave out.
    series: DocumentSeries | None = None
    resourceVersion: str  # noqa: N815
    event: msgspec.Raw


def format_time(value: datetime | None) -> str | None:
    """RFC 3339 in UTC with microseconds and ``Z``; ``None`` stays ``None``."""
    if value is None:
        return None
    if value.tzinfo is not UTC:
        value = value.astimezone(UTC)
    return (
        f"{value.year:04d}-{value.month:02d}-{value.day:02d}T{value.hour:02d}:{value.minute:02d}"
        f":{value.second:02d}.{value.microsecond:06d}Z"
    )


def _embedded(raw: bytes) -> msgspec.Raw:
    # The API server writes compact JSON, embedded untouched. A line break (only possible as
    # whitespace between tokens: JSON strings escape them) would split a JSON Lines record, so
    # such input loses its insignificant whitespace and nothing else.
    if b"\n" in raw or b"\r" in raw:
        return msgspec.Raw(msgspec.json.format(raw.strip(), indent=0))
    return msgspec.Raw(raw)


def occurrence_document(occ: Occurrence) -> ExportDocument:
    """The export document of ``occ``."""
    event = occ.event
    ref = event.involved_object
    series = event.series
    return ExportDocument(
        id=occ.id,
        uid=occ.uid,
        count=occ.count,
        time=format_time(occ.time) or "",
        cluster=occ.cluster,
        namespace=event.metadata.namespace,
        name=event.metadata.name,
        involvedObject=DocumentInvolvedObject(
            kind=ref.kind,
            namespace=ref.namespace,
            name=ref.name,
            uid=ref.uid,
            apiVersion=ref.api_version,
            fieldPath=ref.field_path,
        ),
        type=event.type,
        reason=event.reason,
        message=event.message,
        source=DocumentSource(component=event.source.component, host=event.source.host),
        reportingController=event.reporting_controller,
        reportingInstance=event.reporting_instance,
        action=event.action,
        firstTimestamp=format_time(event.first_timestamp),
        lastTimestamp=format_time(event.last_timestamp),
        eventTime=format_time(event.event_time),
        series=(
            None
            if series is None
            else DocumentSeries(series.count, format_time(series.last_observed_time))
        ),
        resourceVersion=occ.resource_version,
        event=_embedded(occ.raw),
    )


_ENCODER = msgspec.json.Encoder()


def encode_document(occ: Occurrence) -> bytes:
    """One document as compact JSON (no trailing newline)."""
    return _ENCODER.encode(occurrence_document(occ))


def encode_lines(occurrences: Iterable[Occurrence]) -> bytes:
    """JSON Lines: one document per line, each line ending in ``\\n``."""
    return _ENCODER.encode_lines([occurrence_document(o) for o in occurrences])


def encode_array(occurrences: Iterable[Occurrence]) -> bytes:
    """A JSON array of documents."""
    return _ENCODER.encode([occurrence_document(o) for o in occurrences])

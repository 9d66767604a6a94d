"""The export document: the one JSON shape every line and HTTP sink writes for an occurrence.

Key order is fixed (a msgspec Struct encodes fields in declaration order) and documented in
``docs/sinks/jsonl-and-webhook.md``::

    id uid count time cluster namespace name involvedObject type reason message source
    reportingController reportingInstance action firstTimestamp lastTimestamp eventTime
    [series] [enrichment] resourceVersion event

Every key is always present except ``series`` (only for events that have one), ``enrichment``
(only when the exporter enriches: ``status``, a miss's ``reason``, ``workload`` ``{kind,
name}``, the selected ``labels`` and ``annotations``) and the empty fields of
``involvedObject``. All top-level times share one format, RFC 3339 in UTC with exactly
six fractional digits and ``Z`` (``2024-05-01T12:00:00.000000Z``), so a consumer needs a single
date format; unset times are ``null``. ``event`` is the server's Event JSON embedded byte for
byte, so nothing the document flattens is ever lost or reinterpreted.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import msgspec

from kubevents.export._enrichment import Enrichment
from kubevents.export._fields import DocumentInvolvedObject, DocumentSource, FieldsSeries
from kubevents.export._occurrence import Occurrence

__all__ = [
    "DocumentInvolvedObject",
    "DocumentSeries",
    "DocumentSource",
    "ExportDocument",
    "document_series",
    "document_times",
    "embedded",
    "encode_array",
    "encode_document",
    "encode_lines",
    "format_time",
    "occurrence_document",
]


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
    # Only these two have defaults, so they are the only keys omit_defaults can leave out.
    series: DocumentSeries | None = None
    enrichment: Enrichment | None = None
    resourceVersion: str  # noqa: N815
    event: msgspec.Raw


# Formatted UTC times by instant. Every sink formats the times of every occurrence, an
# Event's first and last times recur with each count bump, and a stream carries the same
# seconds over and over (the model's decoder already shares one datetime per wire string):
# a lookup costs a tenth of formatting. Bounded by clearing, like the decoder's cache.
_FORMAT_CACHE_MAX = 8192
_formatted: dict[datetime, str] = {}


def format_time(value: datetime | None) -> str | None:
    """RFC 3339 in UTC with microseconds and ``Z``; ``None`` stays ``None``."""
    if value is None:
        return None
    if value.tzinfo is not UTC:
        # Not cached: only UTC values are known to format the same whenever they are seen (a
        # naive one is read in the local zone).
        return _format_utc(value.astimezone(UTC))
    text = _formatted.get(value)
    if text is None:
        if len(_formatted) >= _FORMAT_CACHE_MAX:
            _formatted.clear()
        text = _formatted[value] = _format_utc(value)
    return text


_TWO_DIGITS = tuple(f"{n:02d}" for n in range(100))


def _format_utc(value: datetime) -> str:
    # Two-digit fields from a table, and whole seconds (every metav1.Time) without formatting
    # the zero fraction: half the time of one %-format of all seven fields.
    two = _TWO_DIGITS
    micro = value.microsecond
    return (
        f"{value.year:04d}-{two[value.month]}-{two[value.day]}T{two[value.hour]}:"
        f"{two[value.minute]}:{two[value.second]}.{f'{micro:06d}' if micro else '000000'}Z"
    )


def document_times(occ: Occurrence) -> tuple[str, str | None, str | None, str | None]:
    """``time``, ``firstTimestamp``, ``lastTimestamp`` and ``eventTime`` of ``occ``, formatted.

    The occurrence time is one of the Event's times, and first and last are often the same
    instant: each distinct instant is formatted once.
    """
    event = occ.event
    first, last, at = event.first_timestamp, event.last_timestamp, event.event_time
    first_text = format_time(first)
    last_text = first_text if last == first else format_time(last)
    at_text = format_time(at)
    when = occ.time
    if when is last:
        time_text = last_text
    elif when is at:
        time_text = at_text
    elif when is first:
        time_text = first_text
    else:
        time_text = format_time(when)
    return time_text or "", first_text, last_text, at_text


def embedded(raw: bytes) -> msgspec.Raw:
    # The API server writes compact JSON, embedded untouched. A line break (only possible as
    # whitespace between tokens: JSON strings escape them) would split a JSON Lines record, so
    # it becomes a space, which changes nothing else. Bytes, not a JSON re-format: a parser
    # would recurse once per nesting level, and the nesting is whatever the input chose.
    # Byte values, not one-byte strings: a memchr each instead of a substring search.
    if 10 in raw or 13 in raw:  # \n, \r
        return msgspec.Raw(raw.strip().replace(b"\r", b" ").replace(b"\n", b" "))
    return msgspec.Raw(raw)


def occurrence_document(occ: Occurrence) -> ExportDocument:
    """The export document of ``occ``."""
    event = occ.event
    series = event.series
    time_text, first_text, last_text, at_text = document_times(occ)
    return ExportDocument(
        id=occ.id,
        uid=occ.uid,
        count=occ.count,
        time=time_text,
        cluster=occ.cluster,
        namespace=event.metadata.namespace,
        name=event.metadata.name,
        involvedObject=event.involved_object,
        type=event.type,
        reason=event.reason,
        message=event.message,
        source=event.source,
        reportingController=event.reporting_controller,
        reportingInstance=event.reporting_instance,
        action=event.action,
        firstTimestamp=first_text,
        lastTimestamp=last_text,
        eventTime=at_text,
        series=document_series(series, occ.time, time_text),
        enrichment=occ.enrichment,
        resourceVersion=occ.resource_version,
        event=embedded(occ.raw),
    )


def document_series(
    series: FieldsSeries | None, when: datetime, time_text: str
) -> DocumentSeries | None:
    if series is None:
        return None
    observed = series.last_observed_time
    text = time_text if observed is when else format_time(observed)
    return DocumentSeries(series.count, text)


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

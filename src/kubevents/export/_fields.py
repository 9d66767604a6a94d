"""The fields of a core/v1 Event that the exporter reads, decoded straight from the server's JSON.

The exporter ships each Event as the server's exact bytes (``Occurrence.raw``) and reads only a
few of its fields: identity, times, count and series, the text, the involved objects, labels
and annotations. ``EventFields`` decodes just those, with the model's wire names and checks,
and skips the rest unread (``managedFields``, above all, is most of an Event's bytes and was
most of its decoding time: a struct and a time per entry). Times are decoded by msgspec itself
rather than through the model's ``Time``/``MicroTime`` hook: the exporter never re-encodes the
Event, so it needs the instant, not the wire type.

The attribute names are those of ``kubevents.model.Event``, so code reading an ``Event`` reads
an ``EventFields`` unchanged; ``EventFields.of(event)`` gives the fields of a model ``Event``.
What one accepts the other accepts, for every field ``EventFields`` has: the same types, the
same ``Int32`` bounds, times that must carry a zone and are kept in UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import msgspec

from kubevents.model import Event, Int32, ObjectReference

__all__ = [
    "DocumentInvolvedObject",
    "DocumentSource",
    "EventFields",
    "FieldsMeta",
    "FieldsSeries",
    "event_fields_decoder",
]

# An RFC 3339 time with a zone, as the model's times require; any offset, normalised to UTC
# after decoding (``_utc``).
_Time = Annotated[datetime, msgspec.Meta(tz=True)]


def _utc(value: datetime | None) -> datetime | None:
    if value is None or value.tzinfo is UTC:
        return value
    try:
        return value.astimezone(UTC)
    except OverflowError:
        # As the model: an instant outside years 1-9999 in UTC is not a time Python can hold.
        raise ValueError(f"time out of range in UTC: {value.isoformat()}") from None


class DocumentInvolvedObject(msgspec.Struct, rename="camel", omit_defaults=True, gc=False):
    """An Event's ``involvedObject`` (or ``related``), as read and as every document shows it.

    Empty fields are left out of documents (cluster-scoped: no namespace); the reference's
    ``resourceVersion`` is neither read nor shown. Decoded in this shape so that documents
    embed it as it is, without a copy per occurrence.
    """

    kind: str = ""
    namespace: str = ""
    name: str = ""
    uid: str = ""
    api_version: str = ""
    field_path: str = ""


class DocumentSource(msgspec.Struct, gc=False):
    """An Event's ``source``: both keys always present in documents, as in the API's JSON."""

    component: str = ""
    host: str = ""


class FieldsMeta(msgspec.Struct, rename="camel", gc=False):
    """The Event's ``metadata``: identity, creation time, labels and annotations."""

    name: str = ""
    namespace: str = ""
    uid: str = ""
    resource_version: str = ""
    creation_timestamp: _Time | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None
    # Kept as the exact bytes (a view of the Event's JSON, no copy), never decoded: the store
    # cuts it out of the JSON, and knowing it here spares a second pass over the Event. The
    # view holds the buffer it was decoded from; every reader decodes one Event's own bytes
    # (the occurrence's ``raw``), never a whole LIST page, so it holds nothing more. Empty
    # when absent, and when the fields did not come from JSON (``EventFields.of``).
    managed_fields: msgspec.Raw = msgspec.Raw()


class FieldsSeries(msgspec.Struct, rename="camel", gc=False):
    """The Event's ``series``: how often and when last an events.k8s.io-style event recurred."""

    count: Int32 = 0
    last_observed_time: _Time | None = None


class EventFields(msgspec.Struct, rename="camel", gc=False):
    """What the exporter reads of a core/v1 Event (attribute names as ``model.Event``)."""

    metadata: FieldsMeta = msgspec.field(default_factory=FieldsMeta)
    involved_object: DocumentInvolvedObject = msgspec.field(default_factory=DocumentInvolvedObject)
    reason: str = ""
    message: str = ""
    source: DocumentSource = msgspec.field(default_factory=DocumentSource)
    first_timestamp: _Time | None = None
    last_timestamp: _Time | None = None
    count: Int32 = 0
    type: str = ""
    event_time: _Time | None = None
    series: FieldsSeries | None = None
    action: str = ""
    related: DocumentInvolvedObject | None = None
    reporting_controller: str = msgspec.field(default="", name="reportingComponent")
    reporting_instance: str = ""

    def __post_init__(self) -> None:
        # One call per Event; the common case (every time already in UTC) is five identity
        # checks. A ValueError here is a decode error of the whole object.
        meta, series = self.metadata, self.series
        if meta.creation_timestamp is not None and meta.creation_timestamp.tzinfo is not UTC:
            meta.creation_timestamp = _utc(meta.creation_timestamp)
        if self.first_timestamp is not None and self.first_timestamp.tzinfo is not UTC:
            self.first_timestamp = _utc(self.first_timestamp)
        if self.last_timestamp is not None and self.last_timestamp.tzinfo is not UTC:
            self.last_timestamp = _utc(self.last_timestamp)
        if self.event_time is not None and self.event_time.tzinfo is not UTC:
            self.event_time = _utc(self.event_time)
        if (
            series is not None
            and series.last_observed_time is not None
            and series.last_observed_time.tzinfo is not UTC
        ):
            series.last_observed_time = _utc(series.last_observed_time)

    @classmethod
    def of(cls, event: Event) -> EventFields:
        """The fields of a model ``Event``, as they are in memory (fractions of seconds too)."""
        meta, series = event.metadata, event.series
        return cls(
            FieldsMeta(
                meta.name, meta.namespace, meta.uid, meta.resource_version,
                meta.creation_timestamp, meta.labels, meta.annotations,
            ),
            _reference(event.involved_object), event.reason, event.message,
            DocumentSource(event.source.component, event.source.host),
            event.first_timestamp, event.last_timestamp, event.count, event.type,
            event.event_time,
            None if series is None else FieldsSeries(series.count, series.last_observed_time),
            event.action, None if event.related is None else _reference(event.related),
            event.reporting_controller, event.reporting_instance,
        )  # fmt: skip

    @classmethod
    def from_json(cls, data: bytes | str) -> EventFields:
        """Decode the fields from an Event's JSON; raises what the model's decoders raise."""
        return _DECODER.decode(data)


def _reference(ref: ObjectReference) -> DocumentInvolvedObject:
    return DocumentInvolvedObject(
        ref.kind, ref.namespace, ref.name, ref.uid, ref.api_version, ref.field_path
    )


_DECODER = msgspec.json.Decoder(EventFields)


def event_fields_decoder() -> msgspec.json.Decoder[EventFields]:
    """The decoder the exporter reads Events with (lists, watches, spools)."""
    return _DECODER

"""events.k8s.io/v1 ``Event``: the API that client-go's ``tools/events`` writes."""

from __future__ import annotations

import msgspec

from kubevents.model._codec import Wire
from kubevents.model._meta import EventSource, MetadataField, ObjectMeta, ObjectReference
from kubevents.model._wire import Int32, MicroTime, Time

__all__ = ["EventsV1Event", "EventsV1EventSeries"]


def _none() -> None:
    return None


class EventsV1EventSeries(Wire, gc=False):
    """events.k8s.io/v1 ``EventSeries``: neither field is ``omitempty``."""

    count: Int32 = msgspec.field(default_factory=int)
    last_observed_time: MicroTime | None = msgspec.field(default_factory=_none)


class EventsV1Event(Wire, gc=False):
    """events.k8s.io/v1 ``Event`` (``eventTime`` is required; ``deprecated*`` mirror core/v1)."""

    kind: str = ""
    api_version: str = ""
    metadata: ObjectMeta = msgspec.field(default_factory=ObjectMeta)
    event_time: MicroTime | None = msgspec.field(default_factory=_none)
    series: EventsV1EventSeries | None = None
    reporting_controller: str = ""
    reporting_instance: str = ""
    action: str = ""
    reason: str = ""
    regarding: ObjectReference = msgspec.field(default_factory=ObjectReference)
    related: ObjectReference | None = None
    note: str = ""
    type: str = ""
    deprecated_source: EventSource = msgspec.field(default_factory=EventSource)
    deprecated_first_timestamp: Time | None = msgspec.field(default_factory=_none)
    deprecated_last_timestamp: Time | None = msgspec.field(default_factory=_none)
    deprecated_count: Int32 = 0

    name = MetadataField("name")
    namespace = MetadataField("namespace")
    uid = MetadataField("uid")
    resource_version = MetadataField("resource_version")

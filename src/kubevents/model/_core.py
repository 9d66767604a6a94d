"""core/v1 ``Event``: the legacy API that client-go's ``tools/record`` writes."""

from __future__ import annotations

import msgspec

from kubevents.model._codec import Wire
from kubevents.model._meta import EventSource, MetadataField, ObjectMeta, ObjectReference
from kubevents.model._wire import Int32, MicroTime, Time

__all__ = ["EVENT_TYPE_NORMAL", "EVENT_TYPE_WARNING", "Event", "EventSeries"]

EVENT_TYPE_NORMAL = "Normal"
EVENT_TYPE_WARNING = "Warning"


def _none() -> None:
    return None


class EventSeries(Wire, gc=False):
    """core/v1 ``EventSeries`` (count is ``omitempty``; the time is a struct, so null if unset)."""

    count: Int32 = 0
    last_observed_time: MicroTime | None = msgspec.field(default_factory=_none)


class Event(Wire, gc=False):
    """core/v1 ``Event``.

    Python names are snake_case; wire names are the API's. ``reporting_controller`` is
    ``reportingComponent`` on the wire, as in Go. Unset times are ``None`` (``null``).
    """

    kind: str = ""
    api_version: str = ""
    metadata: ObjectMeta = msgspec.field(default_factory=ObjectMeta)
    involved_object: ObjectReference = msgspec.field(default_factory=ObjectReference)
    reason: str = ""
    message: str = ""
    source: EventSource = msgspec.field(default_factory=EventSource)
    first_timestamp: Time | None = msgspec.field(default_factory=_none)
    last_timestamp: Time | None = msgspec.field(default_factory=_none)
    count: Int32 = 0
    type: str = ""
    event_time: MicroTime | None = msgspec.field(default_factory=_none)
    series: EventSeries | None = None
    action: str = ""
    related: ObjectReference | None = None
    # No omitempty in Go: always serialised, even when empty.
    reporting_controller: str = msgspec.field(default_factory=str, name="reportingComponent")
    reporting_instance: str = msgspec.field(default_factory=str)

    name = MetadataField("name")
    namespace = MetadataField("namespace")
    uid = MetadataField("uid")
    resource_version = MetadataField("resource_version")

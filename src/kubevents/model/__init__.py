"""The event model both halves of kubevents share: Event types, references and wire times."""

from kubevents.model._codec import Wire, decoder, go_json
from kubevents.model._convert import CORE_API_VERSION, EVENTS_V1_API_VERSION, to_core, to_events_v1
from kubevents.model._core import EVENT_TYPE_NORMAL, EVENT_TYPE_WARNING, Event, EventSeries
from kubevents.model._events_v1 import EventsV1Event, EventsV1EventSeries
from kubevents.model._meta import (
    EventSource,
    ManagedFieldsEntry,
    ObjectMeta,
    ObjectReference,
    OwnerReference,
)
from kubevents.model._reference import get_reference, register_kind
from kubevents.model._wire import DECODE_ERRORS, Int32, Int64, MicroTime, Time, parse_rfc3339

__all__ = [
    "CORE_API_VERSION",
    "DECODE_ERRORS",
    "EVENTS_V1_API_VERSION",
    "EVENT_TYPE_NORMAL",
    "EVENT_TYPE_WARNING",
    "Event",
    "EventSeries",
    "EventSource",
    "EventsV1Event",
    "EventsV1EventSeries",
    "Int32",
    "Int64",
    "ManagedFieldsEntry",
    "MicroTime",
    "ObjectMeta",
    "ObjectReference",
    "OwnerReference",
    "Time",
    "Wire",
    "decoder",
    "get_reference",
    "go_json",
    "parse_rfc3339",
    "register_kind",
    "to_core",
    "to_events_v1",
]

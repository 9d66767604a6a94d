"""Conversion between core/v1 and events.k8s.io/v1 Events, as the API server converts them.

The mapping is the API server's (kubernetes ``pkg/apis/events/v1`` conversion): ``regarding`` ↔
``involvedObject``, ``note`` ↔ ``message``, ``deprecatedSource`` ↔ ``source``,
``deprecatedFirstTimestamp``/``deprecatedLastTimestamp``/``deprecatedCount`` ↔
``firstTimestamp``/``lastTimestamp``/``count``; every other field keeps its meaning, with the
series converted field for field. ``kind``/``apiVersion`` are set for the target API.
"""

from __future__ import annotations

import copy

import msgspec

from kubevents.model._core import Event, EventSeries
from kubevents.model._events_v1 import EventsV1Event, EventsV1EventSeries

__all__ = ["CORE_API_VERSION", "EVENTS_V1_API_VERSION", "to_core", "to_events_v1"]

CORE_API_VERSION = "v1"
EVENTS_V1_API_VERSION = "events.k8s.io/v1"


def _series_to_events_v1(series: EventSeries | None) -> EventsV1EventSeries | None:
    if series is None:
        return None
    return EventsV1EventSeries(count=series.count, last_observed_time=series.last_observed_time)


def _series_to_core(series: EventsV1EventSeries | None) -> EventSeries | None:
    if series is None:
        return None
    return EventSeries(count=series.count, last_observed_time=series.last_observed_time)


def to_events_v1(event: Event) -> EventsV1Event:
    """Convert a core/v1 Event to events.k8s.io/v1 (deep copy; the input is not changed)."""
    return EventsV1Event(
        kind=event.kind,
        api_version=EVENTS_V1_API_VERSION if event.api_version else "",
        metadata=copy.deepcopy(event.metadata),
        event_time=event.event_time,
        series=_series_to_events_v1(event.series),
        reporting_controller=event.reporting_controller,
        reporting_instance=event.reporting_instance,
        action=event.action,
        reason=event.reason,
        regarding=msgspec.structs.replace(event.involved_object),
        related=None if event.related is None else msgspec.structs.replace(event.related),
        note=event.message,
        type=event.type,
        deprecated_source=msgspec.structs.replace(event.source),
        deprecated_first_timestamp=event.first_timestamp,
        deprecated_last_timestamp=event.last_timestamp,
        deprecated_count=event.count,
    )


def to_core(event: EventsV1Event) -> Event:
    """Convert an events.k8s.io/v1 Event to core/v1 (deep copy; the input is not changed)."""
    return Event(
        kind=event.kind,
        api_version=CORE_API_VERSION if event.api_version else "",
        metadata=copy.deepcopy(event.metadata),
        involved_object=msgspec.structs.replace(event.regarding),
        reason=event.reason,
        message=event.note,
        source=msgspec.structs.replace(event.deprecated_source),
        first_timestamp=event.deprecated_first_timestamp,
        last_timestamp=event.deprecated_last_timestamp,
        count=event.deprecated_count,
        type=event.type,
        event_time=event.event_time,
        series=_series_to_core(event.series),
        action=event.action,
        related=None if event.related is None else msgspec.structs.replace(event.related),
        reporting_controller=event.reporting_controller,
        reporting_instance=event.reporting_instance,
    )

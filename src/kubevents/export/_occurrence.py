"""An occurrence: one (Event uid, count) the API server showed, with a stable id.

Every count bump of an Event is a separate occurrence. Its id ``<uid>:<count>`` is the same
whichever exporter, replay or relist produces it, so sinks can make writes idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from kubevents.model import Event

__all__ = ["Occurrence", "occurrence_count", "occurrence_time"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def occurrence_count(event: Event) -> int:
    """The occurrence number: ``series.count`` for events.k8s.io-style events, else ``count``.

    A count of 0 (events created without one, e.g. by kopf) is the first occurrence.
    """
    if event.series is not None and event.series.count > 0:
        return event.series.count
    return event.count if event.count > 0 else 1


def occurrence_time(event: Event) -> datetime:
    """When this occurrence happened (not when it was seen).

    ``series.lastObservedTime`` / ``eventTime`` for events.k8s.io-style events, else
    ``lastTimestamp``, else ``firstTimestamp``, else the object's creation time.
    """
    if event.series is not None and event.series.last_observed_time is not None:
        return event.series.last_observed_time
    if event.event_time is not None and event.last_timestamp is None:
        return event.event_time
    return (
        event.last_timestamp
        or event.first_timestamp
        or event.event_time
        or event.metadata.creation_timestamp
        or _EPOCH
    )


@dataclass(frozen=True, slots=True)
class Occurrence:
    """One occurrence to export: the decoded Event, the server's exact JSON and its identity."""

    id: str
    uid: str
    count: int
    time: datetime
    event: Event
    raw: bytes
    cluster: str
    resource_version: str

    @classmethod
    def of(cls, event: Event, raw: bytes, cluster: str) -> Occurrence:
        count = occurrence_count(event)
        uid = event.metadata.uid
        return cls(
            id=f"{uid}:{count}",
            uid=uid,
            count=count,
            time=occurrence_time(event),
            event=event,
            raw=raw,
            cluster=cluster,
            resource_version=event.metadata.resource_version,
        )

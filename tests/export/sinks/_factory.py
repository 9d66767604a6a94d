"""Occurrences for sink tests, built from the same bytes the API server would send."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec

from kubevents.export import EventFields, Occurrence
from kubevents.model import (
    Event,
    EventSeries,
    EventSource,
    MicroTime,
    ObjectMeta,
    ObjectReference,
    Time,
)

BASE_TIME = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)


def make_event(
    uid: str = "uid-1",
    count: int = 1,
    *,
    namespace: str = "default",
    message: str = "Started container app",
    series: bool = False,
) -> Event:
    """A core/v1 Event; ``series=True`` makes it events.k8s.io-style (eventTime + series)."""
    event = Event(
        metadata=ObjectMeta(
            name=f"app.{uid}", namespace=namespace, uid=uid, resource_version=str(100 + count)
        ),
        involved_object=ObjectReference(
            kind="Pod",
            namespace=namespace,
            name="app",
            uid="pod-uid",
            api_version="v1",
            field_path="spec.containers{app}",
        ),
        reason="Started",
        message=message,
        type="Normal",
    )
    if series:
        observed = MicroTime.of(BASE_TIME + timedelta(seconds=count, microseconds=250))
        return msgspec.structs.replace(
            event,
            event_time=MicroTime.of(BASE_TIME + timedelta(microseconds=123456)),
            series=EventSeries(count=count, last_observed_time=observed),
            action="Pulling",
            reporting_controller="kubelet",
            reporting_instance="node-1",
        )
    return msgspec.structs.replace(
        event,
        source=EventSource(component="kubelet", host="node-1"),
        first_timestamp=Time.of(BASE_TIME),
        last_timestamp=Time.of(BASE_TIME + timedelta(seconds=count - 1)),
        count=count,
    )


def make_occurrence(
    uid: str = "uid-1",
    count: int = 1,
    *,
    raw: bytes | None = None,
    message: str = "Started container app",
    series: bool = False,
) -> Occurrence:
    """An occurrence; ``raw`` defaults to the Event's exact API server JSON."""
    event = make_event(uid, count, message=message, series=series)
    return Occurrence.of(
        EventFields.of(event), raw if raw is not None else event.to_json(), "test-cluster"
    )


def make_batch(n: int, *, prefix: str = "u", start: int = 0) -> list[Occurrence]:
    return [make_occurrence(f"{prefix}{i}") for i in range(start, start + n)]

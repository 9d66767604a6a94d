"""Realistic Events and occurrences for exporter tests.

``make_occurrence`` goes through the same bytes the API server would send: the Event is encoded
as the server does, and the occurrence is built from the decoded bytes, so whole-second
``lastTimestamp`` truncation and friends behave as in production.
"""

from __future__ import annotations

import asyncio
import uuid
import zlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from kubevents.export import EventFields, Occurrence
from kubevents.export.sinks.sqlite import SQLiteSink
from kubevents.model import (
    Event,
    EventSeries,
    EventSource,
    MicroTime,
    ObjectMeta,
    ObjectReference,
    Time,
)

__all__ = ["BASE_TIME", "make_event", "make_occurrence", "write_store"]

BASE_TIME = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)

_UIDS = uuid.UUID("9b1c0f5e-8a53-4c3e-9d0a-6f1f3b7f2e11")


def make_event(
    *,
    namespace: str = "shop",
    kind: str = "Pod",
    object_name: str = "web-0",
    object_namespace: str | None = None,
    reason: str = "BackOff",
    message: str = "Back-off restarting failed container app in pod web-0_shop",
    type: str = "Warning",
    component: str = "kubelet",
    host: str = "node-1",
    reporting_controller: str | None = None,
    count: int = 1,
    first: datetime = BASE_TIME,
    last: datetime | None = None,
    name: str | None = None,
    uid: str | None = None,
    resource_version: str | None = None,
    field_path: str = "",
    series: bool = False,
) -> Event:
    """A core/v1 Event as the API server shows it.

    The same ``(namespace, name)`` always gets the same uid, so ``count=2`` of an event is a
    count bump of ``count=1``. ``series=True`` makes an events.k8s.io-style event (``eventTime``
    with microseconds, a ``series`` from count 2, no ``firstTimestamp``/``lastTimestamp``).
    ``object_namespace=""`` makes a cluster-scoped involved object (e.g. a Node).
    """
    if name is None:
        name = f"{object_name}.17c2a3{zlib.crc32(f'{kind}{reason}'.encode()):08x}"
    uid = uid if uid is not None else str(uuid.uuid5(_UIDS, f"{namespace}/{name}"))
    last = last if last is not None else first + timedelta(seconds=10 * (count - 1))
    controller = reporting_controller if reporting_controller is not None else component
    kind_api = {"Pod": "v1", "Node": "v1", "Deployment": "apps/v1", "ReplicaSet": "apps/v1"}
    involved = ObjectReference(
        kind=kind,
        namespace=namespace if object_namespace is None else object_namespace,
        name=object_name,
        uid=str(uuid.uuid5(_UIDS, f"{kind}/{object_name}")),
        api_version=kind_api.get(kind, "v1"),
        resource_version="4711",
        field_path=field_path,
    )
    metadata = ObjectMeta(
        name=name,
        namespace=namespace,
        uid=uid,
        resource_version=resource_version or str(1000 + count),
        creation_timestamp=Time.of(first),
    )
    if series:
        return Event(
            metadata=metadata,
            involved_object=involved,
            reason=reason,
            message=message,
            type=type,
            event_time=MicroTime.of(first),
            series=(
                EventSeries(count=count, last_observed_time=MicroTime.of(last))
                if count > 1
                else None
            ),
            action="Binding" if kind == "Pod" else "Reconcile",
            reporting_controller=controller,
            reporting_instance=host,
        )
    return Event(
        metadata=metadata,
        involved_object=involved,
        reason=reason,
        message=message,
        source=EventSource(component=component, host=host),
        first_timestamp=Time.of(first),
        last_timestamp=Time.of(last),
        count=count,
        type=type,
        reporting_controller=controller,
        reporting_instance=host,
    )


def make_occurrence(
    event: Event | None = None, *, cluster: str = "test-cluster", **event_fields: Any
) -> Occurrence:
    """The occurrence of ``event`` (default: ``make_event(**event_fields)``) the server showed."""
    if event is None:
        event = make_event(**event_fields)
    elif event_fields:
        raise TypeError("pass either an event or fields for make_event, not both")
    raw = event.to_json()
    return Occurrence.of(EventFields.from_json(raw), raw, cluster)


def write_store(
    path: Path, occurrences: Sequence[Occurrence], *, batch_size: int = 500, **sink_options: Any
) -> None:
    """Store ``occurrences`` through a real ``SQLiteSink``, then close it.

    The sink runs on its own event loop in a helper thread, so sync tests, async tests and
    writer threads can all use this without touching the test session's loop. Retention is
    off unless given: test histories are usually older than the default 30 days.
    """
    sink_options.setdefault("retention_days", None)

    async def run() -> None:
        sink = SQLiteSink(path, **sink_options)
        await sink.start()
        try:
            for i in range(0, len(occurrences), batch_size):
                await sink.write(occurrences[i : i + batch_size])
        finally:
            await sink.close()

    with ThreadPoolExecutor(max_workers=1) as pool:
        pool.submit(asyncio.run, run()).result()

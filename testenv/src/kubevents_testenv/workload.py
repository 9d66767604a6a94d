"""A small, realistic event workload recorded through ``kubevents.record``.

Used by the demo, the end-to-end tests and the benchmarks: pods that start, pods that crash-loop
(the same event repeated: ``count`` grows), a scheduler that logs many similar messages
(aggregation) and a noisy object (the spam filter lets 25 through).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from kubevents.kube import KubeClient
from kubevents.model import EventSource
from kubevents.record import EventBroadcaster, KubeEventSink, ShutdownReport

__all__ = ["WorkloadReport", "pod", "record_flood", "record_workload"]

FLOOD_CHUNK = 500


def pod(namespace: str, name: str) -> dict[str, Any]:
    """A Pod manifest with a stable uid, enough for ``get_reference``."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"kubevents/{namespace}/{name}")),
        },
    }


@dataclass(frozen=True)
class WorkloadReport:
    calls: int
    shutdown: ShutdownReport


async def record_workload(
    client: KubeClient, namespace: str, *, component: str = "kubevents-demo"
) -> WorkloadReport:
    """Record the demo's story into ``namespace``; returns when it reached the API."""
    broadcaster = EventBroadcaster()
    broadcaster.start_recording_to_sink(KubeEventSink(client))
    recorder = broadcaster.new_recorder(EventSource(component=component, host="demo-node"))
    calls = 0
    for i in range(3):
        web = pod(namespace, f"web-{i}")
        recorder.event(web, "Normal", "Scheduled", f"Successfully assigned {namespace}/web-{i}")
        recorder.eventf(web, "Normal", "Pulled", 'Container image "nginx:%s" present', "1.27")
        recorder.event(web, "Normal", "Started", "Started container web")
        calls += 3
    worker = pod(namespace, "worker-0")
    for _ in range(6):  # a crash loop: one Event, count 6
        recorder.event(worker, "Warning", "BackOff", "Back-off restarting failed container")
        calls += 1
    batch = pod(namespace, "batch-0")
    for node in range(12):  # similar messages: aggregated after 10
        recorder.eventf(batch, "Warning", "FailedScheduling", "node-%d: Insufficient cpu", node)
        calls += 1
    report = await broadcaster.ashutdown(timeout=60)
    return WorkloadReport(calls, report)


async def record_flood(
    client: KubeClient,
    namespace: str,
    *,
    objects: int,
    repeats: int,
    component: str = "kubevents-flood",
    shutdown_timeout: float = 600,
) -> ShutdownReport:
    """``objects`` × ``repeats`` occurrences: each object's Event reaches count ``repeats``.

    The spam filter allows 25 events per object at once, so keep ``repeats`` ≤ 25.
    """
    broadcaster = EventBroadcaster()
    broadcaster.start_recording_to_sink(KubeEventSink(client))
    recorder = broadcaster.new_recorder(EventSource(component=component))
    manifests = [pod(namespace, f"flood-{i}") for i in range(objects)]
    queued = 0
    for _ in range(repeats):
        for manifest in manifests:
            recorder.event(manifest, "Warning", "BackOff", "Back-off restarting failed container")
            queued += 1
            if queued % FLOOD_CHUNK == 0:
                # The broadcaster queues 1000 events and drops beyond (client-go's overload
                # rule); let the sink catch up so the flood itself loses nothing.
                await broadcaster.aflush(timeout=shutdown_timeout)
    return await broadcaster.ashutdown(timeout=shutdown_timeout)

"""The events.k8s.io/v1 recorder through an outage of the real apiserver (issue 20).

The recorder talks to the local apiserver through a ``FaultProxy``; cutting the proxy makes the
apiserver unreachable (connections refused, as if it were stopped) while 100 000 events are
recorded. Memory and live tasks must stay bounded (the figures are printed), drops are counted,
and once the apiserver is back the recorder resumes and every series count on the server is the
count of the occurrences the recorder kept.
"""

from __future__ import annotations

import asyncio
import tracemalloc
from collections.abc import Iterator

import pytest

from kubevents.events import EventBroadcaster, KubeEventSink, RecordOutcome
from kubevents.kube import KubeClient
from kubevents.model import ObjectReference
from kubevents_testenv import FaultProxy, LocalCluster

pytestmark = pytest.mark.cluster

EVENTS = 100_000
# Few enough objects that what is kept repeats (series), many enough that the task-per-write
# design would start a write task for each object's first and second occurrence.
OBJECTS = 200
BURST = 500
# Two queues of 1000 events and a cache of what got through: about 1.5 MiB measured. The
# task-per-write design held every event recorded (55 MiB for these 100 000) and hundreds of
# write tasks.
MEMORY_BOUND = 16 * 2**20
TASK_BOUND = 8
# Retries during the outage are not what is tested; short waits keep the test short.
SLEEP_DURATION = 0.05
FLUSH_TIMEOUT = 120.0
CONTROLLER = "kubevents.io/outage-test"


@pytest.fixture
def proxy(local_cluster: LocalCluster) -> Iterator[FaultProxy]:
    with FaultProxy.to(local_cluster.url) as proxy:
        yield proxy


def pod(namespace: str, name: str) -> ObjectReference:
    return ObjectReference(kind="Pod", namespace=namespace, name=name, uid=name, api_version="v1")


async def test_an_outage_keeps_the_recorder_bounded_and_it_resumes(
    local_cluster: LocalCluster,
    proxy: FaultProxy,
    kube: KubeClient,
    namespace: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    through_proxy = await KubeClient.connect(
        url=proxy.url_for(local_cluster.url),
        token=local_cluster.admin_token,
        ca_file=local_cluster.ca_file,
    )
    broadcaster = EventBroadcaster(KubeEventSink(through_proxy), sleep_duration=SLEEP_DURATION)
    try:
        sink_watch = broadcaster.start_recording_to_sink()
        recorder = broadcaster.new_recorder(CONTROLLER)
        pods = [pod(namespace, f"web-{i}") for i in range(OBJECTS)]
        baseline_tasks = len(asyncio.all_tasks())

        proxy.cut()
        tracemalloc.start()
        try:
            most_tasks = 0
            for i in range(EVENTS):
                recorder.eventf(
                    pods[i % OBJECTS], None, "Warning", "BackOff", "Restarting", "back-off %d", i
                )
                if i % BURST == BURST - 1:
                    await asyncio.sleep(0)
                    most_tasks = max(most_tasks, len(asyncio.all_tasks()) - baseline_tasks)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        during = broadcaster.stats()
        with capsys.disabled():
            print(
                f"\noutage: {EVENTS:,} events recorded with the apiserver unreachable: "
                f"traced memory peak {peak / 2**20:.1f} MiB, at most {most_tasks} more tasks; "
                f"dropped {during.dropped_queue_full:,} at the recorder (queue full) and "
                f"{during.dropped_watcher_full:,} at the sink watcher so far"
            )
        assert most_tasks <= TASK_BOUND
        assert peak <= MEMORY_BOUND
        assert during.accepted + during.dropped_queue_full == EVENTS
        assert during.dropped_queue_full + during.dropped_watcher_full > 0

        proxy.restore()
        assert await broadcaster.aflush(FLUSH_TIMEOUT)
        # Resumed: a new event goes straight to the server.
        recorder.eventf(pod(namespace, "after"), None, "Normal", "Recovered", "Check", "back")
        assert await broadcaster.aflush(FLUSH_TIMEOUT)
        assert await broadcaster.refresh_now() == len(broadcaster.cache.series_keys())

        after = broadcaster.stats()
        kept = sink_watch.handled
        assert after.accepted == kept + sink_watch.dropped
        assert after.dropped_watcher_full == sink_watch.dropped
        cached = [broadcaster.cache.get(key) for key in broadcaster.cache]
        counts = {
            event.metadata.name: event.series.count if event.series else 1
            for event in cached
            if event is not None
        }
        # The cache counted every occurrence the sink watcher kept, and nothing dropped.
        assert sum(counts.values()) == kept
        page = await kube.events_v1.list(namespace)
        on_server = {
            event.metadata.name: event.series.count if event.series else 1 for event in page.items
        }
        assert {name: counts[name] for name in on_server} == on_server
        # Only a first occurrence whose create ran out of retries during the outage is missing.
        missing = set(counts) - set(on_server)
        assert all(counts[name] == 1 for name in missing)
        assert len(missing) <= after.sink_outcomes[RecordOutcome.RETRY_LIMIT.value]
        assert any(count > 2 for count in on_server.values())
        assert "after" in {event.regarding.name for event in page.items}
    finally:
        proxy.restore()
        await broadcaster.ashutdown(10)
        await through_proxy.close()

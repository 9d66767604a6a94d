"""The export service in-process on the real cluster: bounded memory, sink outages, health."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path

import aiohttp
import pytest

from kubevents.export import Exporter, Occurrence
from kubevents.export.sinks import SinkError, WebhookSink, WriteResult
from kubevents.kube import KubeClient
from kubevents_testenv import LocalCluster
from kubevents_testenv.workload import record_flood

from .cluster_support import config, running, server_counts, wait_for
from .memory_sink import MemorySink
from .webhook_receiver import Receiver

pytestmark = pytest.mark.cluster

OUTAGE_SECONDS = 60  # the acceptance criterion: a sink down for a full minute


async def test_memory_stays_bounded_while_the_sink_is_down(
    local_cluster: LocalCluster, kube: KubeClient, namespace: str, tmp_path: Path
) -> None:
    sink = MemorySink()
    sink.gate = asyncio.Event()  # down
    buffer = {"queue_size": 50, "max_batch_size": 10, "max_concurrency": 1}
    cfg = config(tmp_path, namespace, buffer=buffer)
    exporter = Exporter(cfg, client=kube, sinks=[sink])
    async with running(exporter):
        await record_flood(kube, namespace, objects=400, repeats=2)
        assert exporter.pipeline is not None and exporter.source is not None
        pipeline = exporter.pipeline

        # Held in memory: the buffer's 50, which count what its driver holds too; plus the one
        # occurrence the watcher is blocked on handing over.
        def blocked() -> bool:
            dispatched = exporter.metrics.occurrences._value.get()
            return pipeline.queue_depth() == 50 and dispatched == 51

        await wait_for(blocked, "the buffer to fill and the watcher to wait")
        dispatched = exporter.metrics.occurrences._value.get()
        await asyncio.sleep(0.5)
        assert exporter.metrics.occurrences._value.get() == dispatched  # the watch is paused
        sink.gate.set()  # back up
        server = await server_counts(kube, namespace)
        finals = {f"{uid}:{count}" for uid, count in server.items()}
        await wait_for(lambda: finals <= set(sink.stored), "everything after the outage")
    assert sink.duplicates == 0
    assert len(server) == 400


async def test_a_webhook_outage_of_a_minute_loses_nothing(
    local_cluster: LocalCluster, kube: KubeClient, namespace: str, tmp_path: Path
) -> None:
    receiver = Receiver()
    await receiver.up()
    sink = WebhookSink(f"http://127.0.0.1:{receiver.port}/events", timeout=2)
    cfg = config(tmp_path, namespace, buffer={"max_batch_size": 50, "flush_delay": "100ms"})
    exporter = Exporter(cfg, client=kube, sinks=[sink])
    async with running(exporter):
        flood = asyncio.create_task(record_flood(kube, namespace, objects=300, repeats=4))
        await wait_for(lambda: len(receiver.ids) > 100, "the first deliveries")
        await receiver.down()
        down_at = len(receiver.ids)
        await asyncio.sleep(OUTAGE_SECONDS)
        await receiver.up()
        await flood
        server = await server_counts(kube, namespace)
        finals = {f"{uid}:{count}" for uid, count in server.items()}
        await wait_for(lambda: finals <= set(receiver.ids), "the backlog after the outage")
        assert exporter.metrics.sink_errors.labels("webhook", "connect")._value.get() > 0
    assert down_at < len(receiver.ids)
    # Every delivered id is a real (uid, count) and the final count of every Event arrived.
    for occurrence_id in receiver.ids:
        uid, _, count = occurrence_id.rpartition(":")
        assert 1 <= int(count) <= server[uid]


class FailingSink(MemorySink):
    async def write(self, batch: Sequence[Occurrence]) -> WriteResult:
        raise SinkError("the destination is down", reason="down")


async def get(port: int, path: str) -> tuple[int, dict[str, object] | str]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"http://127.0.0.1:{port}{path}") as response,
    ):
        text = await response.text()
        try:
            return response.status, json.loads(text)
        except ValueError:
            return response.status, text


async def test_health_ready_and_metrics(
    local_cluster: LocalCluster, kube: KubeClient, namespace: str, tmp_path: Path
) -> None:
    await record_flood(kube, namespace, objects=5, repeats=1)
    sink = MemorySink()
    exporter = Exporter(config(tmp_path, namespace), client=kube, sinks=[sink])
    async with running(exporter):
        assert exporter.server is not None and exporter.server.port
        port = exporter.server.port
        await wait_for(lambda: len(sink.stored) == 5 and exporter.health().ready, "the sync")
        status, body = await get(port, "/readyz")
        assert status == 200 and isinstance(body, dict) and body["synced"] is True
        assert (await get(port, "/healthz"))[0] == 200
        status, text = await get(port, "/metrics")
        assert status == 200 and isinstance(text, str)
        assert 'kubevents_exported_total{sink="memory"} 5.0' in text
        assert "kubevents_relists_total" in text


async def test_a_failing_sink_makes_health_fail(
    local_cluster: LocalCluster, kube: KubeClient, namespace: str, tmp_path: Path
) -> None:
    await record_flood(kube, namespace, objects=2, repeats=1)
    cfg = config(tmp_path, namespace, health={"sink_failing_after": "300ms"})
    exporter = Exporter(cfg, client=kube, sinks=[FailingSink()])
    async with running(exporter):
        assert exporter.server is not None and exporter.server.port
        await wait_for(lambda: not exporter.health().healthy, "health to notice the sink")
        status, body = await get(exporter.server.port, "/healthz")
        assert status == 503 and isinstance(body, dict)
        problems = body["problems"]
        assert isinstance(problems, list) and any("sink" in p for p in problems)


async def test_a_silent_watch_makes_health_fail(
    local_cluster: LocalCluster, kube: KubeClient, namespace: str, tmp_path: Path
) -> None:
    cfg = config(tmp_path, namespace, health={"stall_after": "500ms"}, watch_timeout=600)
    exporter = Exporter(cfg, client=kube, sinks=[MemorySink()])
    async with running(exporter):
        await wait_for(lambda: exporter.health().ready, "the sync")
        await wait_for(lambda: not exporter.health().healthy, "the stall to be noticed")
        assert "stalled" in exporter.health().problems[0]
        # Any event is progress again.
        await record_flood(kube, namespace, objects=1, repeats=1)
        await wait_for(lambda: exporter.health().healthy, "health to recover")


async def test_the_configured_time_window_decides_the_filing_time(
    local_cluster: LocalCluster, kube: KubeClient, namespace: str, tmp_path: Path
) -> None:
    from datetime import UTC, datetime, timedelta

    from kubevents.model import Event, EventSource, ObjectMeta, ObjectReference, Time

    two_days_ago = Time.of((datetime.now(UTC) - timedelta(days=2)).replace(microsecond=0))
    await kube.events.create(
        Event(
            metadata=ObjectMeta(name="old.1", namespace=namespace),
            involved_object=ObjectReference(kind="Pod", namespace=namespace, name="p"),
            reason="Old",
            message="from two days ago",
            type="Normal",
            source=EventSource(component="test"),
            first_timestamp=two_days_ago,
            last_timestamp=two_days_ago,
        )
    )
    sink = MemorySink()
    cfg = config(tmp_path, namespace, time_window={"past": "1h"})
    async with running(Exporter(cfg, client=kube, sinks=[sink])):
        await wait_for(lambda: len(sink.stored) == 1, "the occurrence")
    [stored] = sink.stored.values()
    assert stored.time == two_days_ago  # the document keeps its own time
    # Outside the window it is filed under its creation time, which the server set just now.
    assert datetime.now(UTC) - stored.filing_time < timedelta(minutes=5)

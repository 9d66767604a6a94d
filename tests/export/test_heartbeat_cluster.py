"""The heartbeat on the real apiserver: recorded through ``kubevents.record``, watched for in
every sink, and health that follows the sink that stops storing it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from kubevents.export import Exporter
from kubevents.kube import KubeClient
from kubevents_testenv import LocalCluster

from .cluster_support import config, running, stored_ids, wait_for
from .webhook_receiver import Receiver

pytestmark = pytest.mark.cluster

AGE = "kubevents_heartbeat_age_seconds"
MAX_AGE = 2.0


def age(exporter: Exporter, sink: str) -> float | None:
    return exporter.metrics.registry.get_sample_value(AGE, {"sink": sink})


def fresh(exporter: Exporter, sink: str) -> bool:
    value = age(exporter, sink)
    return value is not None and value < MAX_AGE


async def healthz(exporter: Exporter) -> tuple[int, dict[str, Any]]:
    assert exporter.server is not None
    url = f"http://127.0.0.1:{exporter.server.port}/healthz"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.json()


async def heartbeat_events(kube: KubeClient, namespace: str) -> dict[str, int]:
    """uid -> count of every heartbeat Event in ``namespace``."""
    found = {}
    async for page in kube.events.list_pages(namespace, limit=500):
        for event in page.items:
            if event.reason == "KubeventsHeartbeat":
                found[event.uid] = event.count
    return found


async def test_a_stopped_sink_lets_its_heartbeat_age_grow_and_fails_health_until_it_is_back(
    local_cluster: LocalCluster, kube: KubeClient, namespace: str, tmp_path: Path
) -> None:
    receiver = Receiver()
    await receiver.up()
    db = tmp_path / "events.db"
    fast = {"flush_delay": "50ms"}
    sinks = [
        {"type": "sqlite", "path": str(db), "buffer": fast},
        {"type": "webhook", "name": "alerts", "url": receiver.url, "buffer": fast,
         "retry": {"initial_delay": "50ms", "max_delay": "200ms"}},
    ]  # fmt: skip
    heartbeat = {"enabled": True, "interval": "200ms", "max_age": f"{MAX_AGE}s",
                 "required": True, "name": "kubevents-0", "namespace": namespace}  # fmt: skip
    exporter = Exporter(config(tmp_path, namespace, sinks=sinks, heartbeat=heartbeat), client=kube)
    async with running(exporter):
        await wait_for(
            lambda: fresh(exporter, "sqlite") and fresh(exporter, "alerts"),
            "both sinks to store heartbeats",
            within=30,
        )
        status, body = await healthz(exporter)
        assert status == 200, body

        await receiver.down()
        stale_since = None

        def webhook_stale() -> bool:
            # Meanwhile SQLite keeps storing heartbeats: its age stays below max_age throughout.
            assert fresh(exporter, "sqlite"), age(exporter, "sqlite")
            return (age(exporter, "alerts") or 0.0) > MAX_AGE + 1.0

        await wait_for(webhook_stale, "the webhook's heartbeat age to pass max_age", within=30)
        status, body = await healthz(exporter)
        assert status == 503, body
        late = [p for p in body["problems"] if p.startswith("heartbeat:")]
        assert len(late) == 1 and "sink alerts has stored no heartbeat" in late[0], body
        assert body["heartbeat_age_seconds"]["alerts"] > MAX_AGE
        stale_since = age(exporter, "alerts")
        await wait_for(
            lambda: (age(exporter, "alerts") or 0.0) > (stale_since or 0.0) + 1.0,
            "the age to keep growing",
            within=10,
        )

        await receiver.up()
        await wait_for(lambda: fresh(exporter, "alerts"), "the webhook to catch up", within=30)
        await wait_for(lambda: exporter.health().healthy, "health to turn green", within=10)
        status, body = await healthz(exporter)
        assert status == 200, body
        assert fresh(exporter, "sqlite")

    # One Event whose count the recorder bumped at every beat, not an Event per beat.
    beats = await heartbeat_events(kube, namespace)
    assert len(beats) == 1, beats
    ((uid, count),) = beats.items()
    assert count >= 10
    stored = {i for i in stored_ids(db) if i.startswith(f"{uid}:")}
    delivered = {i for i in receiver.ids if i.startswith(f"{uid}:")}
    assert len(stored) >= 10 and len(delivered) >= 10
    document = receiver.documents[max(delivered, key=lambda i: int(i.rpartition(":")[2]))]
    assert document["reason"] == "KubeventsHeartbeat"
    assert document["involvedObject"]["name"] == "kubevents-0"
    assert exporter.metrics.heartbeats_sent._value.get() >= count

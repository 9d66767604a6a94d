"""The heartbeat on the real apiserver: recorded through ``kubevents.record``, watched for in
every sink, and health that follows the sink that stops storing it."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from kubevents.export import Exporter
from kubevents.kube import KubeClient
from kubevents.model import Event
from kubevents_testenv import LocalCluster

from .cluster_support import config, running, stored_ids, wait_for
from .incluster_support import (
    SERVICE_ACCOUNT,
    Pod,
    Replica,
    create_events,
    exporter_config,
    install_shipped_rbac,
    kubectl,
    new_token,
    replicas,
    shipped_verbs,
)
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


def beats_in(ids: Iterable[str], receiver: Receiver) -> set[str]:
    """The heartbeat occurrence ids among ``ids`` (known by the webhook's documents)."""
    uids = {d["uid"] for d in receiver.documents.values() if d["reason"] == "KubeventsHeartbeat"}
    return {i for i in ids if i.rpartition(":")[0] in uids}


async def heartbeat_events(kube: KubeClient, namespace: str) -> list[Event]:
    """Every heartbeat Event in ``namespace``."""
    found = []
    async for page in kube.events.list_pages(namespace, limit=500):
        found += [event for event in page.items if event.reason == "KubeventsHeartbeat"]
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
        # Before the first beat arrives the age counts from the start: wait for real ones.
        await wait_for(
            lambda: (
                len(beats_in(receiver.ids, receiver)) >= 3
                and len(beats_in(stored_ids(db), receiver)) >= 3
            ),
            "both sinks to store heartbeats",
            within=30,
        )
        assert fresh(exporter, "sqlite") and fresh(exporter, "alerts")
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
    (beat,) = await heartbeat_events(kube, namespace)
    uid, count = beat.uid, beat.count
    assert count >= 10
    stored, delivered = beats_in(stored_ids(db), receiver), beats_in(receiver.ids, receiver)
    assert {i.rpartition(":")[0] for i in stored | delivered} == {uid}
    assert len(stored) >= 10 and len(delivered) >= 10
    document = receiver.documents[max(delivered, key=lambda i: int(i.rpartition(":")[2]))]
    assert document["involvedObject"]["name"] == "kubevents-0"
    assert exporter.metrics.heartbeats_sent._value.get() >= count


def replica_health(replica: Replica) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{replica.port}/healthz", timeout=5) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return 0


POD_HEARTBEAT = {"enabled": True, "interval": "300ms", "max_age": "3s", "required": True}
LEASE_AGE = 'kubevents_heartbeat_age_seconds{sink="sqlite"}'
FORBIDDEN = 'kubevents_heartbeat_failures_total{reason="forbidden"}'


async def off_and_still_exporting(
    replica: Replica, kube: KubeClient, namespace: str, db: Path
) -> dict[str, float]:
    """The heartbeat turns off (forbidden), and the exporter exports, healthy, to the end
    (SIGTERM, exit 0); its last metrics."""
    await wait_for(
        lambda: replica.metrics().get(FORBIDDEN, 0.0) == 1.0 or not replica.running,
        "the heartbeat to be found forbidden",
        within=60,
    )
    assert replica.running, replica.logs()
    events = await create_events(kube, namespace, "e", 3)
    await wait_for(lambda: events <= set(stored_ids(db)), "Events exported", within=60)
    metrics = replica.metrics()
    assert metrics["kubevents_heartbeat_enabled"] == 0.0
    assert LEASE_AGE not in metrics
    assert replica_health(replica) == 200, replica.logs()
    assert replica.terminate()[0] == 0, replica.logs()
    return metrics


def in_pod(cluster: LocalCluster, namespace: str, tmp_path: Path, **extra: object) -> Replica:
    pod = Pod(cluster, namespace, tmp_path / "serviceaccount")
    pod.write_token(new_token(cluster, namespace, "token-1"))
    config = exporter_config(tmp_path / "a" / "config.yaml", namespace, **extra)
    return Replica("kubevents-a", pod, config, tmp_path / "a")


async def test_with_the_shipped_rbac_the_leader_beats_about_its_lease_until_it_is_revoked(
    local_cluster: LocalCluster, kube: KubeClient, namespace: str, tmp_path: Path
) -> None:
    install_shipped_rbac(local_cluster, namespace)
    with replicas(in_pod(local_cluster, namespace, tmp_path, heartbeat=POD_HEARTBEAT)) as (
        replica,
    ):
        replica.start()
        await wait_for(
            lambda: (
                replica.metrics().get("kubevents_heartbeats_sent_total", 0.0) >= 3
                or not replica.running
            ),
            "heartbeats recorded",
            within=60,
        )
        assert replica.running, replica.logs()
        (beat,) = await heartbeat_events(kube, namespace)
        db = tmp_path / "a" / "events.db"
        await wait_for(
            lambda: sum(i.startswith(f"{beat.uid}:") for i in stored_ids(db)) >= 3,
            "heartbeats stored in SQLite",
            within=30,
        )
        # Before the first beat arrives the age counts from the start; now it is a beat's.
        assert replica.metrics()[LEASE_AGE] < 3.0
        assert replica_health(replica) == 200, replica.logs()
        metrics = replica.metrics()
        assert metrics["kubevents_heartbeat_enabled"] == 1.0
        assert metrics["kubevents_heartbeats_sent_total"] >= 1

        # The Role taken away while it runs: the next count bump is refused (403), and the
        # heartbeat turns off; the exporter goes on, healthy, without an age to report.
        kubectl(local_cluster, "-n", namespace, "delete", "rolebinding", "kubevents-heartbeat")
        await off_and_still_exporting(replica, kube, namespace, db)
    (beat,) = await heartbeat_events(kube, namespace)
    assert (beat.involved_object.kind, beat.involved_object.name) == ("Lease", "kubevents")
    assert beat.source.component == "kubevents-export"
    assert replica.logs().count("heartbeat off") == 1, replica.logs()


@pytest.mark.parametrize(("resource", "verb"), shipped_verbs(optional=True))
async def test_without_events_create_or_patch_the_heartbeat_is_off_and_the_exporter_healthy(
    local_cluster: LocalCluster,
    kube: KubeClient,
    namespace: str,
    tmp_path: Path,
    resource: str,
    verb: str,
) -> None:
    install_shipped_rbac(local_cluster, namespace, drop=(resource, verb))
    with replicas(in_pod(local_cluster, namespace, tmp_path, heartbeat=POD_HEARTBEAT)) as (
        replica,
    ):
        replica.start()
        db = tmp_path / "a" / "events.db"
        metrics = await off_and_still_exporting(replica, kube, namespace, db)
        assert metrics["kubevents_heartbeats_sent_total"] == 0.0
    logs = replica.logs()
    (line,) = [line for line in logs.splitlines() if "heartbeat off" in line]
    who = f"system:serviceaccount:{namespace}:{SERVICE_ACCOUNT}"
    assert f"{who} may not {verb} events in namespace {namespace!r}" in line
    assert "Traceback" not in logs
    assert await heartbeat_events(kube, namespace) == []  # not one request was made

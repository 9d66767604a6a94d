"""Two ``kubevents export`` replicas with leader election on the real apiserver.

Each replica is a real process in a pod environment (shipped RBAC, TokenRequest token), with
short lease timings from its configuration. Takeover times are read from the Lease itself: the
new holder's ``acquireTime`` against the moment the old one was killed or had exited (one host,
one clock).
"""

from __future__ import annotations

import asyncio
import functools
import json
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubevents.errors import StatusError
from kubevents.export import RESUME_ANNOTATION
from kubevents.kube import JITTER_FACTOR, KubeClient
from kubevents_testenv import LocalCluster, SearchEngine, shared_search_engine
from kubevents_testenv.workload import record_flood

from .cluster_support import server_counts, stored_ids, wait_for
from .incluster_support import (
    Pod,
    Replica,
    create_events,
    install_shipped_rbac,
    new_token,
    replicas,
)
from .search_support import (
    assert_exactly_the_expected_documents,
    oracle_watch,
    stored_count,
    stored_documents,
)

pytestmark = pytest.mark.cluster

LEASE, RENEW, RETRY = 4.0, 3.0, 0.5
ELECTION = {"enabled": True, "lease_duration": f"{LEASE:.0f}s", "renew_deadline": f"{RENEW}s",
            "retry_period": f"{RETRY}s"}  # fmt: skip
# Scheduling slack for processes on a busy 2-core machine, on top of the protocol's bounds.
SLACK = 1.0
KILLS = 10


@pytest.fixture(scope="session")
def opensearch() -> SearchEngine:
    return shared_search_engine("opensearch")


@pytest.fixture
def pod(local_cluster: LocalCluster, namespace: str, tmp_path: Path) -> Pod:
    install_shipped_rbac(local_cluster, namespace)
    pod = Pod(local_cluster, namespace, tmp_path / "serviceaccount")
    pod.write_token(new_token(local_cluster, namespace, "token"))
    return pod


def write_config(directory: Path, namespace: str, sinks: list[dict[str, Any]]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "config.yaml"
    path.write_text(yaml.safe_dump({
        "cluster_name": "ha", "namespace": namespace, "sinks": sinks,
        "checkpoint": str(directory / "events.checkpoint"), "leader_election": ELECTION,
    }))  # fmt: skip
    return path


def sqlite_replica(name: str, pod: Pod, tmp_path: Path) -> Replica:
    """A replica with its own SQLite store (a per-replica store)."""
    directory = tmp_path / name
    sink = {"type": "sqlite", "path": str(directory / "events.db")}
    config = write_config(directory, pod.namespace, [sink])
    return Replica(name, pod, config, directory)


@pytest.fixture
def pair(pod: Pod, tmp_path: Path) -> Iterator[tuple[Replica, Replica]]:
    with replicas(sqlite_replica("kubevents-a", pod, tmp_path),
                  sqlite_replica("kubevents-b", pod, tmp_path)) as (a, b):  # fmt: skip
        yield a, b


async def holder(kube: KubeClient, namespace: str) -> str:
    try:
        lease = await kube.leases.get(namespace, "kubevents")
    except StatusError as exc:
        if exc.code == 404:  # not created yet
            return ""
        raise
    return lease.spec.holder_identity or ""


async def wait_for_leader(kube: KubeClient, namespace: str, replica: Replica) -> float:
    """Wait until ``replica`` holds the lease; return its acquireTime (unix seconds)."""
    deadline = time.monotonic() + 60
    while True:
        if (await holder(kube, namespace)).startswith(replica.name + "_"):
            lease = await kube.leases.get(namespace, "kubevents")
            assert lease.spec.acquire_time is not None
            return lease.spec.acquire_time.timestamp()
        assert replica.running, replica.logs()
        assert time.monotonic() < deadline, f"{replica.name} never took the lease"
        await asyncio.sleep(0.05)


async def lead_and_stand_by(
    kube: KubeClient, namespace: str, leader: Replica, standby: Replica
) -> None:
    """Start ``leader``, wait until it leads, then start ``standby`` and wait for it."""
    leader.start()
    await wait_for_leader(kube, namespace, leader)
    standby.start()
    await wait_for(lambda: standby.metrics().get("kubevents_leader") == 0.0, "a standby")


async def wait_for_new_holder(kube: KubeClient, namespace: str, old: str) -> str:
    """Wait until someone other than ``old`` holds the lease; return who."""
    deadline = time.monotonic() + 60
    while (current := await holder(kube, namespace)) in ("", old):
        assert time.monotonic() < deadline, f"nobody took over from {old!r}"
        await asyncio.sleep(0.05)
    return current


def explain(pool: list[Replica], engine: SearchEngine, index: str, server: dict[str, int]) -> str:
    """What is missing, and how each leadership term started."""
    stored = {doc["id"] for doc in stored_documents(engine, index)}
    expected = {f"{uid}:{c}" for uid, count in server.items() for c in range(1, count + 1)}
    missing = sorted(expected - stored)
    terms = [
        f"{replica.name}: {line}"
        for replica in pool
        for line in replica.log.read_text(errors="replace").splitlines()
        if any(word in line for word in ("leading as", "listed", "relisting", "lost", "stopped in"))
    ]
    return f"{len(missing)} of {len(expected)} missing, e.g. {missing[:6]}\n" + "\n".join(terms)


async def resume_point(kube: KubeClient, namespace: str) -> str | None:
    lease = await kube.leases.get(namespace, "kubevents")
    return (lease.metadata.annotations or {}).get(RESUME_ANNOTATION)


def ready(replica: Replica) -> bool:
    try:
        return bool(health(replica)["status"] == "ok")
    except OSError:  # not listening yet, or 503
        return False


def listening(replica: Replica) -> bool:
    """Whether its HTTP server answers: by then it handles SIGTERM (a process still importing
    dies of it, which is not a drain)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{replica.port}/livez", timeout=5):
            return True
    except urllib.error.HTTPError:  # 503: unhealthy, but running
        return True
    except OSError:
        return False


def health(replica: Replica) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{replica.port}/readyz", timeout=5) as r:
        body: dict[str, Any] = json.loads(r.read())
        return body


async def test_one_replica_exports_and_after_sigkill_the_other_waits_out_the_lease(
    kube: KubeClient, namespace: str, pair: tuple[Replica, Replica]
) -> None:
    a, b = pair
    await lead_and_stand_by(kube, namespace, a, b)
    first = await create_events(kube, namespace, "first", 5)
    a_db, b_db = a.workdir / "events.db", b.workdir / "events.db"
    await wait_for(lambda: first <= set(stored_ids(a_db)), "a exports", within=60)

    # The standby: ready, knows the leader, and holds no watch and no sink.
    standby = health(b)
    assert standby["role"] == "standby"
    assert standby["leader"] == await holder(kube, namespace)
    samples = b.metrics()
    leading_only = ("kubevents_watch_restarts", "kubevents_relists", "kubevents_exported")
    assert not [k for k in samples if k.startswith(leading_only)]
    assert samples["kubevents_occurrences_total"] == 0.0
    assert not b_db.exists()
    assert a.metrics()["kubevents_leader"] == 1.0

    killed = a.kill()
    during = await create_events(kube, namespace, "during", 3)  # while nobody leads
    acquired = await wait_for_leader(kube, namespace, b)
    took = acquired - killed
    # It waited for the lease to run out on its own clock (the last renewal was at most one
    # retry period before the kill), and no longer than the lease plus two jittered polls.
    assert LEASE - RETRY - 0.2 <= took <= LEASE + 2 * RETRY * (1 + JITTER_FACTOR) + SLACK, took
    after = await create_events(kube, namespace, "after", 3)
    # b resumes from the point a published on the Lease: what happened in between is not lost.
    await wait_for(lambda: during | after <= set(stored_ids(b_db)), "b exports", within=60)
    assert "(published by the previous leader)" in b.logs()  # a watch from there, no relist
    assert "listed" not in b.logs()
    assert b.metrics()["kubevents_leader_transitions_total"] == 2.0  # a, then itself


async def test_after_sigterm_the_standby_takes_the_released_lease_at_its_next_poll(
    kube: KubeClient, namespace: str, pair: tuple[Replica, Replica]
) -> None:
    a, b = pair
    await lead_and_stand_by(kube, namespace, a, b)
    code, exited = a.terminate()
    assert code == 0, a.logs()
    acquired = await wait_for_leader(kube, namespace, b)
    took = acquired - exited
    # The lease was released: one jittered retry period, far less than waiting it out.
    assert took <= RETRY * (1 + JITTER_FACTOR) + SLACK, took
    assert took < LEASE - RETRY
    assert "released leader lease" in a.logs()


async def test_two_replicas_cannot_share_one_sqlite_file(pod: Pod, tmp_path: Path) -> None:
    shared = [{"type": "sqlite", "path": str(tmp_path / "shared.db")}]
    a = Replica("kubevents-a", pod, write_config(tmp_path / "a", pod.namespace, shared),
                tmp_path / "a")  # fmt: skip
    b = Replica("kubevents-b", pod, write_config(tmp_path / "b", pod.namespace, shared),
                tmp_path / "b")  # fmt: skip
    with replicas(a, b):
        a.start()
        await wait_for(lambda: a.metrics().get("kubevents_leader") is not None, "a started")
        b.start()
        code = b.wait(timeout=60)
        assert a.running
    assert code == 2
    assert "is already used by another kubevents replica" in b.logs()
    assert "Replicas cannot share one SQLite file" in b.logs()


async def test_ten_alternating_kills_during_a_flood_store_every_occurrence_once(
    kube: KubeClient, namespace: str, pod: Pod, tmp_path: Path, opensearch: SearchEngine
) -> None:
    index = f"ha-{uuid.uuid4().hex[:10]}"
    sinks = [{"type": "opensearch", "hosts": [opensearch.url], "index": index}]
    pool = [Replica(name, pod, write_config(tmp_path / name, namespace, sinks), tmp_path / name)
            for name in ("kubevents-a", "kubevents-b")]  # fmt: skip
    shown: set[str] = set()
    oracle = asyncio.create_task(oracle_watch(kube, namespace, shown))
    stop_flood = asyncio.Event()

    async def flood() -> None:
        # Waves of new Events, each bumped to count 4: some bumps land while nobody leads.
        while not stop_flood.is_set():
            report = await record_flood(kube, namespace, objects=100, repeats=4)
            assert report.dropped == 0
            await asyncio.sleep(0.5)

    with replicas(*pool):
        for replica in pool:
            replica.start()
        # The flood starts once a leader has listed: what changed before any exporter ran is
        # beyond anyone (a list shows only the latest count).
        first = await wait_for_new_holder(kube, namespace, "")
        leader = next(r for r in pool if first.startswith(r.name + "_"))
        await wait_for(lambda: ready(leader), "the first leader synced", within=60)
        flooding = asyncio.create_task(flood())
        signals = []
        for kill in range(KILLS):
            current = await wait_for_new_holder(kube, namespace, "")
            leader = next(r for r in pool if current.startswith(r.name + "_"))
            other = pool[1] if leader is pool[0] else pool[0]
            # The leader has exported, and published a resume point of its own on the Lease:
            # the point its successor starts from.
            stored = stored_count(opensearch, index)
            published = await resume_point(kube, namespace)
            deadline = time.monotonic() + 60
            while (
                stored_count(opensearch, index) <= stored
                or await resume_point(kube, namespace) == published
            ):
                assert time.monotonic() < deadline, f"no progress before kill {kill}"
                await asyncio.sleep(0.1)
            assert not flooding.done()
            if kill % 2 == 0:
                leader.kill()
                signals.append("KILL")
            else:
                code, _ = leader.terminate()
                assert code == 0, leader.logs()
                signals.append("TERM")
            # Back as a standby in a new pod: its checkpoint (an emptyDir) is gone, so only the
            # Lease can tell where to resume when it leads again.
            (leader.workdir / "events.checkpoint").unlink(missing_ok=True)
            leader.start()
            assert other.running, other.logs()
            await wait_for_new_holder(kube, namespace, current)
        stop_flood.set()
        await flooding
        server = await server_counts(kube, namespace)
        total = sum(server.values())
        try:
            await wait_for(lambda: stored_count(opensearch, index) >= total,
                           "every occurrence stored", within=120)  # fmt: skip
        except AssertionError:
            raise AssertionError(explain(pool, opensearch, index, server)) from None
        for replica in pool:
            if replica.running:
                # The last one killed was started again moments ago.
                await wait_for(functools.partial(listening, replica), "its handlers", within=60)
                code, _ = replica.terminate()
                assert code == 0, replica.logs()
    oracle.cancel()
    assert signals.count("KILL") == signals.count("TERM") == KILLS // 2
    assert_exactly_the_expected_documents(opensearch, index, server, shown)

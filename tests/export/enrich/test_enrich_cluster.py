"""Enrichment on the real apiserver: Deployments, ReplicaSets and Pods owned as controllers own
them; every occurrence about a pod carries its Deployment, a pod deleted before its Event is a
miss (not a stall), and the apiserver sees no GET of a pod while Events flow."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from bench._enrich_support import Api, deployment_chain, pod_body

from kubevents.export import Exporter
from kubevents.export._enrichment import Enrichment
from kubevents.export.store import EventStore, QueryFilter
from kubevents.kube import KubeClient
from kubevents.model import Event, EventSource, ObjectMeta, ObjectReference, Time
from kubevents_testenv import LocalCluster

from ..cluster_support import config, running, stored_ids, wait_for

pytestmark = pytest.mark.cluster

ENRICH = {"kinds": ["Pod", "ReplicaSet", "Deployment"], "labels": ["app", "tier"]}


async def record(
    kube: KubeClient, namespace: str, kind: str, name: str, uid: str, reason: str
) -> str:
    """One Event about an object, as kubelet would post it; the Event's uid."""
    now = Time.of(datetime.now(UTC))
    event = Event(
        metadata=ObjectMeta(name=f"{name}.{uuid.uuid4().hex[:12]}", namespace=namespace),
        involved_object=ObjectReference(
            kind=kind, namespace=namespace, name=name, uid=uid,
            api_version="v1" if kind == "Pod" else "apps/v1",
        ),
        reason=reason, message=f"{reason} of {name}", type="Warning",
        source=EventSource(component="kubelet", host="node-1"),
        first_timestamp=now, last_timestamp=now, count=1,
    )  # fmt: skip
    created = await kube.events.create(event)
    return created.metadata.uid


async def test_every_occurrence_about_a_pod_carries_its_deployment(
    local_cluster: LocalCluster, kube: KubeClient, namespace: str, tmp_path: Path
) -> None:
    db = tmp_path / "events.db"
    sinks = [{"type": "sqlite", "path": str(db), "buffer": {"flush_delay": "50ms"}}]
    async with Api.of(local_cluster) as api:
        _, web = await deployment_chain(api, namespace, "web", 4, extra_labels={"tier": "front"})
        rs_name, db_pods = await deployment_chain(api, namespace, "db", 2)
        bare = await api.create(
            f"/api/v1/namespaces/{namespace}/pods", pod_body("debug", {"app": "debug"})
        )
        doomed_name, doomed_uid = next(iter(db_pods.items()))

        exporter = Exporter(config(tmp_path, namespace, sinks=sinks, enrich=ENRICH), client=kube)
        async with running(exporter):
            await wait_for(lambda: exporter.health().ready, "the initial list")
            caches = exporter.caches
            assert caches is not None and caches.synced()
            # Everything created before the start is in the caches: the first LIST synced
            # before the first Event was exported.
            assert len(caches.caches["Pod"].objects) == 7

            await api.delete(f"/api/v1/namespaces/{namespace}/pods/{doomed_name}")
            await wait_for(
                lambda: caches.caches["Pod"].get(namespace, doomed_name) is None,
                "the cache to see the pod deleted",
            )
            gets_before = await api.request_count("GET", "pods")
            expected: dict[str, tuple[str | None, str | None, dict[str, str] | None]] = {}
            for round_ in range(3):
                for name, uid in web.items():
                    event = await record(kube, namespace, "Pod", name, uid, f"BackOff{round_}")
                    expected[event] = ("hit", "Deployment/web", {"app": "web", "tier": "front"})
            for name, uid in list(db_pods.items())[1:]:
                event = await record(kube, namespace, "Pod", name, uid, "Unhealthy")
                expected[event] = ("hit", "Deployment/db", {"app": "db"})
            event = await record(kube, namespace, "Pod", doomed_name, doomed_uid, "Killing")
            expected[event] = ("miss", None, None)
            event = await record(kube, namespace, "Pod", "debug", bare["metadata"]["uid"], "Pulled")
            expected[event] = ("hit", "Pod/debug", {"app": "debug"})
            deployment = await api.request(
                "GET", f"/apis/apps/v1/namespaces/{namespace}/deployments/web"
            )
            event = await record(
                kube, namespace, "Deployment", "web", deployment["metadata"]["uid"], "Scaled"
            )
            expected[event] = ("hit", "Deployment/web", {"app": "web", "tier": "front"})

            wanted = {f"{uid}:1" for uid in expected}
            await wait_for(lambda: wanted <= set(stored_ids(db)), "every occurrence stored")
            gets_after = await api.request_count("GET", "pods")
            # The count is live: one GET of a pod shows in it.
            await api.request("GET", f"/api/v1/namespaces/{namespace}/pods/debug")
            assert await api.request_count("GET", "pods") > gets_after
            hits = caches.metrics.outcomes.hits
            misses = caches.metrics.outcomes.misses["gone"]

    # No GET of a pod per event: the caches answered every one of 17 occurrences.
    assert gets_after == gets_before
    assert (hits, misses) == (len(expected) - 1, 1)
    with EventStore(db) as store:
        stored = {o.uid: o for o in store.query()}
        assert set(stored) == set(expected)
        for uid, (status, workload, labels) in expected.items():
            found = stored[uid].enrichment
            assert found is not None
            assert (found.status, stored[uid].workload or None, found.labels) == (
                status, workload, labels,
            )  # fmt: skip
        (missed,) = (u for u, e in expected.items() if e[0] == "miss")
        assert stored[missed].enrichment == Enrichment("miss", "gone")
        web_events = store.query(QueryFilter(workload_kind="deployment", workload_name="web"))
        assert {o.uid for o in web_events} == {
            u for u, e in expected.items() if e[1] == "Deployment/web"
        }
        fronts = store.query(QueryFilter(labels=(("app", "web"), ("tier", "front"))))
        assert {o.uid for o in fronts} == {o.uid for o in web_events}
        # The ReplicaSet is on the way, not the workload: nothing is filed under it.
        assert store.query(QueryFilter(workload_kind="ReplicaSet", workload_name=rs_name)) == []


async def test_the_caches_read_metadata_only(
    local_cluster: LocalCluster, kube: KubeClient, namespace: str
) -> None:
    async with Api.of(local_cluster) as api:
        _, pods = await deployment_chain(api, namespace, "meta", 3)
        reader = kube.metadata("v1", "pods")
        page = await reader.list(namespace)
        assert sorted(item.metadata.name for item in page.items) == sorted(pods)
        # What the server sent: metadata, not the Pod (no spec crossed the wire).
        assert {item.kind for item in page.items} == {"PartialObjectMetadata"}
        assert all(b'"spec"' not in raw for raw in page.raw_items)
        assert all(item.metadata.controller() is not None for item in page.items)
        stream = await reader.watch(
            namespace, resource_version=page.resource_version, timeout_seconds=30
        )
        async with stream:
            await api.create(
                f"/api/v1/namespaces/{namespace}/pods", pod_body("late", {"app": "late"})
            )
            async for change in stream:
                assert change.object is not None
                assert (change.type, change.object.kind) == ("ADDED", "PartialObjectMetadata")
                assert change.object.metadata.labels == {"app": "late"}
                assert b'"spec"' not in change.raw
                break

"""Enrichment as a pod runs it: deploy/10-rbac.yaml plus deploy/enrichment/rbac.yaml, applied
with kubectl, a service-account token, the enabled kinds of the shipped example."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from kubevents.export.store import EventStore
from kubevents.kube import KubeClient
from kubevents_testenv import LocalCluster

from ..cluster_support import stored_ids, wait_for
from ..incluster_support import (
    SERVICE_ACCOUNT,
    Pod,
    Replica,
    create_events,
    install_shipped_rbac,
    kubectl,
    new_token,
    replicas,
)

pytestmark = pytest.mark.cluster

ENRICHMENT_RBAC = Path(__file__).resolve().parents[3] / "deploy" / "enrichment" / "rbac.yaml"
KINDS = ["Pod", "ReplicaSet", "Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"]


def enrichment_rbac(namespace: str) -> list[dict[str, Any]]:
    """deploy/enrichment/rbac.yaml bound to the test's service account (rules untouched)."""
    docs = [d for d in yaml.safe_load_all(ENRICHMENT_RBAC.read_text()) if d]
    name = f"kubevents-enrichment-{namespace}"
    for doc in docs:
        doc["metadata"]["name"] = name
        if doc["kind"] == "ClusterRoleBinding":
            doc["roleRef"]["name"] = name
            for subject in doc["subjects"]:
                subject["namespace"] = namespace
    return docs


def config(path: Path, namespace: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        yaml.safe_dump({
            "cluster_name": "incluster", "namespace": namespace,
            "sinks": [{"type": "sqlite", "path": str(path.parent / "events.db")}],
            "checkpoint": str(path.parent / "events.checkpoint"),
            "enrich": {"kinds": KINDS, "labels": ["app"]},
        })
    )  # fmt: skip
    return path


@pytest.mark.parametrize("granted", [True, False], ids=["with-enrichment-rbac", "without"])
async def test_the_shipped_enrichment_rbac_is_what_it_needs(
    local_cluster: LocalCluster, kube: KubeClient, namespace: str, tmp_path: Path, granted: bool
) -> None:
    install_shipped_rbac(local_cluster, namespace)
    if granted:
        docs = enrichment_rbac(namespace)
        kubectl(local_cluster, "apply", "-f", "-", stdin=yaml.safe_dump_all(docs))
    pod = Pod(local_cluster, namespace, tmp_path / "serviceaccount")
    pod.write_token(new_token(local_cluster, namespace, "token-1"))
    path = config(tmp_path / "a" / "config.yaml", namespace)
    events = await create_events(kube, namespace, "about-a-pod", 3)
    with replicas(Replica("kubevents-a", pod, path, tmp_path / "a")) as (replica,):
        replica.start()
        db = tmp_path / "a" / "events.db"
        if not granted:
            code = replica.wait(timeout=60)
            output = replica.logs()
            assert code == 2, output
            who = f"system:serviceaccount:{namespace}:{SERVICE_ACCOUNT}"
            assert f"missing RBAC permission for {who}: list pods in namespace" in output
            assert f"watch cronjobs.batch in namespace {namespace!r}" in output
            assert "deploy/enrichment/rbac.yaml those enrichment needs" in output
            assert "Traceback" not in output
            return
        await wait_for(lambda: events <= set(stored_ids(db)) or not replica.running,
                       "the Events exported", within=90)  # fmt: skip
        assert replica.running, replica.logs()
        metrics = replica.metrics()
        assert all(metrics[f'kubevents_enrichment_synced{{kind="{k}"}}'] == 1 for k in KINDS)
        code, _ = replica.terminate()
        assert code == 0, replica.logs()
    with EventStore(db) as store:
        found = {o.enrichment for o in store.query()}
    # create_events names Pods that do not exist: every occurrence is a miss, and says so.
    assert {(e.status, e.reason) for e in found if e is not None} == {("miss", "gone")}

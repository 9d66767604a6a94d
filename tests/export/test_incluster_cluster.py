"""``kubevents export`` as a pod runs it: the shipped RBAC, a service-account token, no kubeconfig.

Everything is real: the roles are deploy/10-rbac.yaml applied with kubectl, the token comes
from the TokenRequest API and is retired by deleting the Secret it is bound to.
"""

from __future__ import annotations

import ssl
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from kubevents.kube import KubeClient
from kubevents_testenv import LocalCluster

from .cluster_support import stored_ids, wait_for
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

pytestmark = pytest.mark.cluster


def token_works(cluster: LocalCluster, token: str, namespace: str) -> bool:
    request = urllib.request.Request(
        f"{cluster.url}/api/v1/namespaces/{namespace}/events?limit=1",
        headers={"Authorization": f"Bearer {token}"},
    )
    context = ssl.create_default_context(cafile=str(cluster.ca_file))
    try:
        with urllib.request.urlopen(request, context=context, timeout=10):
            return True
    except urllib.error.HTTPError as exc:
        if exc.code == 401:
            return False
        raise


async def test_the_exporter_runs_with_exactly_the_shipped_rbac(
    local_cluster: LocalCluster, kube: KubeClient, namespace: str, tmp_path: Path
) -> None:
    install_shipped_rbac(local_cluster, namespace)
    pod = Pod(local_cluster, namespace, tmp_path / "serviceaccount")
    pod.write_token(new_token(local_cluster, namespace, "token-1"))
    config = exporter_config(tmp_path / "a" / "config.yaml", namespace)
    before = await create_events(kube, namespace, "before", 5)
    with replicas(Replica("kubevents-a", pod, config, tmp_path / "a")) as (replica,):
        replica.start()
        db = tmp_path / "a" / "events.db"
        await wait_for(lambda: before <= set(stored_ids(db)) or not replica.running,
                       "the backlog exported", within=60)  # fmt: skip
        assert replica.running, replica.logs()
        after = await create_events(kube, namespace, "after", 5)
        await wait_for(lambda: after <= set(stored_ids(db)), "new Events exported", within=60)
        lease = await kube.leases.get(namespace, "kubevents")  # the pod's namespace, by default
        assert (lease.spec.holder_identity or "").startswith("kubevents-a_")
        assert replica.metrics()["kubevents_leader"] == 1.0
        code, _ = replica.terminate()
        assert code == 0, replica.logs()
    assert sorted(stored_ids(db)) == sorted(before | after)
    # Released on the way out: the next replica need not wait out the lease.
    assert (await kube.leases.get(namespace, "kubevents")).spec.holder_identity == ""


@pytest.mark.parametrize(("resource", "verb"), shipped_verbs())
async def test_without_any_one_shipped_verb_it_stops_at_start_naming_it(
    local_cluster: LocalCluster, namespace: str, tmp_path: Path, resource: str, verb: str
) -> None:
    install_shipped_rbac(local_cluster, namespace, drop=(resource, verb))
    pod = Pod(local_cluster, namespace, tmp_path / "serviceaccount")
    pod.write_token(new_token(local_cluster, namespace, "token-1"))
    config = exporter_config(tmp_path / "a" / "config.yaml", namespace)
    with replicas(Replica("kubevents-a", pod, config, tmp_path / "a")) as (replica,):
        replica.start()
        code = replica.wait(timeout=60)
    output = replica.logs()
    assert code == 2, output
    who = f"system:serviceaccount:{namespace}:{SERVICE_ACCOUNT}"
    assert f"missing RBAC permission for {who}: {verb} {resource}" in output
    assert output.count("missing RBAC permission") == 1
    assert "Traceback" not in output


async def test_a_rotated_token_keeps_the_watch_and_the_lease(
    local_cluster: LocalCluster, kube: KubeClient, namespace: str, tmp_path: Path
) -> None:
    install_shipped_rbac(local_cluster, namespace)
    pod = Pod(local_cluster, namespace, tmp_path / "serviceaccount")
    old = new_token(local_cluster, namespace, "token-1")
    pod.write_token(old)
    # Watches re-open every 2 s, and the lease is renewed every 0.5 s: both need a valid token.
    config = exporter_config(tmp_path / "a" / "config.yaml", namespace, watch_timeout="2s")
    with replicas(Replica("kubevents-a", pod, config, tmp_path / "a")) as (replica,):
        replica.start()
        db = tmp_path / "a" / "events.db"
        first = await create_events(kube, namespace, "first", 3)
        await wait_for(lambda: first <= set(stored_ids(db)) or not replica.running,
                       "exported with the first token", within=60)  # fmt: skip
        assert replica.running, replica.logs()
        opened = replica.metrics()['kubevents_watch_restarts_total{reason="opened"}']

        pod.write_token(new_token(local_cluster, namespace, "token-2"))
        kubectl(local_cluster, "-n", namespace, "delete", "secret", "token-1")
        await wait_for(lambda: not token_works(local_cluster, old, namespace),
                       "the first token retired", within=30)  # fmt: skip

        second = await create_events(kube, namespace, "second", 3)
        await wait_for(lambda: second <= set(stored_ids(db)) or not replica.running,
                       "exported with the second token", within=60)  # fmt: skip
        assert replica.running, replica.logs()
        # Re-watched after the old token stopped working, without an error.
        await wait_for(
            lambda: (
                replica.metrics()['kubevents_watch_restarts_total{reason="opened"}'] >= opened + 2
            ),
            "watches re-opened with the new token",
            within=30,
        )
        samples = replica.metrics()
        assert samples.get('kubevents_watch_restarts_total{reason="error"}', 0.0) == 0.0
        assert samples["kubevents_leader"] == 1.0
        assert samples["kubevents_leader_transitions_total"] == 1.0  # itself, once
        code, _ = replica.terminate()
    assert code == 0, replica.logs()
    assert "Unauthorized" not in replica.logs()  # never refused, not even once

"""``get_reference`` on objects of lightkube, kr8s and kubernetes_asyncio, read from the real
apiserver with each real client (the clients are dev dependencies; kubevents imports none)."""

from __future__ import annotations

from typing import Any

import pytest

from kubevents.model import ObjectReference, get_reference
from kubevents_testenv import LocalCluster

from .support import config_map

pytestmark = pytest.mark.cluster


def expected(created: dict[str, Any], resource_version: str) -> ObjectReference:
    meta = created["metadata"]
    return ObjectReference(
        kind="ConfigMap",
        api_version="v1",
        name=meta["name"],
        namespace=meta["namespace"],
        uid=meta["uid"],
        resource_version=resource_version,
    )


async def test_lightkube_objects(local_cluster: LocalCluster, namespace: str) -> None:
    from lightkube import AsyncClient, KubeConfig
    from lightkube.generic_resource import create_namespaced_resource
    from lightkube.resources.core_v1 import ConfigMap

    created = config_map(local_cluster, namespace, "lk")
    client = AsyncClient(KubeConfig.from_file(local_cluster.kubeconfig))
    try:
        got = await client.get(ConfigMap, "lk", namespace=namespace)
        assert got.metadata is not None
        assert get_reference(got) == expected(created, str(got.metadata.resourceVersion))
        listed = [item async for item in client.list(ConfigMap, namespace=namespace)]
        assert [get_reference(i).uid for i in listed] == [created["metadata"]["uid"]]
        # A generic resource carries no apiVersion/kind of its own: its class knows them.
        generic = create_namespaced_resource("", "v1", "ConfigMap", "configmaps")
        raw = await client.get(generic, "lk", namespace=namespace)
        raw.pop("apiVersion", None)
        raw.pop("kind", None)
        assert get_reference(raw) == expected(created, str(got.metadata.resourceVersion))
    finally:
        await client.close()


async def test_kr8s_objects(local_cluster: LocalCluster, namespace: str) -> None:
    import kr8s.asyncio
    from kr8s.asyncio.objects import ConfigMap

    created = config_map(local_cluster, namespace, "kr")
    api = await kr8s.asyncio.api(kubeconfig=str(local_cluster.kubeconfig))
    got = await ConfigMap.get("kr", namespace=namespace, api=api)
    rv = created["metadata"]["resourceVersion"]
    assert get_reference(got) == expected(created, rv)
    # An object made from a bare manifest: the class supplies apiVersion and kind.
    bare = await ConfigMap({"metadata": dict(created["metadata"])}, api=api)
    assert get_reference(bare) == expected(created, rv)


async def test_kubernetes_asyncio_models(local_cluster: LocalCluster, namespace: str) -> None:
    from kubernetes_asyncio import client, config

    created = config_map(local_cluster, namespace, "ka")
    configuration = client.Configuration()
    await config.load_kube_config(
        config_file=str(local_cluster.kubeconfig), client_configuration=configuration
    )
    async with client.ApiClient(configuration) as api:
        core = client.CoreV1Api(api)
        got = await core.read_namespaced_config_map("ka", namespace)
        rv = got.metadata.resource_version
        assert get_reference(got) == expected(created, rv)
        # List items come without kind/apiVersion, as in the kubernetes client.
        listed = await core.list_namespaced_config_map(namespace)
        (item,) = [i for i in listed.items if i.metadata.name == "ka"]
        assert item.kind is None
        assert get_reference(item) == expected(created, rv)

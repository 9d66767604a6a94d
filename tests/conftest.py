"""Shared session fixtures: one real etcd + kube-apiserver per flavour, started on first use.

They never skip: if Go or the build is missing, ensure_binaries() raises and the requesting
tests fail loudly (a green run must mean the real apiserver was exercised).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from hypothesis import HealthCheck, settings

from kubevents.kube import KubeClient
from kubevents_testenv import LocalCluster

# Property tests check behaviour, not speed: hypothesis' default 200 ms per example fails them
# on a loaded machine, which says nothing about the code.
settings.register_profile("kubevents", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("kubevents")


@pytest.fixture(scope="session")
def local_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """The default apiserver configuration: Events bypass the watch cache."""
    with LocalCluster(tmp_path_factory.mktemp("cluster")) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def local_cluster_watch_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """An apiserver that serves Events from the watch cache (bookmarks, cache window)."""
    with LocalCluster(
        tmp_path_factory.mktemp("cluster-watch-cache"), watch_cache_for_events=True
    ) as cluster:
        yield cluster


@pytest.fixture
async def kube(local_cluster: LocalCluster) -> AsyncIterator[KubeClient]:
    """An admin client of the default local cluster."""
    async with await KubeClient.connect(local_cluster.kubeconfig) as client:
        yield client


@pytest.fixture
async def kube_limited(local_cluster: LocalCluster) -> AsyncIterator[KubeClient]:
    """The RBAC-limited identity: get/list/watch/create/patch/update on events only."""
    async with await KubeClient.connect(local_cluster.kubeconfig_limited) as client:
        yield client


@pytest.fixture
async def namespace(kube: KubeClient) -> str:
    """A fresh namespace per test (without a controller manager none is ever finalised)."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    assert await kube.ensure_namespace(name)
    return name

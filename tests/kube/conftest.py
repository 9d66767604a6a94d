"""Fixtures for the adapter tests: admin and RBAC-limited clients, a fresh namespace per test."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from kubevents.kube import KubeClient
from kubevents.testenv import LocalCluster


@pytest.fixture
async def kube(local_cluster: LocalCluster) -> AsyncIterator[KubeClient]:
    async with await KubeClient.connect(local_cluster.kubeconfig) as client:
        yield client


@pytest.fixture
async def kube_limited(local_cluster: LocalCluster) -> AsyncIterator[KubeClient]:
    async with await KubeClient.connect(local_cluster.kubeconfig_limited) as client:
        yield client


@pytest.fixture
async def namespace(kube: KubeClient) -> str:
    # Namespaces are never finalised without a controller manager, so each test gets a new one.
    name = f"t-{uuid.uuid4().hex[:10]}"
    await kube._transport.request("POST", "/api/v1/namespaces", body={"metadata": {"name": name}})
    return name

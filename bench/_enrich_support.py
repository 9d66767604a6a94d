"""Workloads for the enrichment's test and benchmark: Deployments, ReplicaSets and Pods
created on the real apiserver with owner references set as the controllers would set them
(the local cluster runs no controller manager), and the apiserver's own request counts.

Plain HTTP with the admin token (``aiohttp``, many requests in flight): the objects are test
fixtures, not something kubevents writes.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import uuid
from collections.abc import Iterable
from typing import Any

import aiohttp

from kubevents_testenv import LocalCluster

__all__ = ["Api", "deployment_chain", "owner", "pod_body"]


def owner(api_version: str, kind: str, name: str, uid: str) -> dict[str, Any]:
    """A controller's owner reference, as kube-controller-manager writes it."""
    return {
        "apiVersion": api_version, "kind": kind, "name": name, "uid": uid,
        "controller": True, "blockOwnerDeletion": True,
    }  # fmt: skip


def pod_body(
    name: str, labels: dict[str, str], owners: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": labels}
    if owners:
        meta["ownerReferences"] = owners
    return {
        "apiVersion": "v1", "kind": "Pod", "metadata": meta,
        "spec": {
            "automountServiceAccountToken": False,
            "containers": [{"name": "app", "image": "registry.example/app:1.0"}],
        },
    }  # fmt: skip


def _template(labels: dict[str, str]) -> dict[str, Any]:
    return {
        "selector": {"matchLabels": labels},
        "template": {
            "metadata": {"labels": labels},
            "spec": {"containers": [{"name": "app", "image": "registry.example/app:1.0"}]},
        },
    }


class Api:
    """Admin requests to the local cluster; ``async with Api.of(cluster) as api``."""

    def __init__(
        self, url: str, token: str, context: ssl.SSLContext, *, concurrency: int = 32
    ) -> None:
        self._url, self._token, self._context = url, token, context
        self._limit = asyncio.Semaphore(concurrency)
        self._session: aiohttp.ClientSession | None = None

    @classmethod
    def of(cls, cluster: LocalCluster, *, concurrency: int = 32) -> Api:
        return cls(cluster.url, cluster.admin_token, cluster.ssl_context(), concurrency=concurrency)

    async def __aenter__(self) -> Api:
        self._session = aiohttp.ClientSession(
            base_url=self._url,
            headers={"Authorization": f"Bearer {self._token}"},
            connector=aiohttp.TCPConnector(ssl=self._context, limit=64),
        )
        return self

    async def body(self, path: str, *, accept: str = "application/json") -> bytes:
        """A GET's whole body, as it crossed the wire."""
        assert self._session is not None
        async with self._session.get(path, headers={"Accept": accept}) as response:
            response.raise_for_status()
            return await response.read()

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    async def request(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        assert self._session is not None
        async with self._limit, self._session.request(method, path, json=body) as response:
            data: dict[str, Any] = await response.json(content_type=None)
            if response.status >= 300:
                raise RuntimeError(f"{method} {path}: {response.status} {data}")
            return data

    async def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        return await self.request("POST", path, body)

    async def service_account(self, namespace: str) -> None:
        """The namespace's ``default`` ServiceAccount, which Pods need to be admitted (the
        controller manager that would create it does not run here)."""
        try:
            await self.create(
                f"/api/v1/namespaces/{namespace}/serviceaccounts", {"metadata": {"name": "default"}}
            )
        except RuntimeError as exc:
            if ": 409 " not in str(exc):
                raise

    async def delete(self, path: str) -> None:
        await self.request("DELETE", path, {"gracePeriodSeconds": 0})

    async def create_all(self, path: str, bodies: Iterable[dict[str, Any]]) -> list[str]:
        """Create every object, many at once; their uids in order."""
        created = await asyncio.gather(*(self.create(path, body) for body in bodies))
        return [str(obj["metadata"]["uid"]) for obj in created]

    async def request_count(self, verb: str, resource: str) -> int:
        """``apiserver_request_total{verb, resource}``, summed over its other labels."""
        assert self._session is not None
        async with self._session.get("/metrics") as response:
            text = await response.text()
        pattern = re.compile(r"^apiserver_request_total\{([^}]*)\} (\S+)$", re.MULTILINE)
        total = 0.0
        for labels, value in pattern.findall(text):
            if f'verb="{verb}"' in labels and f'resource="{resource}"' in labels:
                total += float(value)
        return int(total)


async def deployment_chain(
    api: Api, namespace: str, name: str, pods: int, *, extra_labels: dict[str, str] | None = None
) -> tuple[str, dict[str, str]]:
    """A Deployment, its ReplicaSet and ``pods`` Pods, owned as the controllers own them.

    Returns the ReplicaSet's name and the Pods' uids by name.
    """
    labels = {"app": name, **(extra_labels or {})}
    await api.service_account(namespace)
    apps = f"/apis/apps/v1/namespaces/{namespace}"
    deployment = await api.create(
        f"{apps}/deployments",
        {"metadata": {"name": name, "labels": labels}, "spec": {"replicas": pods,
         **_template(labels)}},
    )  # fmt: skip
    rs_name = f"{name}-{uuid.uuid4().hex[:8]}"
    rs_labels = {**labels, "pod-template-hash": rs_name.rpartition("-")[2]}
    replicaset = await api.create(
        f"{apps}/replicasets",
        {
            "metadata": {
                "name": rs_name, "labels": rs_labels,
                "ownerReferences": [owner("apps/v1", "Deployment", name,
                                          deployment["metadata"]["uid"])],
            },
            "spec": {"replicas": pods, **_template(rs_labels)},
        },
    )  # fmt: skip
    rs_owner = [owner("apps/v1", "ReplicaSet", rs_name, replicaset["metadata"]["uid"])]
    names = [f"{rs_name}-{i:05d}" for i in range(pods)]
    uids = await api.create_all(
        f"/api/v1/namespaces/{namespace}/pods",
        (pod_body(n, rs_labels, rs_owner) for n in names),
    )
    return rs_name, dict(zip(names, uids, strict=True))

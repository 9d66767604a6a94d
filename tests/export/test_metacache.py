"""The metadata caches' list-watch against a scripted API: 410, deletions, errors, expiry.

The happy path and the content negotiation run on the real apiserver
(``enrich/test_enrich_cluster.py``); these are the faults it cannot produce on demand.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest

from kubevents.export import EnrichConfig, ExportMetrics, MetadataCaches
from kubevents.export import _metacache as metacache_module
from kubevents.kube import KubeClient
from support import eventually

from .fake_apiserver import FakeAPIServer, WatchScript, gone, line, serve


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metacache_module, "BACKOFF_INITIAL", 0.01)
    monkeypatch.setattr(metacache_module, "BACKOFF_MAX", 0.02)


@pytest.fixture
async def api() -> AsyncIterator[tuple[FakeAPIServer, KubeClient]]:
    server = FakeAPIServer()
    async with contextlib.asynccontextmanager(serve)(server) as client:
        yield server, client


def pod(name: str, rv: int, *, app: str = "web") -> dict[str, Any]:
    return {
        "kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1",
        "metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}",
                     "resourceVersion": str(rv), "labels": {"app": app}},
    }  # fmt: skip


@contextlib.asynccontextmanager
async def running(client: KubeClient) -> AsyncIterator[MetadataCaches]:
    caches = MetadataCaches(client, EnrichConfig(kinds=["Pod"], labels=["app"]), ExportMetrics())
    task = asyncio.create_task(caches.run())
    try:
        yield caches
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def names(caches: MetadataCaches) -> set[str]:
    return {key.split("/", 1)[1] for key in caches.caches["Pod"].objects}


async def test_a_410_relists_and_the_relist_replaces_the_cache(
    api: tuple[FakeAPIServer, KubeClient],
) -> None:
    server, client = api
    # While the watch was gone, a was deleted and d created: only a relist can tell.
    server.list_states = [
        ([pod("a", 10), pod("b", 11)], 11),
        ([pod("b", 11), pod("c", 12), pod("d", 14)], 14),
    ]
    server.watches = [
        WatchScript([line("ADDED", pod("c", 12)), line("MODIFIED", pod("b", 13, app="shop")),
                     gone()]),
        WatchScript(hold=True),
    ]  # fmt: skip
    async with running(client) as caches:
        assert await caches.wait_synced(10)
        await eventually(lambda: names(caches) == {"b", "c", "d"}, "the relist", within=10)
        await eventually(lambda: not server.watches, "the watch after the relist", within=10)
        relists = caches.metrics.relists
        assert relists.labels("Pod", "start")._value.get() == 1
        assert relists.labels("Pod", "gone")._value.get() == 1
    assert server.list_calls() == 2
    watches = [query for kind, query in server.requests if kind == "watch"]
    assert [w.get("resourceVersion") for w in watches] == ["11", "14"]


async def test_watch_changes_and_deletions_update_the_cache(
    api: tuple[FakeAPIServer, KubeClient],
) -> None:
    server, client = api
    server.list_states = [([pod("a", 10), pod("b", 11)], 11)]
    server.watches = [
        WatchScript(
            [line("DELETED", pod("a", 12)), line("MODIFIED", pod("b", 13, app="shop")),
             line("ADDED", pod("c", 14))],
            hold=True,
        )
    ]  # fmt: skip
    async with running(client) as caches:
        await eventually(lambda: names(caches) == {"b", "c"}, "the watch's changes", within=10)
        b = caches.caches["Pod"].get("ns", "b")
        assert b is not None and b.labels == ("app", "shop")
        gauge = caches.metrics.objects.labels("Pod")._value.get()
        assert gauge == 2


async def test_errors_back_off_and_the_cache_syncs_once_the_server_answers(
    api: tuple[FakeAPIServer, KubeClient],
) -> None:
    server, client = api
    server.list_states = [([pod("a", 10)], 10)]
    server.watches = [WatchScript(http_status=500), WatchScript(hold=True)]
    async with running(client) as caches:
        await eventually(
            lambda: caches.metrics.watch_errors.labels("Pod")._value.get() == 1,
            "the failed watch to be counted", within=10,
        )  # fmt: skip
        await eventually(lambda: len(server.watches) == 0, "a second watch", within=10)
        assert caches.synced() and names(caches) == {"a"}


async def test_a_watch_that_closes_at_once_relists(
    api: tuple[FakeAPIServer, KubeClient],
) -> None:
    server, client = api
    server.list_states = [([pod("a", 10)], 10), ([pod("b", 20)], 20)]
    server.watches = [WatchScript([]), WatchScript(hold=True)]
    async with running(client) as caches:
        await eventually(lambda: names(caches) == {"b"}, "the relist", within=10)
        assert caches.metrics.relists.labels("Pod", "expired")._value.get() == 1

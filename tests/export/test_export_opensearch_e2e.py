"""End to end on real components: kube-apiserver -> ``kubevents export`` -> real OpenSearch.

The exporter runs as a child process with only the OpenSearch sink. The flood is recorded by
the real recorder; an independent watch is the oracle of what the server showed.
"""

from __future__ import annotations

import asyncio
import json
import random
import urllib.error
import urllib.request
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kubevents.cli._workload import record_flood
from kubevents.kube import KubeClient
from kubevents.testenv import LocalCluster, SearchEngine, shared_search_engine

from .cluster_support import ExporterProcess, server_counts, wait_for

pytestmark = pytest.mark.cluster

FLOOD_OBJECTS = 1000
FLOOD_REPEATS = 10  # 10 000 occurrences
OUTAGE_SECONDS = 60  # the acceptance criterion: the engine down for a full minute


@pytest.fixture(scope="session")
def opensearch() -> SearchEngine:
    # The same engine as tests/export/sinks' fixture: one JVM per test run.
    return shared_search_engine("opensearch")


@pytest.fixture
async def kube(local_cluster: LocalCluster) -> AsyncIterator[KubeClient]:
    async with await KubeClient.connect(local_cluster.kubeconfig) as client:
        yield client


@pytest.fixture
async def namespace(kube: KubeClient) -> str:
    name = f"os-{uuid.uuid4().hex[:8]}"
    await kube.ensure_namespace(name)
    return name


def call(url: str, method: str = "GET", body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(req, timeout=30) as response:
        return json.loads(response.read())


def stored_count(engine: SearchEngine, index: str) -> int:
    """Documents in the exporter's indices (0 while none exists, or its shards still start)."""
    if not engine.running:
        return 0
    try:
        call(f"{engine.url}/{index}-*/_refresh?allow_no_indices=true", "POST")
        return int(call(f"{engine.url}/{index}-*/_count?allow_no_indices=true")["count"])
    except urllib.error.HTTPError as exc:
        # A just-created index answers 503 until its primary shard is allocated.
        if exc.code == 503:
            return 0
        raise


def stored_documents(engine: SearchEngine, index: str) -> list[dict[str, Any]]:
    """Every stored document's id, count and uid, paged past the 10 000-hit window."""
    call(f"{engine.url}/{index}-*/_refresh", "POST")
    found: list[dict[str, Any]] = []
    after: list[Any] | None = None
    while True:
        query: dict[str, Any] = {
            "size": 5000, "sort": [{"id": "asc"}], "_source": ["id", "uid", "count"],
        }  # fmt: skip
        if after is not None:
            query["search_after"] = after
        hits = call(f"{engine.url}/{index}-*/_search", "POST", query)["hits"]["hits"]
        if not hits:
            return found
        for hit in hits:
            assert hit["_id"] == hit["_source"]["id"]
            found.append(hit["_source"])
        after = hits[-1]["sort"]


def assert_exactly_the_expected_documents(
    engine: SearchEngine, index: str, server: dict[str, int], shown: set[str]
) -> None:
    docs = stored_documents(engine, index)
    ids = [d["id"] for d in docs]
    assert len(ids) == len(set(ids)), "an occurrence is stored twice"
    assert stored_count(engine, index) == len(ids)
    expected = {f"{uid}:{c}" for uid, count in server.items() for c in range(1, count + 1)}
    assert shown == expected  # the oracle saw every occurrence the recorder made
    assert set(ids) == expected
    for doc in docs:  # each document is the occurrence its id names
        assert doc["id"] == f"{doc['uid']}:{doc['count']}"


async def oracle_watch(client: KubeClient, namespace: str, shown: set[str]) -> None:
    """An independent record of every (uid, count) the server showed, never interrupted."""
    # What the list shows counts too: the flood may already have started when it returns.
    listed = await client.events.list(namespace, limit=None)
    shown.update(f"{event.uid}:{event.count or 1}" for event in listed.items)
    rv = listed.resource_version
    while True:
        async with await client.events.watch(namespace, resource_version=rv) as stream:
            async for change in stream:
                if change.object is not None:
                    shown.add(f"{change.object.uid}:{change.object.count or 1}")
            rv = stream.resource_version


class SearchExporter(ExporterProcess):
    """``kubevents export`` with the OpenSearch sink only (no SQLite store)."""

    def __init__(
        self, cluster: LocalCluster, workdir: Path, namespace: str, engine: SearchEngine
    ) -> None:
        self.index = f"e2e-{uuid.uuid4().hex[:10]}"
        self.dead_letters = workdir / "dead-letters.jsonl"
        config = workdir / "export.yaml"
        sink = {"type": "opensearch", "hosts": [engine.url], "index": self.index}
        config.write_text(yaml.safe_dump({"sinks": [sink], "dead_letter": str(self.dead_letters)}))
        super().__init__(cluster, workdir, namespace, "--config", str(config))
        at = self.args.index("--db")
        del self.args[at : at + 2]


@pytest.fixture
def exporter(
    local_cluster: LocalCluster, tmp_path: Path, namespace: str, opensearch: SearchEngine
) -> Iterator[SearchExporter]:
    process = SearchExporter(local_cluster, tmp_path, namespace, opensearch)
    try:
        yield process
    finally:
        process.stop()


async def test_ten_thousand_events_exactly_once_through_three_sigkills(
    kube: KubeClient, namespace: str, opensearch: SearchEngine, exporter: SearchExporter
) -> None:
    shown: set[str] = set()
    oracle = asyncio.create_task(oracle_watch(kube, namespace, shown))
    rng = random.Random(20261124)
    exporter.start()
    flood = asyncio.create_task(
        record_flood(kube, namespace, objects=FLOOD_OBJECTS, repeats=FLOOD_REPEATS)
    )
    await wait_for(lambda: stored_count(opensearch, exporter.index) > 0, "the first documents")
    for _ in range(3):
        await asyncio.sleep(rng.uniform(1.0, 4.0))
        assert not flood.done(), "the flood ended before the kills: make it larger"
        exporter.kill()
        exporter.start()
    report = await flood
    assert report.dropped == 0
    server = await server_counts(kube, namespace)
    assert len(server) == FLOOD_OBJECTS
    assert sum(server.values()) == FLOOD_OBJECTS * FLOOD_REPEATS
    total = FLOOD_OBJECTS * FLOOD_REPEATS
    await wait_for(
        lambda: stored_count(opensearch, exporter.index) >= total, "every occurrence stored"
    )
    code, _ = exporter.terminate(timeout=30)
    assert code == 0, exporter.logs()
    oracle.cancel()
    assert exporter.starts == 4
    assert_exactly_the_expected_documents(opensearch, exporter.index, server, shown)
    # The exporter creates the file at start (proving it can append); nothing may be in it.
    assert exporter.dead_letters.read_bytes() == b""


async def test_an_engine_outage_of_a_minute_mid_flood_loses_nothing(
    kube: KubeClient, namespace: str, opensearch: SearchEngine, exporter: SearchExporter
) -> None:
    shown: set[str] = set()
    oracle = asyncio.create_task(oracle_watch(kube, namespace, shown))
    exporter.start()
    flood = asyncio.create_task(record_flood(kube, namespace, objects=500, repeats=6))
    await wait_for(lambda: stored_count(opensearch, exporter.index) > 0, "the first documents")
    opensearch.stop()
    try:
        # A deliberate outage of the acceptance criterion's length, not a wait for a result.
        await asyncio.sleep(OUTAGE_SECONDS)
        assert exporter.proc is not None and exporter.proc.poll() is None, exporter.logs()
    finally:
        opensearch.start()
    report = await flood
    assert report.dropped == 0
    server = await server_counts(kube, namespace)
    total = sum(server.values())
    assert total == 500 * 6
    await wait_for(
        lambda: stored_count(opensearch, exporter.index) >= total, "the backlog after the outage"
    )
    code, _ = exporter.terminate(timeout=30)
    assert code == 0, exporter.logs()
    oracle.cancel()
    assert exporter.starts == 1  # the exporter rode the outage out, nobody restarted it
    assert "retrying in" in exporter.log.read_text()  # and it did notice the outage
    assert_exactly_the_expected_documents(opensearch, exporter.index, server, shown)

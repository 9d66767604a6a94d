"""End to end on real components: kube-apiserver -> ``kubevents export`` -> real OpenSearch.

The exporter runs as a child process with only the OpenSearch sink. The flood is recorded by
the real recorder; an independent watch is the oracle of what the server showed.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from kubevents.kube import KubeClient
from kubevents_testenv import LocalCluster, SearchEngine, shared_search_engine
from kubevents_testenv.workload import record_flood

from .cluster_support import SinkExporter, server_counts, wait_for
from .search_support import assert_exactly_the_expected_documents, oracle_watch, stored_count

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


class SearchExporter(SinkExporter):
    """``kubevents export`` with the OpenSearch sink only (no SQLite store)."""

    def __init__(
        self, cluster: LocalCluster, workdir: Path, namespace: str, engine: SearchEngine
    ) -> None:
        self.index = f"e2e-{uuid.uuid4().hex[:10]}"
        sink = {"type": "opensearch", "hosts": [engine.url], "index": self.index}
        super().__init__(cluster, workdir, namespace, sink)


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
    await exporter.initial_list_done()
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
    await exporter.initial_list_done()
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

"""SIGKILL during spool replay, five times: nothing lost, no occurrence stored twice.

A real apiserver, a real OpenSearch behind a TCP proxy (``kubevents_testenv.FaultProxy``), and
``kubevents export`` as a child process with two sinks: SQLite (``when_full: block``) and
OpenSearch (``when_full: spool``, the default for a remote sink). The proxy refuses connections
while a flood of Event creates and count bumps runs, so the OpenSearch spool fills while SQLite
keeps up and the checkpoint moves on. Then the flood stops, the proxy lets OpenSearch through
again (each answer held back 40 ms, so that the replay takes seconds on any machine), and while
the spool replays the exporter is SIGKILLed and restarted five times, each kill inside the
replay (OpenSearch gained documents since the previous kill, and still lacks part of the
backlog), with a trickle of new writes going on meanwhile. Checked from outside, once it has
caught up:

- the occurrence ids the apiserver showed (an independent watch) == the ids in SQLite == the
  ids in OpenSearch;
- SQLite has one row per id (rows == distinct ids; its schema also says ``UNIQUE``);
- OpenSearch has one document per id: the documents found, their ``_count`` and their distinct
  ids are the same number, across every daily index, and each document is the occurrence its
  ``_id`` names;
- the spool is drained and its segments deleted, and the exporter never logged a traceback.

Not asserted: that no document was *sent* twice, because some are, by design. Delivery from the
spool is at-least-once with idempotent ids. The spool persists its mark of what the sink stored
at most every 200 ms, so after a SIGKILL the next run sends again what OpenSearch stored after
the last mark; and the checkpoint covers what was spooled, not what OpenSearch stored, so the
watch may hand the spool again what came after it. The sink writes ``op_type: index`` with
``_id`` = occurrence id: a repeat overwrites the document with the same content, OpenSearch
bumps its ``_version``, and the index keeps one document per id, which is what is asserted.
The repeats (documents whose ``_version`` is above 1) are counted and printed, not bounded:
how many there are depends on where each kill lands.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import pytest
from bench._chaos_support import ExporterProcess, Flood, WatchLog, stored_ids
from prometheus_client.parser import text_string_to_metric_families

from kubevents.kube import KubeClient
from kubevents_testenv import (
    FaultProxy,
    LocalCluster,
    SearchEngine,
    free_ports,
    shared_search_engine,
)

pytestmark = pytest.mark.cluster

KILLS = 5
OUTAGE_OPERATIONS = 2_000  # the backlog the spool holds when OpenSearch returns
OUTAGE_RATE = 100.0  # API writes per second
LIVE_OPERATIONS, LIVE_RATE = 60, 4.0  # writes while the exporter is being killed
# The replay is held to small bulk requests, one at a time, each answer 40 ms late: at most
# 250 documents a second whatever the machine, so that the backlog takes several seconds and
# each kill lands inside it.
REPLAY_BATCH = 10
REPLAY_LATENCY = 0.04
# New documents OpenSearch must have gained since the previous kill before the next one: the
# restarted exporter was replaying, not still starting.
PROGRESS = 30
POLL = 0.05
SINK = "opensearch"


@pytest.fixture(scope="session")
def opensearch() -> SearchEngine:
    return shared_search_engine("opensearch")


class Search:
    """What the exporter's indices hold, read straight from the engine (not through the proxy)."""

    def __init__(self, session: aiohttp.ClientSession, engine: SearchEngine, index: str) -> None:
        self._session = session
        self._url = engine.url
        self._indices = f"{index}-*"

    async def _call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        async with self._session.request(method, self._url + path, json=body) as response:
            return response.status, await response.json(content_type=None)

    async def count(self) -> int:
        """Documents searchable now (0 while no index exists or its shard is still starting)."""
        status, _ = await self._call("POST", f"/{self._indices}/_refresh?allow_no_indices=true")
        if status == 503:
            return 0
        status, body = await self._call("GET", f"/{self._indices}/_count?allow_no_indices=true")
        if status == 503:
            return 0
        assert status == 200, body
        return int(body["count"])

    async def documents(self) -> list[dict[str, Any]]:
        """Every document's ``_id``, ``_version`` and (uid, count), paged past 10 000 hits."""
        status, body = await self._call("POST", f"/{self._indices}/_refresh")
        assert status == 200, body
        found: list[dict[str, Any]] = []
        after: list[Any] | None = None
        while True:
            query: dict[str, Any] = {
                "size": 5000, "sort": [{"id": "asc"}], "version": True,
                "_source": ["id", "uid", "count"],
            }  # fmt: skip
            if after is not None:
                query["search_after"] = after
            status, body = await self._call("POST", f"/{self._indices}/_search", query)
            assert status == 200, body
            hits = body["hits"]["hits"]
            if not hits:
                return found
            found.extend(hits)
            after = hits[-1]["sort"]


def free_port() -> int:
    [port] = free_ports(1)
    return port


async def spool_depth(session: aiohttp.ClientSession, port: int) -> float | None:
    """The exporter's ``kubevents_buffer_depth`` of the OpenSearch sink; None while it is down."""
    try:
        async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
            text = await response.text()
    except aiohttp.ClientError:
        return None
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "kubevents_buffer_depth" and sample.labels.get("sink") == SINK:
                return float(sample.value)
    return None


async def until(condition: Callable[[], Any], what: str, within: float = 120) -> None:
    """Poll ``condition`` (sync, or returning an awaitable) until it holds, with a deadline."""
    deadline = time.monotonic() + within
    while True:
        result = condition()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(POLL)


def spool_bytes(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.glob("*.seg"))


@dataclass
class Scene:
    kube: KubeClient
    namespace: str
    watch_log: WatchLog
    search: Search
    session: aiohttp.ClientSession
    proxy: FaultProxy
    exporter: ExporterProcess
    port: int
    db: Path
    spool: Path


@pytest.fixture
async def scene(
    local_cluster: LocalCluster, opensearch: SearchEngine, tmp_path: Path
) -> AsyncIterator[Scene]:
    async with (
        await KubeClient.connect(local_cluster.kubeconfig) as kube,
        aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session,
    ):
        namespace = f"replay-{uuid.uuid4().hex[:8]}"
        await kube.ensure_namespace(namespace)
        watch_log = WatchLog(kube, namespace)
        watching = asyncio.create_task(watch_log.run())
        await watch_log.ready.wait()
        index = f"replay-{uuid.uuid4().hex[:10]}"
        port = free_port()
        checkpoint = tmp_path / "export.checkpoint"
        db = tmp_path / "events.db"
        with FaultProxy.to(opensearch.url) as proxy:
            config = {
                "cluster_name": "replay", "kubeconfig": str(local_cluster.kubeconfig_limited),
                "namespace": namespace, "checkpoint": str(checkpoint),
                "listen": f"127.0.0.1:{port}", "log_format": "json", "shutdown_timeout": "30s",
                "buffer": {"flush_delay": "100ms"},
                "retry": {"initial_delay": "200ms", "max_delay": "1s"},
                "sinks": [
                    {"type": "sqlite", "path": str(db)},
                    {
                        "type": "opensearch", "hosts": [proxy.url_for(opensearch.url)],
                        "index": index, "timeout": "10s",
                        "buffer": {"max_batch_size": REPLAY_BATCH, "max_concurrency": 1},
                    },
                ],
            }  # fmt: skip
            path = tmp_path / "export.yaml"
            path.write_bytes(msgspec.json.encode(config))  # JSON is YAML
            exporter = ExporterProcess(path, tmp_path / "exporter.log")
            spool = checkpoint.with_name(checkpoint.name + ".spool") / SINK  # the default place
            try:
                yield Scene(
                    kube, namespace, watch_log, Search(session, opensearch, index), session,
                    proxy, exporter, port, db, spool,
                )  # fmt: skip
            finally:
                exporter.stop()
                watching.cancel()


def log_tail(scene: Scene) -> str:
    return scene.exporter.log.read_text(errors="replace")[-5000:]


async def test_sigkill_during_spool_replay_five_times_loses_nothing_and_stores_nothing_twice(
    scene: Scene,
) -> None:
    exporter, search, shown = scene.exporter, scene.search, scene.watch_log.shown
    exporter.start()
    await until(lambda: bool(exporter.relists()), "the exporter's first LIST", within=60)
    await until(partial(_depth_known, scene), "the metrics endpoint")

    # OpenSearch refused: its spool fills; SQLite and the checkpoint carry on.
    scene.proxy.cut()
    outage = Flood(
        scene.kube, scene.namespace, OUTAGE_OPERATIONS, OUTAGE_RATE, 4, random.Random(12)
    )
    await outage.run()
    assert outage.failed == 0
    await until(lambda: outage.written.keys() <= shown, "the watch log to see every write")
    backlog = set(shown)
    await until(lambda: backlog <= set(stored_ids(scene.db)), "SQLite, while OpenSearch is down")
    # Every occurrence of the outage is in the spool (nothing was there before it).
    await until(
        partial(_depth_is, scene, len(backlog)), f"a spool depth of {len(backlog)}", within=10
    )
    assert spool_bytes(scene.spool) > 0
    assert await search.count() == 0

    # OpenSearch back, a trickle of writes, and five kills inside the replay.
    live = Flood(
        scene.kube, scene.namespace, LIVE_OPERATIONS, LIVE_RATE, 2, random.Random(13),
        prefix="live",
    )  # fmt: skip
    trickle = asyncio.create_task(live.run())
    scene.proxy.latency = REPLAY_LATENCY
    scene.proxy.restore()
    restored = time.monotonic()
    stored_at_kill = [0]
    for kill in range(KILLS):
        await until(
            partial(_gained, search, stored_at_kill[-1] + PROGRESS),
            f"replay progress before kill {kill + 1}",
        )
        depth = await spool_depth(scene.session, scene.port)
        exporter.kill()
        stored = await search.count()
        print(
            f"kill {kill + 1} at {time.monotonic() - restored:.1f}s: {stored} of {len(backlog)} "
            f"stored, spool depth {depth}"
        )
        # Inside the replay: the spool still held some, and OpenSearch lacked part of the backlog
        # (what the spool holds reaches OpenSearch in order, the backlog before later writes).
        assert depth is not None and depth > 0, log_tail(scene)
        assert stored < len(backlog), f"kill {kill + 1} came after the replay: enlarge it"
        stored_at_kill.append(stored)
        exporter.start()
    scene.proxy.latency = 0
    await trickle
    assert live.failed == 0
    await until(lambda: live.written.keys() <= shown, "the watch log to see every write")

    # Let it finish, then compare from outside.
    await until(lambda: shown <= set(stored_ids(scene.db)), "SQLite to hold everything")
    await until(lambda: _gained(search, len(shown)), "OpenSearch to hold everything")
    await until(partial(_depth_is, scene, 0), "the spool to be drained")
    print(f"caught up {time.monotonic() - restored:.1f}s after OpenSearch returned")
    code, _ = exporter.terminate(30)
    assert code == 0, log_tail(scene)
    assert exporter.kills == KILLS and exporter.starts == KILLS + 1
    assert exporter.tracebacks() == 0, log_tail(scene)
    assert spool_bytes(scene.spool) == 0  # every segment acknowledged and deleted

    rows = stored_ids(scene.db)
    assert len(rows) == len(set(rows)), "an occurrence is stored twice in SQLite"
    assert set(rows) == shown

    hits = await search.documents()
    ids = [hit["_id"] for hit in hits]
    assert len(ids) == len(set(ids)), "an occurrence is stored twice in OpenSearch"
    assert await search.count() == len(ids)
    assert set(ids) == shown
    for hit in hits:  # each document is the occurrence its id names
        source = hit["_source"]
        assert hit["_id"] == source["id"] == f"{source['uid']}:{source['count']}"
    resent = sorted(hit["_version"] for hit in hits if hit["_version"] > 1)
    print(
        f"{len(shown)} occurrences ({len(backlog)} spooled during the outage), {KILLS} kills; "
        f"OpenSearch documents written more than once: {len(resent)} "
        f"(most writes of one: {resent[-1] if resent else 1})"
    )


async def _gained(search: Search, floor: int) -> bool:
    return await search.count() >= floor


async def _depth_known(scene: Scene) -> bool:
    return await spool_depth(scene.session, scene.port) is not None


async def _depth_is(scene: Scene, expected: int) -> bool:
    return await spool_depth(scene.session, scene.port) == expected

"""A sink down for longer than Events live: what each ``when_full`` policy keeps, on a real
apiserver whose Events expire after 20 s and whose etcd compacts every 10 s.

``bench/outage.py`` runs the same scenarios at full size (a 3-minute and a 12-minute outage
with the exporter's defaults); docs/exporter.md has its figures.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec
import pytest
from bench._chaos_support import Flood, Receiver, WatchLog, observed_namespace, stored_ids

from export.cluster_support import config, run_exporter, wait_for
from kubevents.export import Exporter
from kubevents.kube import KubeClient
from kubevents_testenv import LocalCluster

pytestmark = pytest.mark.cluster

RATE = 20.0  # API writes per second: creates and count bumps


@dataclass
class Scene:
    kube: KubeClient
    namespace: str
    receiver: Receiver
    watch_log: WatchLog
    db: Path


@pytest.fixture
async def scene(short_ttl_cluster: LocalCluster, tmp_path: Path) -> AsyncIterator[Scene]:
    async with (
        await KubeClient.connect(short_ttl_cluster.kubeconfig) as kube,
        observed_namespace(kube, "outage") as seen,
    ):
        yield Scene(kube, seen.namespace, seen.receiver, seen.watch_log, tmp_path / "events.db")


def exporter(scene: Scene, tmp_path: Path, webhook: dict[str, Any], **fields: Any) -> Exporter:
    cfg = config(
        tmp_path,
        scene.namespace,
        sinks=[
            {"type": "sqlite", "path": str(scene.db)},
            {"type": "webhook", "url": scene.receiver.url, "timeout": "2s", **webhook},
        ],
        retry={"initial_delay": "200ms", "max_delay": "2s"},
        **fields,
    )
    return Exporter(cfg, client=scene.kube)


async def outage(scene: Scene, status: int, seconds: float, after: float) -> None:
    await asyncio.sleep(after)
    scene.receiver.status = status
    await asyncio.sleep(seconds)
    scene.receiver.status = 204


async def flood(scene: Scene, seconds: float, prefix: str = "flood") -> Flood:
    # Floods of one test need their own Event names: another flood's Events, while they live,
    # would only be bumped to counts already exported.
    writes = Flood(
        scene.kube, scene.namespace, int(RATE * seconds), RATE, 4, random.Random(7), prefix
    )
    await writes.run()
    assert writes.failed == 0
    return writes


async def test_a_spooled_sink_down_longer_than_events_live_gets_every_occurrence_once_in_order(
    scene: Scene, tmp_path: Path
) -> None:
    # The buffer in memory is small and the watch short: without the spool, this outage would
    # pause the watch past its resume point's compaction and lose what the TTL deletes.
    exp = exporter(scene, tmp_path, {}, buffer={"queue_size": 100}, watch_timeout="10s")
    async with run_exporter(exp) as run:
        down = asyncio.create_task(outage(scene, 503, seconds=50, after=5))
        writes = await flood(scene, seconds=45)
        await down
        shown = scene.watch_log.shown
        await wait_for(lambda: shown <= scene.receiver.deliveries.keys(), "the spool delivered")
        assert await run.exit_code() == 0
    assert scene.receiver.refused > 0  # the outage happened
    finals = await scene.watch_log.finals()
    assert len(finals) < len(writes.finals)  # and the TTL deleted Events meanwhile
    # Every occurrence the server showed, once, and per Event in count order.
    assert scene.receiver.deliveries.keys() == shown
    assert max(scene.receiver.deliveries.values()) == 1
    assert scene.receiver.out_of_order() == []
    assert set(stored_ids(scene.db)) == shown


async def test_drop_newest_drops_and_counts_while_the_other_sink_keeps_everything(
    scene: Scene, tmp_path: Path
) -> None:
    exp = exporter(scene, tmp_path, {"buffer": {"when_full": "drop_newest", "queue_size": 20}})
    async with run_exporter(exp) as run:
        down = asyncio.create_task(outage(scene, 503, seconds=15, after=3))
        await flood(scene, seconds=20)
        await down
        shown = scene.watch_log.shown
        await wait_for(lambda: shown <= set(stored_ids(scene.db)), "SQLite to hold everything")
        await wait_for(lambda: exp.pipeline is not None and exp.pipeline.idle(), "the drain")
        assert await run.exit_code() == 0
    dropped = exp.metrics.registry.get_sample_value(
        "kubevents_buffer_dropped_total", {"sink": "webhook", "reason": "full"}
    )
    assert dropped is not None and dropped > 0
    missing = shown - scene.receiver.deliveries.keys()
    # What the webhook lacks is exactly what its buffer dropped, and nothing else.
    assert len(missing) == dropped
    assert set(stored_ids(scene.db)) == shown


async def test_block_without_a_spool_loses_what_the_ttl_deletes_and_says_so(
    scene: Scene, tmp_path: Path
) -> None:
    exp = exporter(
        scene,
        tmp_path,
        {"buffer": {"when_full": "block", "queue_size": 20}},
        buffer={"max_batch_size": 10, "max_concurrency": 1},
        watch_timeout="5s",
    )
    async with run_exporter(exp) as run:
        down = asyncio.create_task(outage(scene, 503, seconds=40, after=3))
        await flood(scene, seconds=40)
        await down
        # Caught up: every Event still on the server is stored at its current count. The TTL
        # keeps deleting meanwhile, so the server is asked again at each look.
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 180
        while True:
            finals = await scene.watch_log.finals()
            if {f"{u}:{c}" for u, c in finals.items()} <= set(stored_ids(scene.db)):
                break
            assert loop.time() < deadline, "the Events still on the server were not stored"
            await asyncio.sleep(0.5)
        assert await run.exit_code() == 0
    shown = scene.watch_log.shown
    lost = shown - set(stored_ids(scene.db))
    relists = exp.metrics.registry.get_sample_value("kubevents_relists_total", {"reason": "gone"})
    print(f"block, no spool: {len(lost)} of {len(shown)} occurrences lost; relists {relists}")
    # The documented loss: the paused watch's resume point was compacted (410, relist), and
    # the relist could not show what the TTL had deleted or later counts had superseded.
    assert relists is not None and relists >= 1
    assert lost


async def test_a_refusing_webhook_is_dead_lettered_named_and_holds_up_nothing(
    scene: Scene, tmp_path: Path
) -> None:
    attempts = 2
    dead = tmp_path / "dead.jsonl"
    exp = exporter(
        scene,
        tmp_path,
        {"retry": {"initial_delay": "100ms", "permanent_attempts": attempts}},
        dead_letter=str(dead),
        buffer={"flush_delay": "200ms"},
        health={"sink_failing_after": "1s"},
    )
    async with run_exporter(exp) as run:
        scene.receiver.status = 401
        flooding = asyncio.create_task(flood(scene, seconds=15))
        await wait_for(lambda: not exp.health().healthy, "health to name the webhook")
        problems = exp.health().problems
        assert any("sink webhook" in p and "HTTP 401" in p for p in problems), problems
        await flooding
        # SQLite was not held up: everything shown is there soon after.
        shown = set(scene.watch_log.shown)
        await wait_for(lambda: shown <= set(stored_ids(scene.db)), "SQLite", within=10)
        scene.receiver.status = 204
        await flood(scene, seconds=3, prefix="after")
        try:
            await wait_for(lambda: exp.health().healthy, "health to recover", within=30)
        except AssertionError:
            raise AssertionError(f"health did not recover: {exp.health().problems}") from None
        assert await run.exit_code() == 0
    letters = [msgspec.json.decode(line) for line in dead.read_bytes().splitlines()]
    assert letters and {(le["sink"], le["reason"]) for le in letters} == {("webhook", "http_401")}
    delivered = scene.receiver.deliveries.keys()
    # Each occurrence went either to the webhook or to its dead letters, never nowhere.
    assert delivered | {le["document"]["id"] for le in letters} >= shown
    failed = exp.metrics.registry.get_sample_value(
        "kubevents_permanent_failures_total", {"sink": "webhook"}
    )
    assert failed == len(letters)

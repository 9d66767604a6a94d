"""End to end on real components: kube-apiserver -> ``kubevents export`` -> a real Kafka broker.

The exporter runs as a child process with only the Kafka sink. The flood is recorded by the
real recorder; an independent watch is the oracle of what the server showed; a consumer reads
the topic from the beginning.
"""

from __future__ import annotations

import asyncio
import random
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubevents.kube import KubeClient
from kubevents_testenv import KafkaBroker, LocalCluster, shared_kafka
from kubevents_testenv.workload import record_flood

from .cluster_support import SinkExporter, server_counts
from .kafka_support import Consumed, consume, duplicates, out_of_order
from .search_support import oracle_watch

pytestmark = pytest.mark.cluster

FLOOD_OBJECTS = 1000
FLOOD_REPEATS = 10  # 10 000 occurrences
OUTAGE_SECONDS = 60  # the acceptance criterion: the broker down for a full minute


@pytest.fixture(scope="session")
def kafka() -> KafkaBroker:
    return shared_kafka()


class KafkaExporter(SinkExporter):
    """``kubevents export`` with the Kafka sink only (no SQLite store)."""

    def __init__(
        self, cluster: LocalCluster, workdir: Path, namespace: str, broker: KafkaBroker
    ) -> None:
        self.topic = f"e2e-{uuid.uuid4().hex[:10]}"
        sink = {"type": "kafka", "bootstrap_servers": [broker.bootstrap], "topic": self.topic}
        super().__init__(cluster, workdir, namespace, sink)
        self.started_at: list[float] = []  # wall-clock start of each exporter process

    def start(self) -> None:
        self.started_at.append(time.time())
        super().start()

    def incarnation(self, record: Consumed) -> int:
        """Which exporter process produced ``record`` (its producer stamps its send time)."""
        sent = record.timestamp_ms / 1000
        return sum(1 for started in self.started_at if started <= sent)


@pytest.fixture
def exporter(
    local_cluster: LocalCluster, tmp_path: Path, namespace: str, kafka: KafkaBroker
) -> Iterator[KafkaExporter]:
    process = KafkaExporter(local_cluster, tmp_path, namespace, kafka)
    try:
        yield process
    finally:
        process.stop()


def expected_ids(server: dict[str, int]) -> set[str]:
    return {f"{uid}:{c}" for uid, count in server.items() for c in range(1, count + 1)}


def classify_duplicates(exporter: KafkaExporter, records: list[Consumed]) -> tuple[int, int]:
    """(copies sent again by the same process, copies sent again by a later process)."""
    copies: dict[str, list[int]] = {}
    for record in records:
        copies.setdefault(record.id, []).append(exporter.incarnation(record))
    same = later = 0
    for id_ in duplicates(records):
        processes = copies[id_]
        same += len(processes) - len(set(processes))
        later += len(set(processes)) - 1
    return same, later


async def test_ten_thousand_events_through_three_sigkills_and_a_broker_restart(
    kube: KubeClient, namespace: str, kafka: KafkaBroker, exporter: KafkaExporter
) -> None:
    shown: set[str] = set()
    oracle = asyncio.create_task(oracle_watch(kube, namespace, shown))
    rng = random.Random(20261204)
    exporter.start()
    await exporter.initial_list_done()
    flood = asyncio.create_task(
        record_flood(kube, namespace, objects=FLOOD_OBJECTS, repeats=FLOOD_REPEATS)
    )
    await consume(kafka.bootstrap, exporter.topic, 1, within=120)  # the first records
    for kill in range(3):
        await asyncio.sleep(rng.uniform(1.0, 4.0))
        assert not flood.done(), "the flood ended before the kills: make it larger"
        exporter.kill()
        exporter.start()
        if kill == 1:
            await asyncio.sleep(rng.uniform(0.5, 2.0))
            await asyncio.to_thread(kafka.stop)  # a clean broker restart mid-flood
            await asyncio.to_thread(kafka.start)
    report = await flood
    assert report.dropped == 0
    server = await server_counts(kube, namespace)
    assert len(server) == FLOOD_OBJECTS
    total = FLOOD_OBJECTS * FLOOD_REPEATS
    assert sum(server.values()) == total
    records = await consume(kafka.bootstrap, exporter.topic, total, within=300)
    code, _ = exporter.terminate(timeout=30)
    assert code == 0, exporter.logs()
    oracle.cancel()
    assert exporter.starts == 4
    assert shown == expected_ids(server)  # the oracle saw every occurrence the recorder made
    assert {r.id for r in records} == expected_ids(server)  # every one reached the topic
    assert out_of_order(records) == []  # each Event's occurrences in count order
    for record in records:  # one object's occurrences share a partition: keyed by object
        assert record.key == record.document()["involvedObject"]["uid"].encode()
    same, later = classify_duplicates(exporter, records)
    print(  # the at-least-once edge, for the report (pytest -s)
        f"kafka e2e: {len(records)} records, {len(records) - total} duplicates: "
        f"{same} from retries within one process, {later} replayed after a SIGKILL",
        file=sys.stderr,
    )
    assert same == 0  # the idempotent producer and the sink's resend rule: none from retries
    # After a SIGKILL the spool replays what it had not marked stored: at most what was in
    # flight then (4 lanes of 500 occurrences at the defaults), per kill.
    assert later <= 3 * 4 * 500
    assert exporter.dead_letters.read_bytes() == b""


async def test_a_broker_outage_of_a_minute_mid_flood_loses_nothing(
    kube: KubeClient, namespace: str, kafka: KafkaBroker, exporter: KafkaExporter
) -> None:
    shown: set[str] = set()
    oracle = asyncio.create_task(oracle_watch(kube, namespace, shown))
    exporter.start()
    await exporter.initial_list_done()
    flood = asyncio.create_task(record_flood(kube, namespace, objects=500, repeats=6))
    await consume(kafka.bootstrap, exporter.topic, 1, within=120)  # the first records
    spool = Path(f"{exporter.checkpoint}.spool") / "kafka"
    await asyncio.to_thread(kafka.stop)
    try:
        # A deliberate outage of the acceptance criterion's length, not a wait for a result.
        await asyncio.sleep(OUTAGE_SECONDS)
        assert exporter.proc is not None and exporter.proc.poll() is None, exporter.logs()
        # The watch went on: what the broker could not take waits in the sink's disk spool.
        assert sum(f.stat().st_size for f in spool.rglob("*") if f.is_file()) > 0
    finally:
        await asyncio.to_thread(kafka.start)
    report = await flood
    assert report.dropped == 0
    server = await server_counts(kube, namespace)
    total = sum(server.values())
    assert total == 500 * 6
    records = await consume(kafka.bootstrap, exporter.topic, total, within=300)
    code, _ = exporter.terminate(timeout=30)
    assert code == 0, exporter.logs()
    oracle.cancel()
    assert exporter.starts == 1  # the exporter rode the outage out, nobody restarted it
    assert "retrying in" in exporter.log.read_text()  # and it did notice the outage
    assert shown == expected_ids(server)
    assert {r.id for r in records} == expected_ids(server)
    assert duplicates(records) == {}  # one process, retries only: nothing twice
    assert out_of_order(records) == []

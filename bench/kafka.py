"""Kafka sink benchmark: ``kubevents export`` into a real broker vs the raw producer ceiling.

Everything real and on this machine: the local kube-apiserver + etcd, one Apache Kafka 4.4
broker (KRaft) from Maven Central, ``kubevents export`` as the child process a user would run
with only the Kafka sink at its defaults.

- **backfill**: ``EVENTS`` Events exist before the exporter starts; from process start until
  the topic holds a record for each (the sum of the partitions' end offsets, polled every
  0.25 s). events/s, and the exporter's CPU seconds per 1 000 events.
- **ceiling**: the very records kubevents writes (its own encoder, the same keys, values and
  headers), sent by a bare aiokafka producer with the same settings (idempotent, ``acks=all``,
  the sink's batch size in bytes) at kubevents' batch size and concurrency (4 writers, each
  sending 500 records and waiting for all their acknowledgements), to the same broker in the
  same run, after an untimed warm-up load. No exporter using this client can beat it; kubevents
  / ceiling is the exporter's overhead (watch decode, dedup, spool, encoding).
- **vs the OpenTelemetry collector**: its ``kafka`` exporter (contrib v0.111.0, sarama; record
  per Event, ``bench/_otelcol.py``) against kubevents' sink, same broker, same Events: backfill
  (pull mode) and burst (watch mode), ``REPEATS`` times each (``bench/_collector_race.py``);
  records counted by end offsets while running, then the topic is consumed and every record's
  Event uid audited. kubevents' backfills there are the ones the ceiling row uses (median).
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path
from statistics import median
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from bench._collector_race import Records, event_uids, race
from bench._collector_rows import race_rows
from bench._exporter_support import MeasuredProcess, kubevents_export, seed_events
from bench._otelcol import collector, kafka_exporter, otelcol_binary
from bench._record_stores import TopicRecords
from bench.common import BenchContext, Row, Stopwatch, Suite

from kubevents.export import EventFields, Occurrence
from kubevents.export.sinks.kafka import KafkaRecord, encode_record
from kubevents.kube import KubeClient
from kubevents_testenv import KafkaBroker, LocalCluster

NAME = "kafka"

EVENTS = 30_000
NAMESPACE = "bench-kafka"
DEADLINE = 600.0
# kubevents' defaults: buffer.max_batch_size, buffer.max_concurrency, the sink's batch_bytes.
BATCH = 500
CONCURRENCY = 4
BATCH_BYTES = 1024 * 1024
# The race against the OTel collector: each phase this often, the contenders taking turns.
REPEATS = 3


async def _records(kubeconfig: Path) -> list[KafkaRecord]:
    records: list[KafkaRecord] = []
    async with await KubeClient.connect(kubeconfig) as client:
        async for page in client.events.decoding(EventFields).list_pages(NAMESPACE, limit=500):
            for event, raw in zip(page.items, page.raw_items, strict=True):
                records.append(encode_record(Occurrence.of(event, raw, "bench")))
    return records


async def _produce(bootstrap: str, topic: str, records: list[KafkaRecord]) -> float:
    """Send ``records`` as the ceiling does; the seconds it took."""
    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, acks="all", enable_idempotence=True,
        max_batch_size=BATCH_BYTES, max_request_size=BATCH_BYTES,
    )  # fmt: skip
    await producer.start()
    # Metadata for the topic first (it is created on first use), outside the clock.
    await (await producer.send(topic, records[0].value, key=records[0].key,
                               headers=records[0].headers))  # fmt: skip
    batches = [records[i : i + BATCH] for i in range(1, len(records), BATCH)]
    queue: asyncio.Queue[list[KafkaRecord]] = asyncio.Queue()
    for batch in batches:
        queue.put_nowait(batch)

    async def writer() -> None:
        while not queue.empty():
            batch = queue.get_nowait()
            deliveries = [
                await producer.send(topic, r.value, key=r.key, headers=r.headers) for r in batch
            ]
            await asyncio.gather(*deliveries)

    try:
        began = time.perf_counter()
        await asyncio.gather(*(writer() for _ in range(CONCURRENCY)))
        return time.perf_counter() - began
    finally:
        await producer.stop()


async def _ceiling(kubeconfig: Path, broker: KafkaBroker) -> dict[str, Any]:
    records = await _records(kubeconfig)
    await _produce(broker.bootstrap, "bench-ceiling-warmup", records)
    seconds = await _produce(broker.bootstrap, "bench-ceiling", records)
    stored = await _topic_size(broker.bootstrap, "bench-ceiling")
    if stored != len(records):
        raise RuntimeError(f"the ceiling stored {stored} of {len(records)} records")
    return {"events": len(records), "seconds": round(seconds, 3)}


async def _topic_size(bootstrap: str, topic: str, consumer: Any = None) -> int:
    own = consumer is None
    if own:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        await consumer.start()
    try:
        cluster = await consumer._client.fetch_all_metadata()
        partitions = cluster.partitions_for_topic(topic) or set()
        if not partitions:
            return 0
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
        return int(sum(ends.values()))
    finally:
        if own:
            await consumer.stop()


def _race(
    cluster: LocalCluster, broker: KafkaBroker, workdir: Path, events: int, repeats: int
) -> dict[str, Any]:
    """kubevents' Kafka sink vs the collector's kafka exporter, same broker, same Events."""
    expected = asyncio.run(event_uids(cluster, NAMESPACE))

    def kubevents(name: str, namespace: str | None, mode: str) -> tuple[MeasuredProcess, Records]:
        # Every default of the sink: spool, batches of 500, 4 lanes, acks=all, no compression.
        sink = {"type": "kafka", "bootstrap_servers": [broker.bootstrap], "topic": name}
        process, _ = kubevents_export(cluster, workdir, name, sink, namespace)
        return process, TopicRecords(broker.bootstrap, name)

    def otel(name: str, namespace: str | None, mode: str) -> tuple[MeasuredProcess, Records]:
        exporter = kafka_exporter(broker.bootstrap, name)
        process = collector(cluster, workdir, name, exporter, mode=mode, namespace=namespace)
        return process, TopicRecords(broker.bootstrap, name)

    return race(
        cluster, expected, {"kubevents": kubevents, "otelcol": otel}, tag="kafka",
        burst=events, first=50_000_000, repeats=repeats, backfill_namespace=NAMESPACE,
    )  # fmt: skip


def run(ctx: BenchContext) -> Suite:
    watch = Stopwatch()
    events = EVENTS // 10 if ctx.quick else EVENTS
    repeats = 1 if ctx.quick else REPEATS
    otelcol_binary()  # built (or found) before anything is timed
    cluster = ctx.cluster()
    workdir = Path(tempfile.mkdtemp(prefix="kubevents-bench-kafka-"))
    broker = KafkaBroker(heap="1g")
    broker.start()
    details: dict[str, Any] = {"broker": f"Apache Kafka {broker.version} (KRaft, one node)"}
    try:
        details["seed_rate"] = asyncio.run(seed_events(cluster, [NAMESPACE], events))
        ceiling = asyncio.run(_ceiling(cluster.kubeconfig, broker))
        details["ceiling"] = ceiling
        total = ceiling["events"]
        race_out = _race(cluster, broker, workdir, events, repeats)
        details["otelcol"] = race_out
    finally:
        broker.close()
    kv_runs = race_out["backfill"]["kubevents"]
    kv_rate = median(run["written"] / run["seconds"] for run in kv_runs)
    kv_cpu = median(run["cpu_seconds"] for run in kv_runs)
    stored = min(run["written"] for run in kv_runs)
    ceiling_rate = total / ceiling["seconds"]
    partial = "" if stored >= total else f"a run stopped at {stored} of {total}"
    rows = [
        Row(
            "backfill into Kafka (defaults)", "events/s", round(kv_rate),
            round(ceiling_rate), "raw aiokafka producer, same records", kv_rate / ceiling_rate,
            note=partial or f"{total} Events; exporter {kv_cpu:.1f} CPU s; median of "
            f"{len(kv_runs)} runs (the collector race's backfills)",
        ),
        Row(
            "exporter CPU per 1000 events (Kafka backfill)", "CPU s",
            round(kv_cpu / total * 1000, 3),
        ),
    ]  # fmt: skip
    rows += race_rows(
        race_out, f"into Kafka {broker.version}",
        "kubevents → its Kafka sink (record per occurrence) vs k8sobjects → batch → kafka "
        "(raw encoding: record per Event)",
    )  # fmt: skip
    return Suite(NAME, rows, watch.seconds, details)

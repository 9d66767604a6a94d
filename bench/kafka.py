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
- **the sink alone**: ``KafkaSink.write`` of the same occurrences (encoded by the sink as it
  writes) at the same batch size and concurrency, with the sink's defaults, to the same broker:
  the sink's own cost next to the bare producer's, without the rest of the exporter.
- **steady state**: the backfill's rate from its first record on the topic to its last, which
  leaves out the exporter's start (interpreter, imports, RBAC checks, the first LIST page).
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
from collections.abc import Awaitable, Callable
from pathlib import Path
from statistics import median
from typing import Any, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from bench._collector_race import Records, event_uids, race
from bench._collector_rows import race_rows
from bench._exporter_support import MeasuredProcess, kubevents_export, seed_events
from bench._otelcol import collector, kafka_exporter, otelcol_binary
from bench._record_stores import TopicRecords
from bench.common import BenchContext, Row, Stopwatch, Suite

from kubevents.export import EventFields, Occurrence
from kubevents.export.sinks import KafkaSink
from kubevents.export.sinks.kafka import DEFAULT_BATCH_BYTES, KafkaRecord, encode_record
from kubevents.kube import KubeClient
from kubevents_testenv import KafkaBroker, LocalCluster

NAME = "kafka"

EVENTS = 30_000
NAMESPACE = "bench-kafka"
DEADLINE = 600.0
# kubevents' defaults: buffer.max_batch_size, buffer.max_concurrency, the sink's batch_bytes.
BATCH = 500
CONCURRENCY = 4
BATCH_BYTES = DEFAULT_BATCH_BYTES
# The race against the OTel collector: each phase this often, the contenders taking turns.
REPEATS = 3

_T = TypeVar("_T")


async def _occurrences(kubeconfig: Path) -> list[Occurrence]:
    occurrences: list[Occurrence] = []
    async with await KubeClient.connect(kubeconfig) as client:
        async for page in client.events.decoding(EventFields).list_pages(NAMESPACE, limit=500):
            for event, raw in zip(page.items, page.raw_items, strict=True):
                occurrences.append(Occurrence.of(event, raw, "bench"))
    return occurrences


async def _in_lanes(write: Callable[[list[_T]], Awaitable[Any]], batches: list[list[_T]]) -> float:
    """``CONCURRENCY`` writers taking ``batches`` in turn; the seconds until all are written."""
    queue: asyncio.Queue[list[_T]] = asyncio.Queue()
    for batch in batches:
        queue.put_nowait(batch)

    async def writer() -> None:
        while not queue.empty():
            await write(queue.get_nowait())

    began = time.perf_counter()
    await asyncio.gather(*(writer() for _ in range(CONCURRENCY)))
    return time.perf_counter() - began


async def _sink_alone(bootstrap: str, topic: str, occurrences: list[Occurrence]) -> float:
    """Write ``occurrences`` through ``KafkaSink`` as the exporter's lanes do; the seconds."""
    sink = KafkaSink([bootstrap], topic=topic)
    await sink.start()
    try:
        await sink.write(occurrences[:1])  # the topic's creation and metadata, outside the clock
        batches = [occurrences[i : i + BATCH] for i in range(1, len(occurrences), BATCH)]
        return await _in_lanes(sink.write, batches)
    finally:
        await sink.close()


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

    async def write(batch: list[KafkaRecord]) -> None:
        deliveries = [
            await producer.send(topic, r.value, key=r.key, headers=r.headers) for r in batch
        ]
        await asyncio.gather(*deliveries)

    try:
        return await _in_lanes(write, batches)
    finally:
        await producer.stop()


async def _ceiling(kubeconfig: Path, broker: KafkaBroker) -> dict[str, Any]:
    occurrences = await _occurrences(kubeconfig)
    records = [encode_record(o) for o in occurrences]
    await _produce(broker.bootstrap, "bench-ceiling-warmup", records)
    seconds = await _produce(broker.bootstrap, "bench-ceiling", records)
    sink_seconds = await _sink_alone(broker.bootstrap, "bench-sink-alone", occurrences)
    for topic in ("bench-ceiling", "bench-sink-alone"):
        stored = await _topic_size(broker.bootstrap, topic)
        if stored != len(records):
            raise RuntimeError(f"{topic} stored {stored} of {len(records)} records")
    return {
        "events": len(records), "seconds": round(seconds, 3),
        "sink_alone_seconds": round(sink_seconds, 3),
    }  # fmt: skip


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


async def _backfill(
    process: MeasuredProcess, bootstrap: str, topic: str, target: int
) -> dict[str, Any]:
    """One kubevents backfill, its topic sampled as it fills: when the first record came."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    timeline: list[tuple[float, int]] = []
    try:
        process.start()
        while True:
            sample = process.sample()
            done = await _topic_size(bootstrap, topic, consumer)
            elapsed = time.perf_counter() - process.started
            timeline.append((round(elapsed, 2), done))
            if done >= target or elapsed >= DEADLINE:
                break
            await asyncio.sleep(0.25)
    finally:
        process.stop()
        await consumer.stop()
    first = next(((t, n) for t, n in timeline if n > 0), (elapsed, 0))
    return {
        "target": target, "stored": done, "seconds": round(elapsed, 2),
        "first_record_seconds": first[0],
        "steady_rate": (done - first[1]) / (elapsed - first[0]) if elapsed > first[0] else 0.0,
        "cpu_seconds": sample.cpu_seconds, "peak_rss": sample.peak_rss, "timeline": timeline,
    }  # fmt: skip


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
        sink = {"type": "kafka", "bootstrap_servers": [broker.bootstrap], "topic": "bench-steady"}
        process, _ = kubevents_export(cluster, workdir, "bench-steady", sink, NAMESPACE)
        backfill = asyncio.run(_backfill(process, broker.bootstrap, "bench-steady", total))
        details["kubevents_backfill"] = backfill
        race_out = _race(cluster, broker, workdir, events, repeats)
        details["otelcol"] = race_out
    finally:
        broker.close()
    kv_runs = race_out["backfill"]["kubevents"]
    kv_rate = median(run["written"] / run["seconds"] for run in kv_runs)
    kv_cpu = median(run["cpu_seconds"] for run in kv_runs)
    stored = min(run["written"] for run in kv_runs)
    ceiling_rate = total / ceiling["seconds"]
    sink_rate = total / ceiling["sink_alone_seconds"]
    steady = backfill["steady_rate"]
    partial = "" if stored >= total else f"a run stopped at {stored} of {total}"
    rows = [
        Row(
            "backfill into Kafka (defaults)", "events/s", round(kv_rate),
            round(ceiling_rate), "raw aiokafka producer, same records", kv_rate / ceiling_rate,
            note=partial or f"{total} Events; exporter {kv_cpu:.1f} CPU s; median of "
            f"{len(kv_runs)} runs (the collector race's backfills)",
        ),
        Row(
            "backfill into Kafka, first record to last", "events/s", round(steady),
            round(ceiling_rate), "raw aiokafka producer, same records", steady / ceiling_rate,
            note=f"first record {backfill['first_record_seconds']:.1f} s after the start",
        ),
        Row(
            "the Kafka sink alone (KafkaSink.write, 4 x 500)", "events/s", round(sink_rate),
            round(ceiling_rate), "raw aiokafka producer, same records", sink_rate / ceiling_rate,
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

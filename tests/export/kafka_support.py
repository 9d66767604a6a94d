"""Reading what the exporter wrote to a real Kafka topic: every record, with its partition."""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

__all__ = ["Consumed", "consume", "duplicates", "out_of_order"]


@dataclass(frozen=True)
class Consumed:
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes
    value: bytes
    headers: dict[str, bytes]

    @property
    def id(self) -> str:
        return self.headers["id"].decode()

    def document(self) -> dict[str, Any]:
        doc: dict[str, Any] = json.loads(self.value)
        return doc


async def consume(
    bootstrap: str, topic: str, at_least: int = 0, within: float = 60
) -> list[Consumed]:
    """Every record of ``topic`` from the beginning, in partition order: keeps reading until
    ``at_least`` distinct occurrence ids arrived (then to the end of the log; duplicates are
    kept), or fails after ``within`` seconds."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, enable_auto_commit=False, auto_offset_reset="earliest",
        isolation_level="read_committed",
    )  # fmt: skip
    await consumer.start()
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        partitions: set[int] | None = None
        while partitions is None:
            # A fresh look at the cluster (the consumer's own metadata knows only its topics).
            cluster = await consumer._client.fetch_all_metadata()
            partitions = cluster.partitions_for_topic(topic)
            if partitions is None:
                if at_least == 0:
                    return []
                if loop.time() > deadline:
                    raise AssertionError(f"topic {topic} never appeared")
                await asyncio.sleep(0.2)
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        records: list[Consumed] = []
        ids: set[str] = set()
        while True:
            ends = await consumer.end_offsets(tps)
            done = all([await _position(consumer, tp) >= ends[tp] for tp in tps])
            if done and len(ids) >= at_least:
                return records
            if loop.time() > deadline:
                raise AssertionError(
                    f"{len(ids)} occurrences in {topic} after {within:.0f}s, expected {at_least}"
                )
            batches = await consumer.getmany(*tps, timeout_ms=500, max_records=10_000)
            for tp, messages in batches.items():
                for m in messages:
                    record = Consumed(tp.partition, m.offset, m.timestamp, m.key, m.value,
                                      dict(m.headers))  # fmt: skip
                    records.append(record)
                    ids.add(record.id)
    finally:
        await consumer.stop()


async def _position(consumer: AIOKafkaConsumer, tp: TopicPartition) -> int:
    position: int = await consumer.position(tp)
    return position


def duplicates(records: list[Consumed]) -> dict[str, int]:
    """Occurrence id -> copies, for ids seen more than once."""
    seen: dict[str, int] = {}
    for record in records:
        seen[record.id] = seen.get(record.id, 0) + 1
    return {id_: n for id_, n in seen.items() if n > 1}


def out_of_order(records: list[Consumed]) -> list[str]:
    """Occurrences that arrived (first copies, in partition order) after a later count of the
    same Event: an Event's occurrences must reach the topic in count order."""
    highest: dict[str, int] = {}
    first: set[str] = set()
    late: list[str] = []
    for record in sorted(records, key=lambda r: (r.partition, r.offset)):
        if record.id in first:
            continue  # a duplicate: counted by duplicates()
        first.add(record.id)
        uid, _, count_text = record.id.rpartition(":")
        count = int(count_text)
        if count < highest.get(uid, 0):
            late.append(record.id)
        highest[uid] = max(highest.get(uid, 0), count)
    return late

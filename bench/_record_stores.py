"""Where a contender of the collector race writes, read back: a search engine's indices or a
Kafka topic (files: ``AppendedRecords``).

Each store counts the records written so far (cheap enough to poll while the writer is being
measured on the same 2 cores), yields every record's Event uid once the phase is over, and
discards what it holds. The uid is found where each writer puts it: kubevents' document has
``uid``; the collector's log record body is the Event (pull mode) or ``{"type", "object"}``
(watch mode), under ``Body`` in its Elasticsearch document and bare in its Kafka ``raw`` record.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import msgspec
from aiokafka import AIOKafkaConsumer, TopicPartition
from bench._exporter_support import call, indexed

__all__ = ["IndexRecords", "TopicRecords", "uid_of"]

T = TypeVar("T")

# kubevents' uid, and the collector's: the Event in its Body (Elasticsearch), watch or pull.
UID_FIELDS = ["uid", "Body.metadata.uid", "Body.object.metadata.uid"]
_SCROLL_SIZE = 5000


def _dig(document: Any, dotted: str) -> Any:
    # An engine may keep a dotted key as one key or as nested objects: try both, level by level.
    if not dotted:
        return document
    if not isinstance(document, dict):
        return None
    if dotted in document:
        return document[dotted]
    head, _, rest = dotted.partition(".")
    return _dig(document.get(head), rest) if rest else None


def uid_of(document: Any) -> str:
    """The Event uid of a record written by kubevents or by the collector ("" if none)."""
    for path in ("uid", "Body.object.metadata.uid", "Body.metadata.uid",
                 "object.metadata.uid", "metadata.uid"):  # fmt: skip
        found = _dig(document, path)
        if isinstance(found, str) and found:
            return found
    return ""


class IndexRecords:
    """Documents in the indices matching ``pattern`` on an Elasticsearch/OpenSearch engine."""

    poll_interval = 0.25  # a _refresh each time: slower than reading a file

    def __init__(self, url: str, pattern: str) -> None:
        self.url = url
        self.pattern = pattern

    def count(self) -> int:
        return indexed(self.url, self.pattern)

    def uids(self) -> Iterator[str]:
        body = {"size": _SCROLL_SIZE, "sort": ["_doc"], "_source": UID_FIELDS}
        page = call(f"{self.url}/{self.pattern}/_search?scroll=2m&ignore_unavailable=true"
                    "&allow_no_indices=true", "POST", body)  # fmt: skip
        scroll = page.get("_scroll_id")
        try:
            while page["hits"]["hits"]:
                for hit in page["hits"]["hits"]:
                    yield uid_of(hit.get("_source", {}))
                page = call(f"{self.url}/_search/scroll", "POST",
                            {"scroll": "2m", "scroll_id": scroll})  # fmt: skip
                scroll = page.get("_scroll_id", scroll)
        finally:
            if scroll:
                call(f"{self.url}/_search/scroll", "DELETE", {"scroll_id": scroll})

    def discard(self) -> None:
        # Concrete names: Elasticsearch 8 refuses wildcard deletes by default.
        names = [
            row["index"]
            for row in call(f"{self.url}/_cat/indices/{self.pattern}?format=json&h=index")
        ]
        if names:
            call(f"{self.url}/{','.join(names)}", "DELETE")


class TopicRecords:
    """Records in a Kafka topic: counted by the partitions' end offsets, read by consuming it.

    The phases poll from synchronous code; the consumer lives on an event loop of its own in a
    thread, started with the first count.
    """

    poll_interval = 0.1

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._consumer: AIOKafkaConsumer | None = None

    def _run(self, coroutine: Coroutine[Any, Any, T]) -> T:
        if self._loop is None:
            self._loop = asyncio.new_event_loop()
            self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
            self._thread.start()
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(120)

    async def _partitions(self) -> list[TopicPartition]:
        if self._consumer is None:
            self._consumer = AIOKafkaConsumer(
                bootstrap_servers=self.bootstrap, enable_auto_commit=False
            )
            await self._consumer.start()
        cluster = await self._consumer._client.fetch_all_metadata()
        numbers = cluster.partitions_for_topic(self.topic) or set()
        return [TopicPartition(self.topic, p) for p in sorted(numbers)]

    async def _count(self) -> int:
        partitions = await self._partitions()
        if not partitions:
            return 0
        assert self._consumer is not None
        return int(sum((await self._consumer.end_offsets(partitions)).values()))

    def count(self) -> int:
        return self._run(self._count())

    async def _read(self) -> list[str]:
        partitions = await self._partitions()
        assert self._consumer is not None
        ends = await self._consumer.end_offsets(partitions)
        reader = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False,
                                  auto_offset_reset="earliest")  # fmt: skip
        await reader.start()
        uids: list[str] = []
        try:
            reader.assign(partitions)
            await reader.seek_to_beginning(*partitions)
            while [p for p in partitions if await reader.position(p) < ends[p]]:
                batches = await reader.getmany(timeout_ms=1000, max_records=5000)
                for records in batches.values():
                    uids.extend(uid_of(msgspec.json.decode(r.value or b"null")) for r in records)
        finally:
            await reader.stop()
        return uids

    def uids(self) -> Iterator[str]:
        return iter(self._run(self._read()))

    def discard(self) -> None:
        # The topic stays (a few tens of MB); the consumer and its loop go.
        if self._loop is None:
            return
        if self._consumer is not None:
            self._run(self._consumer.stop())
            self._consumer = None
        self._loop.call_soon_threadsafe(self._loop.stop)
        assert self._thread is not None
        self._thread.join(10)
        self._loop.close()
        self._loop = None

"""kubevents vs the OpenTelemetry collector: the race's phases, and the race into a file.

The phases, for any destination (``Records``: a file, an engine's indices, a Kafka topic):

- **backfill**: the Events exist before the process starts; from process start until every one
  is written. The collector in ``pull`` mode (one LIST at start-up), the one that can backfill.
- **burst**: a running process, its watch proven open by one sentinel Event it has written, is
  frozen (SIGSTOP) while ``burst`` Events are created, then thawed: SIGCONT until all written.

``race`` runs both ``repeats`` times, the contenders taking turns. Every contender's output is
then read whole and its Event uids compared with the apiserver's: records written, distinct
Events, duplicates and missing ones.

Into a file, the pipeline's own cost with no engine in the way: ``kubevents export`` → JSON Lines
vs the collector's ``k8sobjects`` receiver → ``batch`` → ``file`` exporter (``bench/_otelcol.py``),
on the same apiserver and the same Events as the rest of ``bench/exporter.py``; once each, also
the collector's ``watch`` mode as its README shows it (its initial LIST only yields a
resourceVersion) and ``watch`` from ``resource_version: "1"``. And a probe: the collector's
``elasticsearch`` exporter, pull mode, into the suite's OpenSearch: what it stores, or what it
says when it refuses. Into Elasticsearch 8.15: ``bench/_collector_search.py``; into Kafka:
``bench/kafka.py``.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, Protocol

import msgspec
from bench._exporter_support import (
    AppendedRecords,
    MeasuredProcess,
    Progress,
    delete_events,
    indexed,
    kubevents_export,
    seed_events,
)
from bench._otelcol import (
    OtlpFileCounter,
    collector,
    elasticsearch_exporter,
    file_exporter,
)

from kubevents.export import EventFields
from kubevents.kube import KubeClient
from kubevents_testenv import LocalCluster, SearchEngine

__all__ = [
    "Records",
    "backfill_phase",
    "burst_phase",
    "collector_race",
    "event_uids",
    "search_engine_probe",
]

# A contender that writes nothing new for STALL_SECONDS after its first record is done. Before
# its first record it gets FIRST_RECORD_WITHIN: the collector's one unpaged LIST of 100 000
# Events took over 30 s on a loaded VM (1.5 GB of RSS), and its watch-mode backfill writes
# nothing at all. In pull mode, the one that does backfill, it gets until the DEADLINE: at load
# average 15-20 its LIST took over 150 s.
STALL_SECONDS = 30.0
FIRST_RECORD_WITHIN = 150.0
DEADLINE = 300.0
SENTINEL_WITHIN = 60.0
# The elasticsearch exporter flushes every second: this long with nothing stored is an answer.
PROBE_STALL_SECONDS = 15.0
# The error of a collector log line (console encoding: "... {..., "error": "<message>"}").
_ERROR = re.compile(r'"error": "((?:[^"\\]|\\.)*)"')


class _Uid(msgspec.Struct):
    uid: str = ""


_decode_uid = msgspec.json.Decoder(_Uid).decode


class JsonlCounter(AppendedRecords):
    """kubevents' JSON Lines file: one line per occurrence."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, b"\n")

    def uids(self) -> Iterator[str]:
        return (_decode_uid(line).uid for line in self.lines())


def _wait_written(
    count: Callable[[], int],
    target: int,
    *,
    began: float,
    process: MeasuredProcess,
    deadline: float = DEADLINE,
    stall: float = STALL_SECONDS,
    base: int = 0,
    interval: float = 0.1,
    first_within: float = FIRST_RECORD_WITHIN,
) -> Progress:
    """Until ``target`` records are written, nothing new came for ``stall`` s (before the first
    record: ``first_within``), or ``deadline``.

    ``seconds`` is when the final count was first seen, not when the wait gave up.
    """
    timeline: list[tuple[float, int]] = []
    first: float | None = None
    done, moved = 0, 0.0
    while True:
        sample = process.sample()
        now = count()
        elapsed = time.perf_counter() - began
        if now != done or not timeline:
            timeline.append((round(elapsed, 2), now))
            moved = elapsed
        done = now
        if done > base and first is None:
            first = elapsed
        quiet = elapsed - moved >= (stall if first is not None else max(stall, first_within))
        if done >= target or elapsed >= deadline or quiet:
            break
        time.sleep(interval)
    return Progress(target, moved, done, first, sample.cpu_seconds, sample.peak_rss, 0.0, timeline)


def _audit(uids: Iterable[str], expected: set[str]) -> dict[str, int]:
    """Records written vs the Events expected: distinct, duplicated, missing, foreign."""
    seen = Counter(uids)
    return {
        "expected": len(expected),
        "records": sum(seen.values()),
        "distinct": len(seen.keys() & expected),
        "duplicates": sum(n - 1 for n in seen.values()),
        "missing": len(expected - seen.keys()),
        "unexpected": len(seen.keys() - expected),
    }


async def event_uids(cluster: LocalCluster, namespace: str | None) -> set[str]:
    uids: set[str] = set()
    async with await KubeClient.connect(cluster.kubeconfig) as client:
        async for page in client.events.decoding(EventFields).list_pages(namespace, limit=500):
            uids.update(event.metadata.uid for event in page.items)
    return uids


def _summary(progress: Progress, audit: dict[str, int]) -> dict[str, Any]:
    return {
        "seconds": round(progress.seconds, 2),
        "written": progress.done,
        "first_record_seconds": progress.first_doc_seconds,
        "cpu_seconds": progress.cpu_seconds,
        "peak_rss": progress.peak_rss,
        "audit": audit,
        "timeline": progress.timeline,
    }


class Records(Protocol):
    """Where a contender writes: a file, an engine's indices, a Kafka topic."""

    poll_interval: float

    def count(self) -> int: ...
    def uids(self) -> Iterator[str]: ...
    def discard(self) -> None: ...


def backfill_phase(
    process: MeasuredProcess,
    records: Records,
    expected: set[str],
    first_within: float = FIRST_RECORD_WITHIN,
) -> dict[str, Any]:
    """From process start until every Event of ``expected`` is written; then the audit."""
    process.start()
    try:
        progress = _wait_written(
            records.count, len(expected), began=process.started, process=process,
            interval=records.poll_interval, first_within=first_within,
        )  # fmt: skip
    finally:
        process.stop()
    audit = _audit(records.uids(), expected)
    records.discard()  # the process's log stays
    return _summary(progress, audit)


def burst_phase(
    cluster: LocalCluster,
    process: MeasuredProcess,
    records: Records,
    namespace: str,
    burst: int,
    first: int,
) -> dict[str, Any]:
    """A watching process, frozen while ``burst`` Events are created: from the thaw until all
    are written; then the audit (the sentinels left out)."""
    process.start()
    try:
        # The collector never writes Events created before its watch opens (its LIST only yields
        # a resourceVersion) and says nothing when it opens, so sentinels are created, one every
        # 2 s, until one is written: from then on the watch is open.
        sentinel = first
        while records.count() == 0:
            if time.perf_counter() - process.started > SENTINEL_WITHIN:
                raise RuntimeError(f"{process.args[0]} wrote no sentinel in {SENTINEL_WITHIN}s")
            asyncio.run(seed_events(cluster, [namespace], 1, sentinel))
            sentinel += 1
            _wait_written(records.count, 1, began=time.perf_counter(), process=process,
                          deadline=2.0, interval=records.poll_interval)  # fmt: skip
        time.sleep(1.0)  # a late sentinel is not counted as part of the burst
        written = records.count()
        sentinels = asyncio.run(event_uids(cluster, namespace))
        before = process.sample()
        assert process.proc is not None
        os.kill(process.proc.pid, signal.SIGSTOP)
        try:
            asyncio.run(seed_events(cluster, [namespace], burst, sentinel))
        finally:
            os.kill(process.proc.pid, signal.SIGCONT)
        resumed = time.perf_counter()
        progress = _wait_written(
            records.count, written + burst, began=resumed, process=process, base=written,
            interval=records.poll_interval,
        )  # fmt: skip
    finally:
        process.stop()
    progress.done -= written
    progress.cpu_seconds -= before.cpu_seconds
    expected = asyncio.run(event_uids(cluster, namespace)) - sentinels
    audit = _audit((uid for uid in records.uids() if uid not in sentinels), expected)
    records.discard()
    asyncio.run(delete_events(cluster, namespace))
    return _summary(progress, audit)


def search_engine_probe(
    cluster: LocalCluster, engine: SearchEngine, workdir: Path
) -> dict[str, Any]:
    """The collector's elasticsearch exporter, pull mode, into ``engine``: stored, or refused."""
    expected = len(asyncio.run(event_uids(cluster, None)))
    index = f"bench-otelcol-{engine.product}"
    exporter = elasticsearch_exporter(engine.url, index)
    process = collector(cluster, workdir, f"otelcol-{engine.product}", exporter, mode="pull")
    process.start()
    try:
        progress = _wait_written(
            lambda: indexed(engine.url, f"{index}*"), expected, began=process.started,
            process=process, stall=PROBE_STALL_SECONDS,
        )  # fmt: skip
    finally:
        process.stop()
    errors = _ERROR.findall(process.log.read_text(errors="replace"))
    return {
        "engine": f"{engine.product} {engine.version}",
        "stored": progress.done,
        "expected": expected,
        "seconds": round(progress.seconds, 2),
        "cpu_seconds": progress.cpu_seconds,
        "peak_rss": progress.peak_rss,
        "errors": len(errors),
        "first_error": errors[0] if errors else "",
    }


# (name, namespace or None for all, receiver mode) -> the process, not started, and its records.
Contender = Callable[[str, str | None, str], tuple[MeasuredProcess, Records]]


def race(
    cluster: LocalCluster,
    expected: set[str],
    contenders: dict[str, Contender],
    *,
    tag: str,
    burst: int,
    first: int,
    repeats: int,
    backfill_namespace: str | None = None,
) -> dict[str, Any]:
    """Backfill (pull mode) and burst (watch mode), each contender ``repeats`` times.

    The contenders take turns within each repetition, so load from other work on the machine
    falls on all of them alike. Each burst watches a namespace of its own.
    """
    out: dict[str, Any] = {
        "backfill_expected": len(expected),
        "repeats": repeats,
        "backfill": {who: [] for who in contenders},
        "burst": {who: [] for who in contenders},
    }
    for rep in range(repeats):
        for who, contender in contenders.items():
            process, records = contender(f"{tag}-backfill-{who}-{rep}", backfill_namespace, "pull")
            out["backfill"][who].append(backfill_phase(process, records, expected, DEADLINE))
    for rep in range(repeats):
        for k, (who, contender) in enumerate(contenders.items()):
            namespace = f"bench-{tag}-burst-{who}-{rep}"
            process, records = contender(f"{tag}-burst-{who}-{rep}", namespace, "watch")
            offset = first + (rep * len(contenders) + k) * 100_000
            out["burst"][who].append(
                burst_phase(cluster, process, records, namespace, burst, offset)
            )
    return out


def collector_race(
    cluster: LocalCluster,
    engine: SearchEngine,
    workdir: Path,
    burst: int,
    first: int,
    repeats: int,
) -> dict[str, Any]:
    """Into a file: every phase above; the suite's seeded Events must already exist."""
    expected = asyncio.run(event_uids(cluster, None))

    def jsonl(name: str, namespace: str | None, mode: str) -> tuple[MeasuredProcess, Records]:
        path = workdir / f"{name}.jsonl"
        process, _ = kubevents_export(
            cluster, workdir, name, {"type": "jsonl", "path": str(path)}, namespace
        )
        return process, JsonlCounter(path)

    def otel(
        name: str, namespace: str | None, mode: str, **receiver: Any
    ) -> tuple[MeasuredProcess, Records]:
        path = workdir / f"{name}.otlp.jsonl"
        process = collector(
            cluster, workdir, name, file_exporter(path), mode=mode, namespace=namespace, **receiver
        )
        return process, OtlpFileCounter(path)

    out = race(
        cluster, expected, {"kubevents": jsonl, "otelcol": otel}, tag="file",
        burst=burst, first=first, repeats=repeats,
    )  # fmt: skip
    # Once each: what the collector's watch mode does with Events that exist when it starts.
    out["backfill"]["otelcol_watch"] = [
        backfill_phase(*otel("file-otelcol-watch", None, "watch"), expected)
    ]
    out["backfill"]["otelcol_watch_rv1"] = [
        backfill_phase(
            *otel("file-otelcol-watch-rv1", None, "watch", resource_version="1"), expected
        )
    ]
    out["search"] = [search_engine_probe(cluster, engine, workdir)]
    return out

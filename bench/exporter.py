"""Exporter benchmarks: kubevents vs resmo's kubernetes-event-exporter vs the raw bulk ceiling.

Everything real and on this machine: the local kube-apiserver + etcd, one OpenSearch node from
Maven Central, ``kubevents export`` and resmo KEE (built from its Go module, ``bench/_kee.py``) as
the child processes a user would run, each with its OpenSearch sink and default settings.

- **backfill**: ``BACKFILL_EVENTS`` Events exist before the exporter starts; from process start
  until every one is searchable in OpenSearch. events/s, CPU seconds per 1 000 events (the
  process's utime + stime), peak RSS (VmHWM), the engine's CPU for the same work.
- **flood**, on a running exporter, synced on an empty namespace, in two phases:
  *live*: ``FLOOD_LIVE`` Events are created as fast as the generator can (48 creates in flight);
  from the first create until the last document is searchable, and how far behind the exporter
  was when the generator finished. The rate is capped by what the generator offers.
  *burst*: the exporter is frozen (SIGSTOP) while ``FLOOD_BURST`` more are created, then thawed:
  from SIGCONT until all are searchable, i.e. how fast it drains its watch when it is the
  bottleneck.
- **ceiling**: the very documents kubevents writes for the backfill, encoded and gzipped up
  front, sent with ``_bulk`` at kubevents' batch size and concurrency straight into OpenSearch.
  No exporter can beat it on this engine; kubevents / ceiling is the exporter's overhead. The
  ceiling and kubevents' backfill take ``BACKFILL_TURNS`` turns each, alternating, each into a
  fresh index deleted after it; the rows give the median turn and the spread.

Documents are counted with ``_refresh`` + ``_count`` every 0.25 s, the same for all three.

Then the OpenTelemetry collector: into a file (``bench/_collector_race.py``) and, once OpenSearch
is stopped, into an Elasticsearch 8.15 node (``bench/_collector_search.py``), each phase
``COLLECTOR_REPEATS`` times.
"""

from __future__ import annotations

import asyncio
import gzip
import os
import signal
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from statistics import median
from typing import Any

import aiohttp
import yaml
from bench._collector_race import collector_race
from bench._collector_rows import probe_rows, race_rows
from bench._collector_search import search_race
from bench._exporter_support import (
    MeasuredProcess,
    Progress,
    call,
    delete_events,
    indexed,
    kubevents_export,
    process_cpu_seconds,
    seed_events,
    wait_until_indexed,
)
from bench._kee import KEE_PACKAGE, KEE_VERSION, kee_binary
from bench._otelcol import OTELCOL_VERSION, otelcol_binary
from bench.common import BenchContext, Row, Stopwatch, Suite

from kubevents.export import EventFields, Occurrence
from kubevents.export.sinks import ElasticsearchSink
from kubevents.kube import KubeClient
from kubevents_testenv import ElasticsearchNode, LocalCluster, SearchEngine, free_ports

NAME = "exporter"

BACKFILL_EVENTS = 100_000
FLOOD_LIVE = 20_000
FLOOD_BURST = 30_000
BACKFILL_NAMESPACES = 20
# KEE writes one document per request; past these it is stopped and its rate taken from what it
# stored by then (the table says so).
KEE_BACKFILL_DEADLINE = 420.0
FLOOD_DEADLINE = 300.0
KUBEVENTS_DEADLINE = 600.0
# kubevents' defaults (buffer.max_batch_size, buffer.max_concurrency, gzip level 1).
CEILING_BATCH = 500
CEILING_CONCURRENCY = 4
CEILING_GZIP_LEVEL = 1

# Each phase of the races against the OTel collector runs this often (the contenders taking
# turns): the table gives the median and the range.
COLLECTOR_REPEATS = 3
# The raw ceiling and kubevents' backfill alternate this often; rows give the median turn.
BACKFILL_TURNS = 3

TARGET_PEER_RATIO = 5.0
TARGET_CEILING_RATIO = 0.8
TARGET_BACKFILL_RSS = 150 * 2**20

# -- the three contenders ---------------------------------------------------------------------


async def _ceiling_occurrences(kubeconfig: Path) -> list[Occurrence]:
    """Every Event of the cluster as the occurrences kubevents' backfill would store."""
    occurrences: list[Occurrence] = []
    async with await KubeClient.connect(kubeconfig) as client:
        async for page in client.events.decoding(EventFields).list_pages(None, limit=500):
            for event, raw in zip(page.items, page.raw_items, strict=True):
                occurrences.append(Occurrence.of(event, raw, "bench"))
    return occurrences


def _ceiling(engine: SearchEngine, occurrences: list[Occurrence], index: str) -> dict[str, Any]:
    """One timed ``_bulk`` load of kubevents' own documents, with the engine's CPU for it.

    Encoding and compression happen before the clock starts; the index is deleted after, so
    every turn (and the exporter's turns between them) meets an engine holding the same data.
    """
    bodies = asyncio.run(_ceiling_bodies(engine, occurrences, index))
    engine_pid = engine.proc.pid if engine.proc else None
    engine_cpu0 = process_cpu_seconds(engine_pid) if engine_pid else 0.0
    seconds = asyncio.run(_bulk_load(engine, bodies, index, len(occurrences)))
    engine_cpu = (process_cpu_seconds(engine_pid) - engine_cpu0) if engine_pid else 0.0
    call(f"{engine.url}/{index}-*", "DELETE")
    return {
        "events": len(occurrences), "seconds": seconds, "requests": len(bodies),
        "engine_cpu_seconds": round(engine_cpu, 2),
    }  # fmt: skip


async def _ceiling_bodies(
    engine: SearchEngine, occurrences: list[Occurrence], index: str
) -> list[bytes]:
    sink = ElasticsearchSink([engine.url], index=index)
    await sink.start()  # the same template as kubevents' indices
    # The sink's own encoder, so the ceiling sends exactly the bytes kubevents would.
    bodies = [
        gzip.compress(
            b"".join(sink._encode(occ).lines for occ in occurrences[start : start + CEILING_BATCH]),
            CEILING_GZIP_LEVEL,
            mtime=0,
        )
        for start in range(0, len(occurrences), CEILING_BATCH)
    ]
    await sink.close()
    return bodies


async def _bulk_load(engine: SearchEngine, bodies: list[bytes], index: str, events: int) -> float:
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    headers = {"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip"}

    async def worker(session: aiohttp.ClientSession) -> None:
        while not queue.empty():
            body = queue.get_nowait()
            async with session.post(f"{engine.url}/_bulk?filter_path=errors", data=body,
                                    headers=headers) as response:  # fmt: skip
                answer = await response.json()
                if response.status != 200 or answer.get("errors"):
                    raise RuntimeError(f"ceiling _bulk failed: {response.status} {answer}")

    async with aiohttp.ClientSession() as session:
        began = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(CEILING_CONCURRENCY)))
        call(f"{engine.url}/{index}-*/_refresh", "POST")
        seconds = time.perf_counter() - began
    stored = indexed(engine.url, f"{index}-*")
    if stored != events:
        raise RuntimeError(f"the bulk load stored {stored} of {events} documents")
    return seconds


def _kubevents(
    cluster: LocalCluster, engine: SearchEngine, workdir: Path, index: str, namespace: str | None
) -> tuple[MeasuredProcess, int]:
    sink = {"type": "opensearch", "hosts": [engine.url], "index": index}
    return kubevents_export(cluster, workdir, index, sink, namespace)


def _kee(
    cluster: LocalCluster, engine: SearchEngine, workdir: Path, index: str, namespace: str | None
) -> tuple[MeasuredProcess, int]:
    config: dict[str, Any] = {
        "logLevel": "warn",
        "logFormat": "json",
        # The default (5 s) discards every Event older than that: a backfill would store nothing.
        "maxEventAgeSeconds": 86_400,
        # Its fastest settings: no per-event GET of the involved object, no client throttling.
        "omitLookup": True,
        "kubeQPS": 1000,
        "kubeBurst": 1000,
        "route": {"routes": [{"match": [{"receiver": "opensearch"}]}]},
        "receivers": [
            {
                "name": "opensearch",
                # useEventID: the Event uid as _id, the closest KEE has to idempotent writes.
                "opensearch": {"hosts": [engine.url], "index": index, "useEventID": True},
            }
        ],
    }
    if namespace:
        config["namespace"] = namespace
    path = workdir / f"{index}.yaml"
    path.write_text(yaml.safe_dump(config))
    (port,) = free_ports(1)
    args = [
        str(kee_binary()), "-conf", str(path), "-kubeconfig", str(cluster.kubeconfig),
        "-metrics-address", f"127.0.0.1:{port}",
    ]  # fmt: skip
    return MeasuredProcess(args, workdir / f"{index}.log"), port


def _wait_serving(process: MeasuredProcess, url: str, within: float = 60.0) -> None:
    """Until the process answers ``url`` (kubevents: /readyz, i.e. listed and watching)."""
    deadline = time.monotonic() + within
    while True:
        process.sample()  # raises if it died
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{process.args[0]} did not answer {url} within {within:.0f}s")
        time.sleep(0.1)


def _backfill(
    process: MeasuredProcess, engine: SearchEngine, pattern: str, target: int,
    deadline: float,
) -> Progress:  # fmt: skip
    process.start()
    try:
        return wait_until_indexed(
            engine.url, pattern, target, began=process.started, deadline=deadline,
            process=process, engine_pid=engine.proc.pid if engine.proc else None,
        )  # fmt: skip
    finally:
        process.stop()


def _flood(
    cluster: LocalCluster, engine: SearchEngine, process: MeasuredProcess, ready_url: str,
    namespace: str, pattern: str, live: int, burst: int, first: int,
) -> dict[str, Any]:  # fmt: skip
    """A live flood, then a burst: see the module docstring."""
    engine_pid = engine.proc.pid if engine.proc else None
    process.start()
    try:
        _wait_serving(process, ready_url)
        # KEE has no readiness endpoint: its metrics port answers before the informer has
        # listed. Events created before its watch starts arrive through its list instead, so
        # nothing is missed either way; the clock starts at the first create.
        before = process.sample()
        generator: dict[str, float] = {}
        began = time.perf_counter()

        def generate() -> None:
            generator["rate"] = asyncio.run(seed_events(cluster, [namespace], live, first))
            generator["seconds"] = time.perf_counter() - began

        thread = threading.Thread(target=generate, name="flood-generator")
        thread.start()
        try:
            live_progress = wait_until_indexed(
                engine.url, pattern, live, began=began, deadline=FLOOD_DEADLINE,
                process=process, engine_pid=engine_pid,
            )  # fmt: skip
        finally:
            thread.join()
        if "rate" not in generator:
            raise RuntimeError("the flood generator failed (see above)")
        middle = process.sample()

        # The burst: the exporter is frozen (SIGSTOP) while the Events are created, so that
        # once thawed it drains them from its open watch as fast as it can.
        assert process.proc is not None
        os.kill(process.proc.pid, signal.SIGSTOP)
        try:
            asyncio.run(seed_events(cluster, [namespace], burst, first + live))
        finally:
            os.kill(process.proc.pid, signal.SIGCONT)
        resumed = time.perf_counter()
        burst_progress = wait_until_indexed(
            engine.url, pattern, live + burst, began=resumed, deadline=FLOOD_DEADLINE,
            process=process, engine_pid=engine_pid,
        )  # fmt: skip
    finally:
        process.stop()
    return {
        "live": {
            "events": live,
            "stored": live_progress.done,
            "seconds": live_progress.seconds,
            "offered_rate": generator["rate"],
            "generator_seconds": generator["seconds"],
            "lag_after_last_create": live_progress.seconds - generator["seconds"],
            "cpu_seconds": middle.cpu_seconds - before.cpu_seconds,
            "engine_cpu_seconds": live_progress.engine_cpu_seconds,
            "timeline": live_progress.timeline,
        },
        "burst": {
            "events": burst,
            "stored": burst_progress.done - live_progress.done,
            "seconds": burst_progress.seconds,
            "cpu_seconds": burst_progress.cpu_seconds - middle.cpu_seconds,
            "engine_cpu_seconds": burst_progress.engine_cpu_seconds,
            "timeline": burst_progress.timeline,
        },
        "peak_rss": burst_progress.peak_rss,
    }


# -- the suite --------------------------------------------------------------------------------


def _rate(done: int, seconds: float) -> float:
    return done / seconds if seconds > 0 else 0.0


def _summary(progress: Progress) -> dict[str, Any]:
    return {
        "target": progress.target,
        "stored": progress.done,
        "seconds": round(progress.seconds, 2),
        "first_doc_seconds": progress.first_doc_seconds,
        "cpu_seconds": progress.cpu_seconds,
        "peak_rss": progress.peak_rss,
        "engine_cpu_seconds": progress.engine_cpu_seconds,
        "timeline": progress.timeline,
    }


def run(ctx: BenchContext) -> Suite:
    watch = Stopwatch()
    backfill_events = BACKFILL_EVENTS // 10 if ctx.quick else BACKFILL_EVENTS
    live, burst = (FLOOD_LIVE // 10, FLOOD_BURST // 10) if ctx.quick else (FLOOD_LIVE, FLOOD_BURST)
    kee_deadline = KEE_BACKFILL_DEADLINE / 4 if ctx.quick else KEE_BACKFILL_DEADLINE
    repeats = 1 if ctx.quick else COLLECTOR_REPEATS
    backfill_turns = 1 if ctx.quick else BACKFILL_TURNS
    kee_binary()  # built (or found) before anything is timed
    otelcol_binary()
    cluster = ctx.cluster()
    workdir = Path(tempfile.mkdtemp(prefix="kubevents-bench-exporter-"))
    engine = SearchEngine("opensearch", heap="2g")
    engine.start()
    details: dict[str, Any] = {
        "engine": f"{engine.product} {engine.version}",
        "peer": f"{KEE_PACKAGE} {KEE_VERSION}",
        "otelcol": f"opentelemetry-collector-contrib {OTELCOL_VERSION}",
    }
    try:
        namespaces = [f"bench-backfill-{k:02d}" for k in range(BACKFILL_NAMESPACES)]
        details["seed_rate"] = asyncio.run(seed_events(cluster, namespaces, backfill_events))
        total = asyncio.run(_count_events(cluster.kubeconfig))
        details["backfill_events"] = total

        # The ceiling and kubevents' backfill take turns: the VM's speed drifts by more than
        # the ratio's margin over half an hour, so one sample of each says little.
        occurrences = asyncio.run(_ceiling_occurrences(cluster.kubeconfig))
        _ceiling(engine, occurrences, "bench-warmup")  # JIT and caches, untimed
        ceilings: list[dict[str, Any]] = []
        backfills: list[Progress] = []
        for turn in range(backfill_turns):
            ceilings.append(_ceiling(engine, occurrences, f"bench-ceiling-{turn}"))
            proc, port = _kubevents(cluster, engine, workdir, f"bench-kubevents-{turn}", None)
            backfills.append(
                _backfill(proc, engine, f"bench-kubevents-{turn}-*", total, KUBEVENTS_DEADLINE)
            )
            call(f"{engine.url}/bench-kubevents-{turn}-*", "DELETE")
        del occurrences
        details["ceiling"] = ceilings
        details["kubevents_backfill"] = [_summary(kv) for kv in backfills]
        kv = sorted(backfills, key=lambda p: _rate(p.done, p.seconds))[len(backfills) // 2]

        proc, port = _kee(cluster, engine, workdir, "bench-kee", None)
        kee = _backfill(proc, engine, "bench-kee", total, kee_deadline)
        details["kee_backfill"] = _summary(kee)

        # kubevents vs the OTel collector: into a file, then the collector into OpenSearch.
        details["otelcol"] = collector_race(cluster, engine, workdir, burst, 30_000_000, repeats)

        proc, port = _kubevents(cluster, engine, workdir, "flood-kubevents", "bench-flood-kv")
        kv_flood = _flood(
            cluster, engine, proc, f"http://127.0.0.1:{port}/readyz", "bench-flood-kv",
            "flood-kubevents-*", live, burst, 10_000_000,
        )  # fmt: skip
        details["kubevents_flood"] = kv_flood
        proc, port = _kee(cluster, engine, workdir, "flood-kee", "bench-flood-kee")
        kee_flood = _flood(
            cluster, engine, proc, f"http://127.0.0.1:{port}/metrics", "bench-flood-kee",
            "flood-kee", live, burst, 20_000_000,
        )  # fmt: skip
        details["kee_flood"] = kee_flood
        # Only the seeded Events stay for the backfills into Elasticsearch below.
        for namespace in ("bench-flood-kv", "bench-flood-kee"):
            asyncio.run(delete_events(cluster, namespace))
    finally:
        engine.close()
    # Into Elasticsearch 8.15, the one engine here the collector's exporter accepts, alone on
    # the machine (two engines at once starve the 2 cores).
    with ElasticsearchNode(heap="2g", main_info=True) as node:
        details["otelcol_search"] = search_race(cluster, node, workdir, burst, 40_000_000, repeats)
    rows = _rows(total, ceilings, backfills, kv, kee, kv_flood, kee_flood)
    rows += race_rows(
        details["otelcol"], "into a file",
        "kubevents → JSON Lines (fsync per batch) vs k8sobjects → batch → file (no fsync)",
    )  # fmt: skip
    rows += race_rows(
        details["otelcol_search"], f"into {details['otelcol_search']['engine']}",
        "kubevents → its elasticsearch sink (gzip) vs k8sobjects → batch → elasticsearch "
        "(uncompressed: the exporter has no compression)",
    )  # fmt: skip
    rows += probe_rows(details["otelcol"]["search"], _rate(kv.done, kv.seconds))
    return Suite(NAME, rows, watch.seconds, details)


async def _count_events(kubeconfig: Path) -> int:
    total = 0
    async with await KubeClient.connect(kubeconfig) as client:
        async for page in client.events.decoding(EventFields).list_pages(None, limit=500):
            total += len(page.items)
    return total


def _rows(
    total: int, ceilings: list[dict[str, Any]], backfills: list[Progress], kv: Progress,
    kee: Progress, kv_flood: dict[str, Any], kee_flood: dict[str, Any],
) -> list[Row]:  # fmt: skip
    kee_name = f"resmo KEE {KEE_VERSION}"
    kv_rate = _rate(kv.done, kv.seconds)
    kee_rate = _rate(kee.done, kee.seconds)
    ceiling_rates = [_rate(c["events"], c["seconds"]) for c in ceilings]
    kv_rates = [_rate(p.done, p.seconds) for p in backfills]
    ceiling_rate = median(ceiling_rates)
    per_turn = [k / c for k, c in zip(kv_rates, ceiling_rates, strict=True)]
    engine_per_1000 = (
        1000 * median(c["engine_cpu_seconds"] for c in ceilings) / ceilings[0]["events"],
        1000 * median(p.engine_cpu_seconds for p in backfills) / max(kv.done, 1),
    )
    kee_partial = "" if kee.done >= total else (
        f"; KEE stopped after {kee.seconds:.0f}s with {kee.done} of {total} stored"
    )  # fmt: skip
    kv_live, kee_live = kv_flood["live"], kee_flood["live"]
    kv_burst, kee_burst = kv_flood["burst"], kee_flood["burst"]
    kv_live_rate = _rate(kv_live["stored"], kv_live["seconds"])
    kee_live_rate = _rate(kee_live["stored"], kee_live["seconds"])
    kv_burst_rate = _rate(kv_burst["stored"], kv_burst["seconds"])
    kee_burst_rate = _rate(kee_burst["stored"], kee_burst["seconds"])
    mib = 2**20
    rows = [
        Row(
            "backfill rate into OpenSearch",
            "events/s",
            kv_rate,
            kee_rate,
            kee_name,
            kv_rate / kee_rate if kee_rate else None,
            f"≥ {TARGET_PEER_RATIO:g}× KEE",
            kee_rate > 0 and kv_rate / kee_rate >= TARGET_PEER_RATIO,
            f"{total} Events listed and stored; process start to all searchable: "
            f"{kv.seconds:.1f}s vs {kee.seconds:.1f}s{kee_partial}",
        ),
        Row(
            "backfill rate vs raw _bulk ceiling",
            "events/s",
            kv_rate,
            ceiling_rate,
            "raw _bulk, same docs",
            median(kv_rates) / ceiling_rate,
            f"≥ {TARGET_CEILING_RATIO:g}× ceiling",
            median(kv_rates) / ceiling_rate >= TARGET_CEILING_RATIO,
            f"ceiling: {ceilings[0]['requests']} pre-encoded gzip bulks of {CEILING_BATCH}, "
            f"{CEILING_CONCURRENCY} in flight; median of {len(ceilings)} turns, alternating: "
            f"kubevents {min(kv_rates):,.0f}–{max(kv_rates):,.0f}, ceiling "
            f"{min(ceiling_rates):,.0f}–{max(ceiling_rates):,.0f}; per turn "
            f"{min(per_turn):.2f}–{max(per_turn):.2f}×; OpenSearch CPU per 1000: "
            f"{engine_per_1000[1]:.2f} s (kubevents) vs {engine_per_1000[0]:.2f} s (ceiling)",
        ),
        Row(
            "backfill CPU per 1000 events",
            "CPU s",
            1000 * kv.cpu_seconds / max(kv.done, 1),
            1000 * kee.cpu_seconds / max(kee.done, 1),
            kee_name,
            _lower_is_better(kv.cpu_seconds / max(kv.done, 1), kee.cpu_seconds / max(kee.done, 1)),
            "",
            None,
            f"exporter process utime+stime incl. start-up; OpenSearch's CPU per 1000: "
            f"{1000 * kv.engine_cpu_seconds / max(kv.done, 1):.2f} s vs "
            f"{1000 * kee.engine_cpu_seconds / max(kee.done, 1):.2f} s",
        ),
        Row(
            f"backfill peak RSS, {total // 1000}k events",
            "MiB",
            kv.peak_rss / mib,
            kee.peak_rss / mib,
            kee_name,
            _lower_is_better(kv.peak_rss, kee.peak_rss),
            "< 150 MiB and ≤ KEE",
            kv.peak_rss < TARGET_BACKFILL_RSS and kv.peak_rss <= kee.peak_rss,
            "VmHWM of the exporter process" + (kee_partial and " (KEE at its stop)"),
        ),
        Row(
            "flood (live) rate into OpenSearch",
            "events/s",
            kv_live_rate,
            kee_live_rate,
            kee_name,
            _ratio(kv_live_rate, kee_live_rate),
            "",
            None,
            f"{kv_live['events']} Events created while exporting, offered at "
            f"{kv_live['offered_rate']:.0f}/s and {kee_live['offered_rate']:.0f}/s: capped by "
            f"the generator; behind by {kv_live['lag_after_last_create']:.1f}s vs "
            f"{kee_live['lag_after_last_create']:.1f}s when it finished" + _partial(kee_live),
        ),
        Row(
            "flood (burst) drain rate into OpenSearch",
            "events/s",
            kv_burst_rate,
            kee_burst_rate,
            kee_name,
            _ratio(kv_burst_rate, kee_burst_rate),
            f"≥ {TARGET_PEER_RATIO:g}× KEE",
            _at_least(kv_burst_rate, kee_burst_rate),
            f"{kv_burst['events']} Events waiting in the open watch; SIGCONT to all "
            f"searchable: {kv_burst['seconds']:.1f}s vs {kee_burst['seconds']:.1f}s"
            + _partial(kee_burst),
        ),
        Row(
            "flood (burst) vs raw _bulk ceiling",
            "events/s",
            kv_burst_rate,
            ceiling_rate,
            "raw _bulk, same docs",
            _ratio(kv_burst_rate, ceiling_rate),
            f"≥ {TARGET_CEILING_RATIO:g}× ceiling",
            kv_burst_rate / ceiling_rate >= TARGET_CEILING_RATIO,
            "the ceiling of the backfill",
        ),
        Row(
            "flood (burst) CPU per 1000 events",
            "CPU s",
            1000 * kv_burst["cpu_seconds"] / max(kv_burst["stored"], 1),
            1000 * kee_burst["cpu_seconds"] / max(kee_burst["stored"], 1),
            kee_name,
            _lower_is_better(
                kv_burst["cpu_seconds"] / max(kv_burst["stored"], 1),
                kee_burst["cpu_seconds"] / max(kee_burst["stored"], 1),
            ),
            "",
            None,
            f"exporter process; OpenSearch's CPU per 1000: "
            f"{1000 * kv_burst['engine_cpu_seconds'] / max(kv_burst['stored'], 1):.2f} s vs "
            f"{1000 * kee_burst['engine_cpu_seconds'] / max(kee_burst['stored'], 1):.2f} s",
        ),
    ]
    return rows


def _ratio(kubevents: float, baseline: float) -> float | None:
    return kubevents / baseline if baseline > 0 else None


def _at_least(kubevents: float, baseline: float) -> bool:
    return baseline > 0 and kubevents / baseline >= TARGET_PEER_RATIO


def _partial(phase: dict[str, Any]) -> str:
    if phase["stored"] >= phase["events"]:
        return ""
    return f"; KEE had stored {phase['stored']} of {phase['events']} at its deadline"


def _lower_is_better(kubevents: float, baseline: float) -> float | None:
    return baseline / kubevents if kubevents > 0 else None

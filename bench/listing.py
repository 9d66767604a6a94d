"""What a LIST page size costs: the exporter's relist, by ``limit``, on the real apiserver.

client-go pages its LISTs by 500, and so does the exporter by default (``page_size``). Larger
pages mean fewer round trips but a larger response the apiserver builds (and the exporter holds)
at once. This suite lists the same ``EVENTS`` Events (spread over 20 namespaces, as in the
exporter's backfill) with several page sizes, interleaved and repeated, and reports for each:

- the listing rate the exporter sees (events/s), decoding each page into ``EventFields`` as the
  relist does, one page at a time (no prefetch: the page size alone);
- the apiserver's CPU seconds per 1 000 Events (its utime + stime from /proc over the list);
- the largest response body, i.e. what one page costs in memory on both sides.

The ratios are against the default page (500). ``python bench/run.py listing`` runs it alone.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

from bench._exporter_support import seed_events
from bench.common import BenchContext, Row, Stopwatch, Suite

from kubevents.export import EventFields
from kubevents.kube import KubeClient
from kubevents_testenv import LocalCluster

NAME = "listing"

EVENTS = 100_000
NAMESPACES = 20
PAGE_SIZES = (250, 500, 1000, 2000, 5000)
DEFAULT_PAGE = 500
REPEATS = 3
_CLOCK_TICKS = 100


def _cpu_seconds(pid: int) -> float:
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def _apiserver_pid(cluster: LocalCluster) -> int:
    pid = cluster.apiserver_pid
    if pid is None:
        raise RuntimeError("the local cluster's apiserver is not running")
    return pid


async def _list_all(cluster: LocalCluster, limit: int) -> dict[str, float]:
    pid = _apiserver_pid(cluster)
    async with await KubeClient.connect(cluster.kubeconfig) as client:
        events = client.events.decoding(EventFields)
        cpu_before = _cpu_seconds(pid)
        began = time.perf_counter()
        count = pages = largest = 0
        async for page in events.list_pages(None, limit=limit):
            count += len(page.items)
            pages += 1
            largest = max(largest, sum(len(raw) for raw in page.raw_items))
        seconds = time.perf_counter() - began
        cpu = _cpu_seconds(pid) - cpu_before
    return {"events": count, "pages": pages, "seconds": seconds, "apiserver_cpu": cpu,
            "largest_page_bytes": largest}  # fmt: skip


def measure(cluster: LocalCluster, repeats: int) -> dict[int, list[dict[str, float]]]:
    runs: dict[int, list[dict[str, float]]] = {size: [] for size in PAGE_SIZES}
    asyncio.run(_list_all(cluster, DEFAULT_PAGE))  # warms the apiserver's caches up
    for _ in range(repeats):
        for size in PAGE_SIZES:
            runs[size].append(asyncio.run(_list_all(cluster, size)))
    return runs


def run(ctx: BenchContext) -> Suite:
    watch = Stopwatch()
    total = EVENTS // 10 if ctx.quick else EVENTS
    repeats = 2 if ctx.quick else REPEATS
    cluster = ctx.cluster()
    namespaces = [f"bench-listing-{k:02d}" for k in range(NAMESPACES)]
    seed_rate = asyncio.run(seed_events(cluster, namespaces, total))
    runs = measure(cluster, repeats)
    events = runs[DEFAULT_PAGE][0]["events"]

    def rate(size: int) -> float:
        return statistics.median(r["events"] / r["seconds"] for r in runs[size])

    def cpu_per_1000(size: int) -> float:
        return statistics.median(r["apiserver_cpu"] * 1000 / r["events"] for r in runs[size])

    rows = []
    for size in PAGE_SIZES:
        spread = ", ".join(f"{r['events'] / r['seconds']:,.0f}" for r in runs[size])
        largest = max(r["largest_page_bytes"] for r in runs[size]) / 2**20
        rows.append(Row(
            f"LIST rate, page {size}", "events/s", rate(size), rate(DEFAULT_PAGE),
            f"page {DEFAULT_PAGE}", rate(size) / rate(DEFAULT_PAGE),
            note=f"{events:,} Events decoded as EventFields; runs: {spread}; "
                 f"largest page {largest:.1f} MiB",
        ))  # fmt: skip
        rows.append(Row(
            f"apiserver CPU per 1000, page {size}", "CPU s", cpu_per_1000(size),
            cpu_per_1000(DEFAULT_PAGE), f"page {DEFAULT_PAGE}",
            cpu_per_1000(DEFAULT_PAGE) / cpu_per_1000(size) if cpu_per_1000(size) else None,
            note="kube-apiserver utime+stime over the whole list, median",
        ))  # fmt: skip
    details: dict[str, Any] = {"events": events, "seed_rate": seed_rate, "runs": runs}
    return Suite(NAME, rows, watch.seconds, details)

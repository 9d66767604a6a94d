"""Enrichment's price: metadata caches of 50 000 Pods (+ their ReplicaSets and Deployments).

On the real apiserver, ``PODS`` Pods in ``NAMESPACES`` namespaces, 100 per Deployment, each with
its ReplicaSet, owned as the controllers own them. Measured, each cache in a fresh child
process so that its RSS is its own:

- the caches' first sync (``MetadataCaches``: metadata-only LIST of the three kinds, in
  parallel, as the exporter does before it exports) and its RSS delta, per cached object;
- the same Pods listed as full objects and kept as decoded JSON (what a cache without the
  metadata negotiation would hold: the baseline), its time, bytes and RSS delta;
- the bytes of both LISTs (``len`` of every response body);
- per occurrence: the enricher's cost on occurrences about random Pods, against one GET of a
  Pod per event (what resmo's exporter does), timed on the same apiserver.

``python bench/run.py enrich`` runs it alone.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import random
import ssl
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

# Run as a child script, the repository is not on sys.path.
_REPO = str(Path(__file__).resolve().parents[1])
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)

from bench.common import BenchContext, Row, Stopwatch, Suite, rss_bytes  # noqa: E402

NAME = "enrich"

PODS = 50_000
PODS_PER_DEPLOYMENT = 100
NAMESPACES = 10
OCCURRENCES = 200_000
GETS = 2_000
PAGE_SIZE = 500
KINDS = ["Pod", "ReplicaSet", "Deployment"]


async def _seed(cluster: Any, pods: int) -> float:
    from bench._enrich_support import Api, deployment_chain

    from kubevents.kube import KubeClient

    began = time.perf_counter()
    deployments = pods // PODS_PER_DEPLOYMENT
    async with (
        await KubeClient.connect(cluster.kubeconfig) as kube,
        Api.of(cluster, concurrency=48) as api,
    ):
        for k in range(NAMESPACES):
            await kube.ensure_namespace(f"bench-enrich-{k}")
        chains = [
            deployment_chain(
                api, f"bench-enrich-{d % NAMESPACES}", f"app-{d:04d}", PODS_PER_DEPLOYMENT,
                extra_labels={"app.kubernetes.io/name": f"app-{d:04d}"},
            )
            for d in range(deployments)
        ]  # fmt: skip
        for i in range(0, len(chains), 10):
            await asyncio.gather(*chains[i : i + 10])
    return pods / (time.perf_counter() - began)


def _retained(caches: Any) -> int:
    """Bytes the caches' own structures hold: each map, key and entry and what an entry refers
    to, every object counted once (shared strings once for all), allocator slack excluded."""
    seen: set[int] = set()
    total = 0

    def add(obj: object) -> None:
        nonlocal total
        if id(obj) not in seen:
            seen.add(id(obj))
            total += sys.getsizeof(obj)

    for cache in caches:
        add(cache.objects)
        for key, entry in cache.objects.items():
            add(key)
            add(entry)
            add(entry.uid)
            for flat in (entry.labels, entry.annotations):
                if flat is not None:
                    add(flat)
                    for text in flat:
                        add(text)
            if entry.owner is not None:
                owner = entry.owner
                for part in (owner, owner.kind, owner.name, owner.uid, owner.group):
                    add(part)
    return total


async def _child_meta() -> dict[str, Any]:
    from kubevents.export import EnrichConfig, EventFields, ExportMetrics, MetadataCaches
    from kubevents.export._occurrence import Occurrence
    from kubevents.kube import KubeClient

    async with await KubeClient.connect(os.environ["BENCH_KUBECONFIG"]) as kube:
        config = EnrichConfig(
            kinds=KINDS, labels=["app", "app.kubernetes.io/name"], page_size=PAGE_SIZE
        )
        gc.collect()
        before = rss_bytes()
        caches = MetadataCaches(kube, config, ExportMetrics())
        began = time.perf_counter()
        task = asyncio.create_task(caches.run())
        assert await caches.wait_synced(600)
        synced = time.perf_counter() - began
        gc.collect()
        after = rss_bytes()
        objects = {kind: len(cache.objects) for kind, cache in caches.caches.items()}
        retained = _retained(caches.caches.values())
        # Occurrences about random Pods, as the source would hand them over.
        keys = list(caches.caches["Pod"].objects.items())
        random.seed(7)
        occurrences = []
        for n in range(2_000):
            key, cached = random.choice(keys)
            namespace, name = key.split("/", 1)
            event = {
                "metadata": {"name": f"{name}.{n}", "namespace": namespace, "uid": f"e-{n}",
                             "resourceVersion": str(n)},
                "involvedObject": {"kind": "Pod", "namespace": namespace, "name": name,
                                   "uid": cached.uid, "apiVersion": "v1"},
                "reason": "BackOff", "message": "Back-off restarting failed container",
                "type": "Warning", "count": 1,
                "lastTimestamp": "2026-12-05T00:00:00Z",
            }  # fmt: skip
            raw = json.dumps(event).encode()
            occurrences.append(Occurrence.of(EventFields.from_json(raw), raw, "bench"))
        enrich = caches.enricher
        changes = caches.caches["Pod"].changes

        def timed(cold: bool) -> float:
            began = time.perf_counter()
            for i in range(OCCURRENCES):
                if cold:  # as if the caches had changed: every answer is worked out afresh
                    changes.count += 1
                enrich(occurrences[i % len(occurrences)])
            return (time.perf_counter() - began) / OCCURRENCES

        runs = [timed(cold=False) for _ in range(5)]
        cold_runs = [timed(cold=True) for _ in range(5)]
        hits = caches.metrics.outcomes.hits
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    return {
        "sync_seconds": synced, "rss_delta": after - before, "objects": objects,
        "enrich_seconds": statistics.median(runs), "enrich_runs": runs, "hits": hits,
        "enrich_cold_seconds": statistics.median(cold_runs), "enrich_cold_runs": cold_runs,
        "retained_bytes": retained,
    }  # fmt: skip


async def _list_bytes(api: Any, accept: str) -> tuple[int, int]:
    """Bytes and items of every page of a LIST of all Pods with ``accept``."""
    total = items = 0
    token = None
    while True:
        query = f"limit={PAGE_SIZE}" + (f"&continue={token}" if token else "")
        data = await api.body(f"/api/v1/pods?{query}", accept=accept)
        total += len(data)
        page = json.loads(data)
        items += len(page["items"])
        token = page["metadata"].get("continue")
        if not token:
            return total, items


async def _child_full() -> dict[str, Any]:
    """The baseline: the same Pods as full objects, kept decoded (no metadata negotiation)."""
    from bench._enrich_support import Api

    context = ssl.create_default_context(cafile=os.environ["BENCH_CA_FILE"])
    async with Api(os.environ["BENCH_URL"], os.environ["BENCH_TOKEN"], context) as api:
        gc.collect()
        before = rss_bytes()
        began = time.perf_counter()
        cache: dict[str, Any] = {}
        token = None
        while True:
            query = f"limit={PAGE_SIZE}" + (f"&continue={token}" if token else "")
            page = json.loads(await api.body(f"/api/v1/pods?{query}"))
            for item in page["items"]:
                meta = item["metadata"]
                cache[f"{meta['namespace']}/{meta['name']}"] = item
            token = page["metadata"].get("continue")
            if not token:
                break
        seconds = time.perf_counter() - began
        del page
        gc.collect()
        after = rss_bytes()
    return {"seconds": seconds, "rss_delta": after - before, "pods": len(cache)}


def _child(mode: str, cluster: Any) -> dict[str, Any]:
    env = {
        **os.environ, "BENCH_URL": cluster.url, "BENCH_TOKEN": cluster.admin_token,
        "BENCH_CA_FILE": str(cluster.ca_file), "BENCH_KUBECONFIG": str(cluster.kubeconfig),
    }  # fmt: skip
    out = subprocess.run(
        [sys.executable, __file__, mode], capture_output=True, text=True, check=True,
        timeout=1800, env=env,
    )  # fmt: skip
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


async def _wire(cluster: Any) -> dict[str, int]:
    from bench._enrich_support import Api

    from kubevents.kube._metadata import ACCEPT_METADATA_LIST

    async with Api.of(cluster) as api:
        meta_bytes, meta_items = await _list_bytes(api, ACCEPT_METADATA_LIST)
        full_bytes, full_items = await _list_bytes(api, "application/json")
    assert meta_items == full_items
    return {"metadata": meta_bytes, "full": full_bytes, "pods": meta_items}


async def _gets(cluster: Any, count: int) -> list[float]:
    """One GET of a random Pod per event, sequentially, as an exporter that fetches would."""
    from bench._enrich_support import Api

    from kubevents.kube import KubeClient

    async with await KubeClient.connect(cluster.kubeconfig) as kube, Api.of(cluster) as api:
        page = await kube.metadata("v1", "pods").list("bench-enrich-0", limit=1000)
        names = [item.metadata.name for item in page.items]
        random.seed(11)
        times = []
        for _ in range(count):
            name = random.choice(names)
            began = time.perf_counter()
            await api.request("GET", f"/api/v1/namespaces/bench-enrich-0/pods/{name}")
            times.append(time.perf_counter() - began)
    return times


def run(ctx: BenchContext) -> Suite:
    watch = Stopwatch()
    pods = PODS // 10 if ctx.quick else PODS
    cluster = ctx.cluster()
    seed_rate = asyncio.run(_seed(cluster, pods))
    meta = _child("meta", cluster)
    full = _child("full", cluster)
    wire = asyncio.run(_wire(cluster))
    gets = asyncio.run(_gets(cluster, GETS // 10 if ctx.quick else GETS))
    objects = sum(meta["objects"].values())
    per_object = meta["rss_delta"] / objects
    full_per_pod = full["rss_delta"] / full["pods"]
    enrich_us = meta["enrich_seconds"] * 1e6
    cold_us = meta["enrich_cold_seconds"] * 1e6
    get_us = statistics.median(gets) * 1e6
    rows = [
        Row(
            f"cache memory, {pods:,} Pods + RS + Deployments", "MiB", meta["rss_delta"] / 2**20,
            full["rss_delta"] / 2**20, "full Pods kept as decoded JSON",
            full["rss_delta"] / meta["rss_delta"] if meta["rss_delta"] > 0 else None,
            note=f"RSS delta of a fresh process; {objects:,} objects "
                 f"({meta['objects']}); baseline: the Pods alone",
        ),
        Row(
            "cache memory per object", "bytes", per_object, full_per_pod,
            "full Pod as decoded JSON", full_per_pod / per_object if per_object > 0 else None,
            note="selected labels: app, app.kubernetes.io/name",
        ),
        Row(
            "cache structures per object", "bytes", meta["retained_bytes"] / objects,
            note="sys.getsizeof of maps, keys, entries, uids, labels, owners, each once",
        ),
        Row(
            "first sync (3 kinds, metadata only)", "s", meta["sync_seconds"], full["seconds"],
            "LIST of the Pods alone as full objects",
            full["seconds"] / meta["sync_seconds"] if meta["sync_seconds"] else None,
            note=f"pages of {PAGE_SIZE}; the export starts after it",
        ),
        Row(
            "LIST bytes of the Pods", "MiB", wire["metadata"] / 2**20,
            wire["full"] / 2**20, "full objects",
            wire["full"] / wire["metadata"] if wire["metadata"] else None,
            note="PartialObjectMetadataList vs PodList, every page",
        ),
        Row(
            "enrichment per occurrence, worked out", "µs", cold_us, get_us,
            "one GET of the Pod per event (median latency)",
            get_us / cold_us if cold_us else None,
            note="the owner walk Pod -> ReplicaSet -> Deployment for every occurrence (the "
                 "caches changed in between), median of 5",
        ),
        Row(
            "enrichment per occurrence, remembered", "µs", enrich_us, get_us,
            "one GET of the Pod per event (median latency)",
            get_us / enrich_us if enrich_us else None,
            note=f"{OCCURRENCES:,} occurrences about 2,000 Pods, caches unchanged, median of "
                 f"5; GETs sequential on the same apiserver",
        ),
    ]  # fmt: skip
    details: dict[str, Any] = {
        "pods": pods, "seed_rate": seed_rate, "meta": meta, "full": full, "wire": wire,
        "get_seconds": {"median": statistics.median(gets), "p99": sorted(gets)[
            int(len(gets) * 0.99) - 1]},
    }  # fmt: skip
    return Suite(NAME, rows, watch.seconds, details)


if __name__ == "__main__":
    child = _child_meta if sys.argv[1] == "meta" else _child_full
    print(json.dumps(asyncio.run(child())))

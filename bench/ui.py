"""``kubevents ui`` on 1 000 000 stored occurrences: how long a filtered page takes.

    python bench/ui.py                       # 10^6 occurrences (store cached), ~3 min cold
    python bench/ui.py --occurrences 100000 --output /tmp/ui.json
    python bench/ui.py --only namespace object      # the pages whose label has these words

A store of a week of a busy cluster (200 namespaces, 6 000 objects, 30 reasons, a fifth of
them Warnings) is written through the real ``SQLiteSink`` once and cached in
``~/.cache/kubevents/bench-ui/``. The real ``kubevents ui`` process serves it; each page is
fetched over HTTP ``--repeat`` times after one warm-up, and the median and the worst are kept.
A page is the whole answer: the newest 100 rows, the matching count and the timeline.

Writes ``bench/results/ui.json`` (or ``--output``); the figures are in docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

_REPO = str(Path(__file__).resolve().parents[1])
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)

from bench.common import machine  # noqa: E402

from kubevents.export import EventFields, Occurrence  # noqa: E402
from kubevents.export.sinks.sqlite import SCHEMA_VERSION, SQLiteSink  # noqa: E402
from kubevents.model import Event, EventSource, ObjectMeta, ObjectReference, Time  # noqa: E402

END = datetime(2026, 11, 1, tzinfo=UTC)
WEEK = timedelta(days=7)
NAMESPACES = [f"team-{i}" for i in range(200)]
REASONS = [
    "BackOff", "Pulled", "Created", "Started", "Killing", "Scheduled", "FailedScheduling",
    "Unhealthy", "FailedMount", "SuccessfulCreate", "ScalingReplicaSet", "SuccessfulDelete",
    "NodeNotReady", "NodeReady", "Evicted", "OOMKilling", "FailedCreatePodSandBox", "Pulling",
    "ProbeWarning", "FailedAttachVolume", "SawCompletedJob", "Completed", "LeaderElection",
    "Rebooted", "Sync", "EnsuringLoadBalancer", "UpdatedLoadBalancer", "NetworkNotReady",
    "InvalidDiskCapacity", "FailedKillPod",
]  # fmt: skip
WARNING = {
    "BackOff", "FailedScheduling", "Unhealthy", "FailedMount", "Evicted", "OOMKilling",
    "FailedCreatePodSandBox", "FailedAttachVolume", "NetworkNotReady", "FailedKillPod",
}  # fmt: skip


def objects(rnd: random.Random) -> list[tuple[str, str]]:
    return [(rnd.choice(NAMESPACES), f"app-{i}-{rnd.randrange(10**6):06x}") for i in range(6000)]


def history(n: int, seed: int = 7) -> Iterator[list[Occurrence]]:
    """``n`` occurrences over the week before ``END`` in arrival (time) order, in batches
    (a million of them at once would take gigabytes)."""
    rnd = random.Random(seed)
    pods = objects(rnd)
    step = WEEK / n
    batch: list[Occurrence] = []
    for i in range(n):
        namespace, name = rnd.choice(pods)
        # A fifth are Warnings (10 reasons); the rest the everyday Pulled, Created, Started.
        reason = rnd.choice(sorted(WARNING)) if rnd.random() < 0.2 else rnd.choice(REASONS[1:4])
        when = END - WEEK + step * i
        raw = Event(
            metadata=ObjectMeta(name=f"{name}.{i:x}", namespace=namespace, uid=f"u-{i}",
                                resource_version=str(i + 1), creation_timestamp=Time.of(when)),
            involved_object=ObjectReference(kind="Pod", namespace=namespace, name=name,
                                            uid=f"o-{name}", api_version="v1"),
            reason=reason, message=f"{reason} for pod {name} in {namespace}: attempt {i % 97}",
            source=EventSource(component="kubelet", host=f"node-{i % 40}"),
            first_timestamp=Time.of(when), last_timestamp=Time.of(when), count=1,
            type="Warning" if reason in WARNING else "Normal",
        ).to_json()  # fmt: skip
        batch.append(Occurrence.of(EventFields.from_json(raw), raw, "bench"))
        if len(batch) == 5_000:
            yield batch
            batch = []
    if batch:
        yield batch


def store(n: int) -> Path:
    """The cached store of ``n`` occurrences, written through the real sink if missing."""
    cache = Path.home() / ".cache" / "kubevents" / "bench-ui"
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"store-{n}-v{SCHEMA_VERSION}.db"
    if path.exists():
        return path
    partial = path.with_suffix(".partial")
    for leftover in cache.glob(partial.name + "*"):
        leftover.unlink()
    started = time.monotonic()

    async def write() -> None:
        sink = SQLiteSink(partial, retention_days=None)
        await sink.start()
        try:
            for batch in history(n):
                await sink.write(batch)
        finally:
            await sink.close()

    asyncio.run(write())
    partial.rename(path)
    print(f"generated and stored in {time.monotonic() - started:.0f}s: {path}", file=sys.stderr)
    return path


def _ago(delta: timedelta) -> str:
    return (END - delta).strftime("%Y-%m-%dT%H:%M:%SZ")


def pages() -> dict[str, str]:
    """The pages timed; an object of the seeded history, and its namespace."""
    ns, name = objects(random.Random(7))[0]
    day = _ago(timedelta(days=1))
    return {
        "namespace": f"/?namespace={ns}",
        "namespace + Warning + last day": f"/?namespace={ns}&type=Warning&since={day}",
        "reason (1 in 50): OOMKilling": "/?reason=OOMKilling",
        "one object (--for)": f"/?for=pod/{name}",
        "message text in a namespace": f"/?namespace={ns}&grep=attempt%2042",
        "Warning, last hour": f"/?type=Warning&since={_ago(timedelta(hours=1))}",
        "object history view": f"/object?kind=Pod&namespace={ns}&name={name}",
        "top, last day": f"/top?since={day}",
        "unfiltered (everything)": "/",
    }


def fetch(url: str) -> tuple[float, int]:
    started = time.perf_counter()
    with urllib.request.urlopen(url, timeout=120) as response:
        body = response.read()
    return (time.perf_counter() - started) * 1000, len(body)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--occurrences", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=15)
    parser.add_argument(
        "--only", nargs="*", help="only the pages whose label contains one of these"
    )
    parser.add_argument("--output", type=Path, default=Path(_REPO) / "bench/results/ui.json")
    args = parser.parse_args()
    db = store(args.occurrences)
    cases = {
        label: path
        for label, path in pages().items()
        if not args.only or any(word in label for word in args.only)
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "kubevents.cli", "ui", "--db", str(db), "--listen", "127.0.0.1:0"],
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    assert server.stderr is not None
    match = re.search(r"http://\S+/", server.stderr.readline())
    assert match is not None, "kubevents ui did not start"
    base = match[0].rstrip("/")
    results: dict[str, Any] = {}
    try:
        for label, path in cases.items():
            fetch(base + path)  # warm-up: the page cache, the server's code paths
            times = []
            for _ in range(args.repeat):
                ms, size = fetch(base + path)
                times.append(ms)
            results[label] = {
                "path": path, "median_ms": round(statistics.median(times), 1),
                "max_ms": round(max(times), 1), "bytes": size,
                "all_ms": [round(t, 1) for t in times],
            }  # fmt: skip
            print(f"{label:34} median {statistics.median(times):7.1f} ms   max {max(times):7.1f} ms"
                  f"   {size:>8} bytes   {path}")  # fmt: skip
    finally:
        server.terminate()
        server.wait(timeout=30)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({
        "occurrences": args.occurrences, "store_bytes": db.stat().st_size,
        "machine": machine(), "pages": results,
    }, indent=2) + "\n")  # fmt: skip
    print(f"store: {db.stat().st_size / 2**20:.0f} MiB; wrote {args.output}")


if __name__ == "__main__":
    main()

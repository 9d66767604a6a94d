"""Memory and CPU of a process that connects to the API server and lists Events, A/B.

    python bench/connect_memory.py --compare A/.venv/bin/python B/.venv/bin/python [-n 7]
    python bench/connect_memory.py --child KUBECONFIG      # one measurement, JSON on stdout

``--compare`` starts a local cluster (``kubevents_testenv.LocalCluster``), seeds 500 Events and
runs the child with each interpreter in turn (A, B, A, B, ...), each a fresh process: import
``kubevents.cli`` (what ``kubevents export`` imports first), connect with the cluster's
kubeconfig, list every Event. The child reports ``VmRSS`` and ``VmHWM`` after the list, its CPU
seconds (user + system) and the ``kubernetes`` modules it holds. Medians and ranges per side.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any


def _status_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field} in /proc/self/status")


async def _child(kubeconfig: str) -> dict[str, Any]:
    import kubevents.cli  # noqa: F401 - what the exporter's process imports first
    from kubevents.kube import KubeClient

    async with await KubeClient.connect(kubeconfig) as kube:
        count = 0
        async for page in kube.events.list_pages():
            count += len(page.items)
    times = os.times()
    loaded = [m for m in sys.modules if m.split(".")[0] in ("kubernetes", "kubernetes_asyncio")]
    return {
        "events": count,
        "rss_mib": _status_kib("VmRSS") / 1024,
        "hwm_mib": _status_kib("VmHWM") / 1024,
        "cpu_s": times.user + times.system,
        "kubernetes_modules": len(loaded),
    }


def _seed(kubeconfig: Path, count: int) -> None:
    from kubevents.kube import KubeClient
    from kubevents.model import Event, ObjectMeta, ObjectReference

    async def seed() -> None:
        async with await KubeClient.connect(kubeconfig) as kube:
            for i in range(count):
                await kube.events.create(
                    Event(
                        metadata=ObjectMeta(name=f"seed.{i}", namespace="default"),
                        involved_object=ObjectReference(kind="Pod", name=f"p{i}"),
                        reason="Seeded",
                        message=f"event {i}",
                    )
                )

    asyncio.run(seed())


def _compare(pythons: list[str], runs: int) -> None:
    from kubevents_testenv import LocalCluster

    with tempfile.TemporaryDirectory() as tmp, LocalCluster(Path(tmp)) as cluster:
        _seed(cluster.kubeconfig, 500)
        samples: dict[str, list[dict[str, Any]]] = {p: [] for p in pythons}
        for _ in range(runs):
            for python in pythons:
                done = subprocess.run(
                    [python, __file__, "--child", str(cluster.kubeconfig)],
                    capture_output=True,
                    text=True,
                    check=True,
                    timeout=300,
                )
                samples[python].append(json.loads(done.stdout))
    for python, rows in samples.items():
        print(python)
        for key in ("rss_mib", "hwm_mib", "cpu_s", "kubernetes_modules", "events"):
            values = [row[key] for row in rows]
            print(
                f"  {key:20} median {statistics.median(values):8.2f}"
                f"   range {min(values):.2f}-{max(values):.2f}   n={len(values)}"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--child", metavar="KUBECONFIG")
    parser.add_argument("--compare", nargs="+", metavar="PYTHON")
    parser.add_argument("-n", type=int, default=7)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(asyncio.run(_child(args.child))))
    elif args.compare:
        _compare(args.compare, args.n)
    else:
        parser.error("--child or --compare")


if __name__ == "__main__":
    main()

"""What the recorder suite's outage rows measure (issue 20): the events.k8s.io/v1 recorder while
the apiserver is unreachable, in a fresh interpreter for clean RSS figures.

``python -m bench._outage N [--tracemalloc]`` records N events about ``OBJECTS`` pods through a
``FaultProxy`` that is cut for the whole recording, restores it, waits until the recorder has
written what it kept, runs the heartbeat, and prints one JSON object. The cluster comes from
the environment (``KUBEVENTS_BENCH_URL``, ``_TOKEN``, ``_CA``), not the command line, so that
the token is in no process listing.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import sys
import time
import tracemalloc
import uuid
from typing import Any

from bench.common import rss_bytes

from kubevents.events import EventBroadcaster, KubeEventSink, RecordOutcome
from kubevents.kube import KubeClient
from kubevents.model import ObjectReference
from kubevents_testenv import FaultProxy

__all__ = ["ENV_CA", "ENV_TOKEN", "ENV_URL", "OBJECTS", "measure"]

ENV_URL = "KUBEVENTS_BENCH_URL"
ENV_TOKEN = "KUBEVENTS_BENCH_TOKEN"
ENV_CA = "KUBEVENTS_BENCH_CA"
OBJECTS = 200
# Events between two turns of the loop: a controller recording in bursts.
BURST = 500
# The retry waits during the outage are not what is measured.
SLEEP_DURATION = 0.05
FLUSH_TIMEOUT = 300.0


async def _outage(url: str, token: str, ca_file: str, events: int, trace: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"events": events, "objects": OBJECTS}
    with FaultProxy.to(url) as proxy:
        async with (
            await KubeClient.connect(url=url, token=token, ca_file=ca_file) as admin,
            await KubeClient.connect(url=proxy.url_for(url), token=token, ca_file=ca_file) as via,
        ):
            namespace = f"bench-outage-{uuid.uuid4().hex[:8]}"
            await admin.ensure_namespace(namespace)
            async with EventBroadcaster(
                KubeEventSink(via), sleep_duration=SLEEP_DURATION
            ) as broadcaster:
                sink_watch = broadcaster.start_recording_to_sink()
                recorder = broadcaster.new_recorder("kubevents.io/bench-outage")
                pods = [
                    ObjectReference(kind="Pod", namespace=namespace, name=f"web-{i}",
                                    uid=f"uid-{i}", api_version="v1")
                    for i in range(OBJECTS)
                ]  # fmt: skip
                gc.collect()
                tasks_before, rss_before = len(asyncio.all_tasks()), rss_bytes()
                proxy.cut()
                if trace:
                    tracemalloc.start()
                most_tasks, rss_peak = 0, rss_before
                began = time.perf_counter()
                for i in range(events):
                    recorder.eventf(pods[i % OBJECTS], None, "Warning", "BackOff", "Restarting",
                                    "back-off restarting failed container (%d)", i)  # fmt: skip
                    if i % BURST == BURST - 1:
                        await asyncio.sleep(0)
                        most_tasks = max(most_tasks, len(asyncio.all_tasks()) - tasks_before)
                        rss_peak = max(rss_peak, rss_bytes())
                out["record_seconds"] = time.perf_counter() - began
                if trace:
                    out["traced_peak"] = tracemalloc.get_traced_memory()[1]
                    tracemalloc.stop()
                out.update(most_tasks=most_tasks, rss_before=rss_before, rss_peak=rss_peak)
                during = broadcaster.stats()

                proxy.restore()
                began = time.perf_counter()
                if not await broadcaster.aflush(FLUSH_TIMEOUT):
                    raise RuntimeError("the recorder did not catch up after the outage")
                out["recovery_seconds"] = time.perf_counter() - began
                await broadcaster.refresh_now()
                stats = broadcaster.stats()
                page = await admin.events_v1.list(namespace)
                out.update(
                    dropped_queue_full=stats.dropped_queue_full,
                    dropped_watcher_full=stats.dropped_watcher_full,
                    dropped_watcher_full_during=during.dropped_watcher_full,
                    kept=sink_watch.handled,
                    retry_limit=stats.sink_outcomes[RecordOutcome.RETRY_LIMIT.value],
                    server_events=len(page.items),
                    server_count_sum=sum(e.series.count if e.series else 1 for e in page.items),
                )
    return out


def measure(events: int, trace: bool) -> dict[str, Any]:
    return asyncio.run(
        _outage(os.environ[ENV_URL], os.environ[ENV_TOKEN], os.environ[ENV_CA], events, trace)
    )


if __name__ == "__main__":
    print(json.dumps(measure(int(sys.argv[1]), "--tracemalloc" in sys.argv[2:])))

"""A controller made of plain threads that records Events the way a Go controller does.

Run it against any cluster (it only needs to create/patch Events in the namespace):

    KUBECONFIG=~/.kube/config python examples/threads_controller.py --namespace default

There is no asyncio here: ``EventBroadcaster()`` notices that no event loop is running and
starts its own in a daemon thread, and ``KubeEventSink.from_kubeconfig()`` connects from that
loop on first use. Workers call the recorder from their own threads; ``event()`` never blocks.
On exit ``shutdown()`` gives queued events up to ``--flush-timeout`` seconds to reach the API.
The last line printed is a JSON summary (the tests read it).
"""

from __future__ import annotations

import argparse
import json
import logging
import queue
import socket
import sys
import threading
import uuid
from typing import Any

from kubevents.model import EventSource
from kubevents.record import EventBroadcaster, EventRecorder, KubeEventSink, RecordOutcome

COMPONENT = "threads-controller"


def config_map(namespace: str, name: str, data: dict[str, str]) -> dict[str, Any]:
    """A ConfigMap as a controller would get it from a list or a watch."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "uid": str(uuid.uuid4())},
        "data": data,
    }


def reconcile(recorder: EventRecorder, obj: dict[str, Any]) -> None:
    """The controller's business logic: look at the object, say what happened."""
    data = obj.get("data") or {}
    recorder.eventf(obj, "Normal", "Synced", "synced %d keys", len(data))
    if not data:
        recorder.event(obj, "Warning", "NoData", "config map has no data, nothing to sync")


def worker(recorder: EventRecorder, work: queue.Queue[dict[str, Any] | None]) -> None:
    while (obj := work.get()) is not None:
        reconcile(recorder, obj)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", help="default: $KUBECONFIG or ~/.kube/config")
    parser.add_argument("--namespace", default="default")
    parser.add_argument("--objects", type=int, default=6)
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--resyncs", type=int, default=3, help="times each object is reconciled")
    parser.add_argument("--flush-timeout", type=float, default=30.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(threadName)s %(levelname)s %(message)s")

    broadcaster = EventBroadcaster()
    broadcaster.start_recording_to_sink(KubeEventSink.from_kubeconfig(args.kubeconfig))
    broadcaster.start_structured_logging(logging.getLogger(COMPONENT))
    recorder = broadcaster.new_recorder(EventSource(component=COMPONENT, host=socket.gethostname()))

    # The last object has no data, so it also gets a Warning.
    objects = [
        config_map(args.namespace, f"settings-{i}", {"key": str(i)} if i < args.objects - 1 else {})
        for i in range(args.objects)
    ]
    work: queue.Queue[dict[str, Any] | None] = queue.Queue()
    threads = [
        threading.Thread(target=worker, args=(recorder, work), name=f"worker-{i}")
        for i in range(args.workers)
    ]
    for thread in threads:
        thread.start()
    for _ in range(args.resyncs):
        for obj in objects:
            work.put(obj)
    for _ in threads:
        work.put(None)
    for thread in threads:
        thread.join()

    report = broadcaster.shutdown(timeout=args.flush_timeout)
    stats = broadcaster.stats()
    summary = {
        "recorded": stats.accepted,
        "dropped": stats.dropped + report.dropped,
        "written": stats.sink_outcomes[RecordOutcome.WRITTEN.value],
        "rejected": stats.sink_outcomes[RecordOutcome.REJECTED.value],
    }
    print(json.dumps(summary))
    return 0 if summary["dropped"] == 0 and summary["rejected"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

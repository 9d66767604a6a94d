"""An asyncio controller that records events.k8s.io/v1 Events, as Go's ``tools/events`` does.

Run it against any cluster (it needs get/create/patch on Events in the namespace, and discovery):

    KUBECONFIG=~/.kube/config python examples/events_v1_controller.py --namespace default

``new_event_broadcaster_adapter`` asks the server whether it serves events.k8s.io/v1 and falls
back to core/v1 Events if not. Every resync records the same events again: the second
occurrence turns each into an EventSeries (one patch), later ones are only counted until the
heartbeat writes them; here ``refresh_now()`` writes the final counts before shutting down.
The last line printed is a JSON summary (the tests read it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import uuid
from typing import Any

from kubevents.events import (
    SERIES_OUTCOME,
    EventRecorder,
    RecordOutcome,
    new_event_broadcaster_adapter,
)
from kubevents.kube import KubeClient

CONTROLLER = "kubevents.io/events-v1-example"


def config_map(namespace: str, name: str, data: dict[str, str]) -> dict[str, Any]:
    """A ConfigMap as a controller would get it from a list or a watch."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": namespace, "uid": str(uuid.uuid4())},
        "data": data,
    }


def reconcile(recorder: EventRecorder, obj: dict[str, Any]) -> None:
    """The controller's business logic: what it did (the action) and what came of it."""
    data = obj.get("data") or {}
    if data:
        recorder.eventf(obj, None, "Normal", "Synced", "Syncing", "synced %d keys", len(data))
    else:
        recorder.eventf(obj, None, "Warning", "NoData", "Syncing", "config map has no data")


async def run(args: argparse.Namespace) -> dict[str, Any]:
    async with await KubeClient.connect(args.kubeconfig) as kube:
        adapter = await new_event_broadcaster_adapter(kube)
        async with adapter:
            adapter.start_recording_to_sink()
            recorder = adapter.new_recorder(CONTROLLER)
            # The first object has no data, so it gets a Warning instead.
            objects = [
                config_map(args.namespace, f"settings-{i}", {"k": str(i)} if i else {})
                for i in range(args.objects)
            ]
            for _ in range(args.resyncs):
                for obj in objects:
                    reconcile(recorder, obj)
                # A resync period passes: this round's writes are done before the next.
                await adapter.aflush(args.flush_timeout)
            new = adapter.events_v1_broadcaster
            refreshed = await new.refresh_now() if new is not None else 0
            report = await adapter.ashutdown(args.flush_timeout)
        stats = (new or adapter.legacy_broadcaster).stats()
    return {
        "api": "events.k8s.io/v1" if new is not None else "v1",
        "recorded": stats.accepted,
        "written": stats.sink_outcomes[RecordOutcome.WRITTEN.value],
        "series": stats.sink_outcomes.get(SERIES_OUTCOME, 0),
        "refreshed": refreshed,
        "rejected": stats.sink_outcomes[RecordOutcome.REJECTED.value],
        "dropped": stats.dropped + report.dropped,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kubeconfig", help="default: $KUBECONFIG or ~/.kube/config")
    parser.add_argument("--namespace", default="default")
    parser.add_argument("--objects", type=int, default=3)
    parser.add_argument("--resyncs", type=int, default=4, help="times each object is reconciled")
    parser.add_argument("--flush-timeout", type=float, default=30.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    summary = asyncio.run(run(args))
    print(json.dumps(summary))
    return 0 if summary["dropped"] == 0 and summary["rejected"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

"""Recording Events from kopf handlers with kubevents (asyncio).

UNDER KOPF (``pip install kopf``; kubevents does not depend on it)::

    kopf run examples/kopf_handler.py --namespace default

The handlers react to ConfigMaps labelled ``kubevents-demo=true``, e.g.
``kubectl create configmap demo --from-literal=a=1 && kubectl label cm demo kubevents-demo=true``.
The broadcaster is made in kopf's startup handler, so it runs on kopf's event loop; kopf runs
async handlers on that loop and sync handlers in worker threads, and the recorder serves both.

WITHOUT KOPF (what the tests run)::

    KUBECONFIG=~/.kube/config python examples/kopf_handler.py --namespace default

drives the very same handlers with kopf-style bodies (plain mappings) in plain asyncio. The last
line printed is a JSON summary.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import sys
import uuid
from collections.abc import Mapping
from typing import Any

from kubevents.model import EventSource
from kubevents.record import (
    EventBroadcaster,
    EventRecorder,
    KubeEventSink,
    RecordOutcome,
    ShutdownReport,
)

COMPONENT = "kopf-example"
FLUSH_TIMEOUT = 10.0

try:
    # Imported by name so that type checkers and installs without kopf are unaffected.
    kopf: Any = importlib.import_module("kopf")
except ModuleNotFoundError:
    kopf = None


class _State:
    broadcaster: EventBroadcaster | None = None
    recorder: EventRecorder | None = None


def recorder() -> EventRecorder:
    if _State.recorder is None:
        raise RuntimeError("startup() has not run")
    return _State.recorder


async def startup(kubeconfig: str | None = None, **_: Any) -> None:
    """kopf.on.startup: create the broadcaster on the running (kopf's) event loop."""
    broadcaster = EventBroadcaster()
    broadcaster.start_recording_to_sink(KubeEventSink.from_kubeconfig(kubeconfig))
    broadcaster.start_structured_logging(logging.getLogger(COMPONENT))
    _State.broadcaster = broadcaster
    _State.recorder = broadcaster.new_recorder(EventSource(component=COMPONENT))


async def cleanup(**_: Any) -> ShutdownReport | None:
    """kopf.on.cleanup: let queued events reach the API, then stop."""
    broadcaster, _State.broadcaster, _State.recorder = _State.broadcaster, None, None
    if broadcaster is None:
        return None
    return await broadcaster.ashutdown(timeout=FLUSH_TIMEOUT)


async def on_configmap(body: Mapping[str, Any], **_: Any) -> None:
    """An async kopf handler: ``body`` is the object (kopf's ``Body`` is a Mapping)."""
    data = body.get("data") or {}
    name = body["metadata"]["name"]
    recorder().eventf(body, "Normal", "Seen", "config map %s has %d keys", name, len(data))
    if not data:
        recorder().event(body, "Warning", "NoData", "config map has no data")


def on_configmap_delete(body: Mapping[str, Any], **_: Any) -> None:
    """A sync kopf handler: kopf runs it in a worker thread; recording is thread-safe."""
    recorder().event(body, "Normal", "Forgotten", "stopped watching this config map")


if kopf is not None:
    _demo = {"kubevents-demo": "true"}
    kopf.on.startup()(startup)
    kopf.on.cleanup()(cleanup)
    kopf.on.create("configmaps", labels=_demo)(on_configmap)
    kopf.on.update("configmaps", labels=_demo)(on_configmap)
    kopf.on.delete("configmaps", labels=_demo, optional=True)(on_configmap_delete)


def _body(namespace: str, name: str, data: dict[str, str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": str(uuid.uuid4()),
            "labels": {"kubevents-demo": "true"},
        },
        "data": data,
    }


async def demo(kubeconfig: str | None, namespace: str) -> dict[str, int]:
    """What kopf would do for three ConfigMaps: startup, create/update/delete, cleanup."""
    await startup(kubeconfig)
    bodies = [
        _body(namespace, "demo-a", {"a": "1"}),
        _body(namespace, "demo-b", {"b": "1", "c": "2"}),
        _body(namespace, "demo-empty", {}),
    ]
    for body in bodies:
        await on_configmap(body)  # created
        await on_configmap(body)  # updated: the same event again, so its count goes to 2
    await asyncio.gather(*(asyncio.to_thread(on_configmap_delete, body) for body in bodies))
    broadcaster = _State.broadcaster
    assert broadcaster is not None
    report = await cleanup()
    assert report is not None
    stats = broadcaster.stats()
    return {
        "recorded": stats.accepted,
        "dropped": stats.dropped + report.dropped,
        "written": stats.sink_outcomes[RecordOutcome.WRITTEN.value],
        "rejected": stats.sink_outcomes[RecordOutcome.REJECTED.value],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="kopf handlers recording Events (kopf-less demo)")
    parser.add_argument("--kubeconfig", help="default: $KUBECONFIG or ~/.kube/config")
    parser.add_argument("--namespace", default="default")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s %(message)s")
    summary = asyncio.run(demo(args.kubeconfig, args.namespace))
    print(json.dumps(summary))
    return 0 if summary["dropped"] == 0 and summary["rejected"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

"""The kubevents side of the parity harness: a trace through ``kubevents.record``.

It mirrors ``xcheck/go/main.go`` step for step: the recorder stamps events with the real clock
(as client-go's does), the correlator reads a fake clock that only the trace advances, and a
recording sink around ``KubeEventSink`` logs every call it is given. Between steps the driver
waits for the broadcaster to go idle (``aflush``), so each event meets the clock the trace says.

    python -m xcheck.python_driver --kubeconfig PATH --namespace NS xcheck/traces/spam.json
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import datetime
from pathlib import Path

import msgspec
from xcheck.harness import NAMESPACE_PLACEHOLDER, ApiCall, Trace, TraceRun, TraceStep, load_trace

from kubevents.clock import FakeClock
from kubevents.errors import StatusError
from kubevents.kube import KubeClient
from kubevents.model import Event, EventSource, ObjectReference
from kubevents.record import (
    CorrelatorOptions,
    EventBroadcaster,
    EventRecorder,
    KubeEventSink,
)

__all__ = ["CountingClock", "RecordingSink", "run_trace"]

# The correlator reads its clock exactly twice per event (aggregator, then spam filter).
_CLOCK_READS_PER_EVENT = 2
_FLUSH_TIMEOUT = 120.0


class CountingClock(FakeClock):
    """The correlator's fake clock; its read count says which step is being written."""

    def __init__(self, start: datetime) -> None:
        super().__init__(start)
        self.reads = 0

    def now(self) -> datetime:
        value = super().now()
        self.reads += 1
        return value


class RecordingSink:
    """``KubeEventSink`` plus a log of every call, in the order the correlator made them."""

    def __init__(self, inner: KubeEventSink, clock: CountingClock) -> None:
        self._inner = inner
        self._clock = clock
        self.calls: list[ApiCall] = []

    def _log(self, verb: str, event: Event, body: str, error: BaseException | None) -> None:
        call = ApiCall(
            verb=verb,
            step=self._clock.reads // _CLOCK_READS_PER_EVENT - 1,
            namespace=event.metadata.namespace,
            name=event.metadata.name,
            body=body,
        )
        if isinstance(error, StatusError):
            call.code, call.reason, call.error = error.code, error.reason, str(error)
        elif error is not None:
            call.code, call.error = -1, f"{type(error).__name__}: {error}"
        self.calls.append(call)

    async def create(self, event: Event) -> Event:
        body = event.to_json().decode()
        try:
            created = await self._inner.create(event)
        except Exception as exc:
            self._log("create", event, body, exc)
            raise
        self._log("create", event, body, None)
        return created

    async def update(self, event: Event) -> Event:
        body = event.to_json().decode()
        try:
            updated = await self._inner.update(event)
        except Exception as exc:
            self._log("update", event, body, exc)
            raise
        self._log("update", event, body, None)
        return updated

    async def patch(self, event: Event, patch: bytes) -> Event:
        try:
            patched = await self._inner.patch(event, patch)
        except Exception as exc:
            self._log("patch", event, patch.decode(), exc)
            raise
        self._log("patch", event, patch.decode(), None)
        return patched


def _reference(step: TraceStep, namespace: str) -> ObjectReference:
    obj = step.object
    ns = namespace if obj.namespace in (NAMESPACE_PLACEHOLDER, "") else obj.namespace
    return ObjectReference(
        kind=obj.kind, namespace=ns, name=obj.name, uid=obj.uid, api_version=obj.api_version,
        resource_version=obj.resource_version, field_path=obj.field_path,
    )  # fmt: skip


async def run_trace(trace: Trace, kube: KubeClient, namespace: str) -> TraceRun:
    """Run ``trace`` through kubevents.record into ``namespace`` (on the running loop)."""
    clock = CountingClock(trace.start)
    sink = RecordingSink(KubeEventSink(kube), clock)
    options = CorrelatorOptions(clock=clock, lru_cache_size=trace.options.lru_cache_size)
    # The broadcaster's own clock stays the real one: client-go's recorder has no other.
    async with EventBroadcaster(correlator_options=options) as broadcaster:
        broadcaster.start_recording_to_sink(sink)
        recorders: dict[tuple[str, str], EventRecorder] = {}
        for i, step in enumerate(trace.steps):
            if not await broadcaster.aflush(_FLUSH_TIMEOUT):
                raise RuntimeError(f"step {i}: the sink did not go idle in {_FLUSH_TIMEOUT}s")
            clock.step(step.advance)
            source = trace.source_of(step)
            key = (source.component, source.host)
            recorder = recorders.get(key)
            if recorder is None:
                recorder = broadcaster.new_recorder(EventSource(*key))
                recorders[key] = recorder
            recorder.event(_reference(step, namespace), step.type, step.reason, step.message)
        if not await broadcaster.aflush(_FLUSH_TIMEOUT):
            raise RuntimeError(f"the sink did not go idle in {_FLUSH_TIMEOUT}s")

    events: list[dict[str, object]] = []
    async for page in kube.events.list_pages(namespace):
        events += [msgspec.json.decode(raw) for raw in page.raw_items]
    return TraceRun(trace=trace.name, calls=sink.calls, events=events)


async def _main(kubeconfig: Path, namespace: str, trace_path: Path) -> None:
    trace = load_trace(trace_path)
    async with await KubeClient.connect(kubeconfig) as kube:
        run = await run_trace(trace, kube, namespace)
    sys.stdout.buffer.write(msgspec.json.encode(run) + b"\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kubeconfig", type=Path, required=True)
    parser.add_argument("--namespace", required=True)
    parser.add_argument("trace", type=Path)
    args = parser.parse_args()
    asyncio.run(_main(args.kubeconfig, args.namespace, args.trace))


if __name__ == "__main__":
    main()

"""``kubevents replay``: a capture (``_capture``) through the transforms into the configured sinks.

The records go through the same transforms as live (dedup, the top-level rules, the time
window) and the same fan-out (each sink's own rules), in the order they were received, and
each one's filing time is worked out as of the moment it was received, so a replay stores
the occurrences the live run stored: same ids, same documents. What a replay leaves out, so
that it is deterministic and touches nothing of a running exporter's:

- no checkpoint is read or written, and the dedup state starts empty (the capture decides);
- every sink gets a memory buffer that waits (``block``): no spool directory is used;
- sinks' ``throttle`` is not applied (it follows the clock, and a replay runs at its own pace).

It ends when every occurrence is stored, or fails when a sink has been failing for
``health.sink_failing_after`` (what was not stored is reported; the sinks' ids make a second
replay harmless).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from kubevents.export._acklog import AckLog
from kubevents.export._capture import read_capture
from kubevents.export._config import ExportConfig
from kubevents.export._fields import event_fields_decoder
from kubevents.export._metrics import ExportMetrics
from kubevents.export._pipeline import BufferSettings, Pipeline
from kubevents.export._rules import compile_rules
from kubevents.export._startup import open_dead_letter, start_sinks
from kubevents.export._state import EventTracker
from kubevents.export._supervisor import TaskSupervisor
from kubevents.export._topology import routes
from kubevents.export._transforms import Transforms
from kubevents.export.sinks import Sink
from kubevents.model import DECODE_ERRORS

__all__ = ["ReplayReport", "replay"]

log = logging.getLogger(__name__)

_POLL = 0.05


@dataclass(frozen=True)
class ReplayReport:
    records: int  # notifications read from the capture
    occurrences: int  # occurrences acknowledged (stored, or excluded by every sink's rules)
    stored: bool  # every sink stored every occurrence it was routed


async def replay(
    config: ExportConfig,
    paths: Sequence[Path],
    *,
    sinks: Sequence[Sink] | None = None,
    metrics: ExportMetrics | None = None,
) -> ReplayReport:
    """Replay ``paths`` (oldest first) into ``config``'s sinks (or ``sinks``).

    Raises ``ConfigError`` for a sink that cannot start and ``CaptureError`` for a file that is
    not a capture.
    """
    metrics = metrics or ExportMetrics()
    supervisor = TaskSupervisor(metrics)
    dead_letter = await open_dead_letter(config)
    started: list[Sink] = []
    pipeline: Pipeline | None = None
    try:
        started, configs = await start_sinks(config, sinks)
        live = routes(config, started, configs, dead_letter)
        replayed = [
            dataclasses.replace(r, buffer=BufferSettings("block", r.buffer.queue_size),
                                min_interval=None)
            for r in live
        ]  # fmt: skip
        tracker = EventTracker()
        pipeline = Pipeline(replayed, tracker, AckLog(), metrics, supervisor=supervisor)
        transforms = Transforms(
            pipeline.submit, tracker, metrics, cluster=config.cluster_name,
            rules=compile_rules(config.rules), time_window=config.time_window.window(),
        )  # fmt: skip
        await pipeline.start()
        records = await _feed(transforms, paths, metrics)
        stored = await _finish(pipeline, config, supervisor)
        return ReplayReport(records, pipeline.acknowledged, stored)
    finally:
        await supervisor.cancel_all()
        if pipeline is not None:
            await pipeline.stop()
        for sink in started:
            await sink.close()
        if dead_letter is not None:
            dead_letter.close()


async def _feed(transforms: Transforms, paths: Sequence[Path], metrics: ExportMetrics) -> int:
    decode = event_fields_decoder().decode
    malformed = metrics.malformed.labels("capture")
    records = 0
    for record in read_capture(paths, metrics):
        records += 1
        transforms.received_at(datetime.fromtimestamp(record.at, UTC))
        if record.raw is None:
            await transforms.mark(record.resource_version)
            continue
        try:
            event = decode(record.raw)
        except DECODE_ERRORS as exc:
            log.error("capture record %d skipped: %s: %.200r", records, exc, record.raw)
            malformed.inc()
            await transforms.mark(record.resource_version)
            continue
        await transforms.event(event, record.raw, record.resource_version)
    return records


async def _finish(pipeline: Pipeline, config: ExportConfig, supervisor: TaskSupervisor) -> bool:
    """Wait until every sink stored everything; False once one fails for too long."""
    pipeline_done = asyncio.create_task(pipeline.drain(float("inf")))
    try:
        while not (pipeline_done.done() and pipeline.idle()):
            if supervisor.failure is not None:
                log.error("replay stopped: %s", supervisor.failure)
                return False
            for name, seconds, error in pipeline.failing_sinks():
                if seconds > config.health.sink_failing_after:
                    log.error("replay stopped: sink %s failing for %.0fs: %s", name, seconds, error)
                    return False
            await asyncio.sleep(_POLL)
    finally:
        pipeline_done.cancel()
    return True

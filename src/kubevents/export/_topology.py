"""The exporter's stages, wired from the configuration.

::

    source ── list-watch of Events (_source) ─ occurrences and resume marks
      │
    transforms ── dedup (_state.EventTracker) ─ drop/match rules (_rules)
      │
    fan-out (_pipeline) ──┬── gate (_sinkgate, _throttle) ── buffer (_buffer / _spool) ── driver
                          ├── gate ── buffer ── driver (_sinkdriver) ── sink
                          └── ...
      ▲                   │
      └── acks: ack log (_acklog) ── checkpoint (_checkpointer)

This module turns an ``ExportConfig`` into the sink side of that picture: for each sink, its
buffer (the sink's own ``buffer`` over the top-level defaults), its driver settings and
retries, the dead-letter target, and the sink's own rules and throttle.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from kubevents.export._config import ExportConfig, SinkConfig
from kubevents.export._configbase import (
    SinkBufferConfig,
    WhenFull,
    parse_size,
)
from kubevents.export._pipeline import BufferSettings, Route, SpoolSettings
from kubevents.export._rules import compile_rules
from kubevents.export._sinkdriver import DeadLetterHandler, DriverSettings
from kubevents.export.sinks import Sink

__all__ = ["buffer_settings", "driver_settings", "routes"]


def buffer_settings(config: ExportConfig, sink: SinkConfig | None, name: str) -> BufferSettings:
    """The buffer of sink ``name``: its own settings over the top-level ``buffer``."""
    top = config.buffer
    own = (sink.buffer if sink is not None else None) or SinkBufferConfig()
    when_full: WhenFull = own.when_full or top.when_full or _default_when_full(sink)
    queue_size = own.queue_size or top.queue_size
    if when_full != "spool":
        return BufferSettings(when_full, queue_size)
    spool = own.spool or top.spool
    where = f"{name}.buffer.spool"
    directory = (
        Path(spool.directory).expanduser() / name
        if spool.directory
        else config.spool_directory(name)
    )
    return BufferSettings(
        when_full,
        queue_size,
        SpoolSettings(
            directory,
            parse_size(spool.max_bytes, f"{where}.max_bytes"),
            spool.overflow,
            spool.fsync,
            spill_after=spool.spill_after,
        ),
    )


def _default_when_full(sink: SinkConfig | None) -> WhenFull:
    # A sink given as an object (an embedding application, a test) has no declared kind: the
    # memory buffer that blocks is the conservative choice.
    return "spool" if sink is not None and sink.remote else "block"


def driver_settings(config: ExportConfig, sink: SinkConfig | None) -> DriverSettings:
    top = config.buffer
    own = (sink.buffer if sink is not None else None) or SinkBufferConfig()
    retry = (sink.retry if sink is not None else None) or config.retry
    return DriverSettings(
        max_batch_size=own.max_batch_size or top.max_batch_size,
        flush_delay=top.flush_delay if own.flush_delay is None else own.flush_delay,
        max_concurrency=own.max_concurrency or top.max_concurrency,
        retry_initial_delay=retry.initial_delay,
        retry_max_delay=retry.max_delay,
        permanent_attempts=retry.permanent_attempts,
    )


def routes(
    config: ExportConfig,
    sinks: Sequence[Sink],
    sink_configs: Sequence[SinkConfig] | None,
    dead_letter: DeadLetterHandler | None,
) -> list[Route]:
    """One route per sink; ``sink_configs`` is None for sinks given as objects."""
    configs: Sequence[SinkConfig | None] = sink_configs or [None] * len(sinks)
    return [
        Route(
            sink,
            buffer_settings(config, cfg, sink.name),
            driver_settings(config, cfg),
            dead_letter,
            None if cfg is None else compile_rules(cfg.rules, f"sinks[{i}].rules"),
            None if cfg is None or cfg.throttle is None else cfg.throttle.min_interval,
        )
        for i, (sink, cfg) in enumerate(zip(sinks, configs, strict=True))
    ]

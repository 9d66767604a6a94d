"""What the exporter and a replay open before anything flows: the sinks, the dead-letter
file and the capture file, each proven usable at start (``ConfigError`` naming the field if
not, which the CLI turns into exit code 2)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from kubevents.export._capture import CaptureWriter
from kubevents.export._config import ConfigError, ExportConfig, SinkConfig, parse_file_mode
from kubevents.export._configbase import parse_size
from kubevents.export._metrics import ExportMetrics
from kubevents.export.sinks import DeadLetterFile, Sink, SinkError

__all__ = ["build_sink", "close_sinks", "open_capture", "open_dead_letter", "start_sinks"]

log = logging.getLogger(__name__)


def build_sink(config: SinkConfig) -> Sink:
    """Instantiate a sink from its configuration."""
    return config.build()


def _dead_letter_file(config: ExportConfig) -> DeadLetterFile | None:
    if config.dead_letter is None:
        return None
    return DeadLetterFile(
        Path(config.dead_letter).expanduser(),
        file_mode=parse_file_mode(config.dead_letter_file_mode, "dead_letter_file_mode"),
    )


async def start_sinks(
    config: ExportConfig, sinks: Sequence[Sink] | None = None
) -> tuple[list[Sink], list[SinkConfig] | None]:
    """``sinks``, or those ``config`` configures, started, with their configurations (None
    for sinks given as objects); ``ConfigError`` naming the sink that cannot start."""
    configs: list[SinkConfig] | None = None
    if sinks is None:
        configs = list(config.effective_sinks())
        sinks = [build_sink(cfg) for cfg in configs]
    started: list[Sink] = []
    for i, sink in enumerate(sinks):
        try:
            await sink.start()
        except BaseException as exc:
            # The one that failed too: half-way through its start it may hold a connection
            # pool or a producer, which would otherwise be left to the garbage collector.
            await close_sinks([*started, sink])
            if isinstance(exc, SinkError):
                raise ConfigError(f"sinks[{i}] ({sink.name}): {exc}") from None
            raise
        started.append(sink)
    return started, configs


async def close_sinks(sinks: Sequence[Sink]) -> None:
    """Close each of ``sinks``; one that fails to close does not keep the others open."""
    for sink in sinks:
        try:
            await sink.close()
        except Exception as exc:
            log.warning("sink %s: closing it: %s", sink.name, exc)


def open_capture(config: ExportConfig, metrics: ExportMetrics) -> CaptureWriter | None:
    """The capture file (``capture``), started; ``ConfigError`` if it cannot be created."""
    capture = config.capture
    if capture is None:
        return None
    writer = CaptureWriter(
        Path(capture.path).expanduser(),
        max_bytes=parse_size(capture.max_bytes, "capture.max_bytes"),
        backups=capture.backups,
        file_mode=parse_file_mode(capture.file_mode, "capture.file_mode"),
        cluster=config.cluster_name,
        metrics=metrics,
    )
    try:
        writer.open()
    except OSError as exc:
        where = f"capture.path: cannot create {capture.path!r}"
        raise ConfigError(f"{where}: {exc.strerror or exc}") from None
    return writer


async def open_dead_letter(config: ExportConfig) -> DeadLetterFile | None:
    """The dead-letter file, proven at start to open for appending (``ConfigError`` if not)."""
    dead_letter = _dead_letter_file(config)
    if dead_letter is None:
        return None
    try:
        await dead_letter.check()
    except SinkError as exc:
        dead_letter.close()
        raise ConfigError(f"dead_letter: {exc}") from None
    return dead_letter

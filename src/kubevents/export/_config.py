"""Exporter configuration: a YAML file, then ``KUBEVENTS_*`` environment variables, then flags.

Everything is validated before the exporter starts (``_validate.py``): unknown keys, bad
durations, sizes out of bounds, bad selectors, bad rules, paths that cannot be written; each
error names the field (``sinks[1].url: ...``) and the CLI exits with code 2. ``${NAME}``
references in credential fields are expanded from the environment here (``_secrets.py``).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal

import msgspec

from kubevents.export._configbase import (
    DEFAULT_FILE_MODE,
    ENV_PREFIX,
    BufferConfig,
    ConfigError,
    RetryConfig,
    Seconds,
    StrictConfig,
    parse_file_mode,
)
from kubevents.export._enrichconfig import EnrichConfig
from kubevents.export._heartbeatconfig import HeartbeatConfig
from kubevents.export._occurrence import TimeWindow
from kubevents.export._rules import RuleSet
from kubevents.export._source import DEFAULT_PAGE_SIZE
from kubevents.export.sinks.elasticsearch import (
    AwsSigV4Config,
    ElasticsearchSinkConfig,
    OpenSearchSinkConfig,
)
from kubevents.export.sinks.jsonl import JSONLSinkConfig
from kubevents.export.sinks.kafka import KafkaSaslConfig, KafkaSinkConfig
from kubevents.export.sinks.sqlite import SQLiteSinkConfig, default_db_path
from kubevents.export.sinks.webhook import WebhookSinkConfig

__all__ = [
    "ENV_PREFIX",
    "AwsSigV4Config",
    "BufferConfig",
    "CaptureConfig",
    "ConfigError",
    "ElasticsearchSinkConfig",
    "EnrichConfig",
    "ExportConfig",
    "HeartbeatConfig",
    "JSONLSinkConfig",
    "KafkaSaslConfig",
    "KafkaSinkConfig",
    "LeaderElectionConfig",
    "OpenSearchSinkConfig",
    "RetryConfig",
    "SQLiteSinkConfig",
    "Seconds",
    "SinkConfig",
    "TimeWindowConfig",
    "WebhookSinkConfig",
    "parse_file_mode",
]

SinkConfig = (
    SQLiteSinkConfig
    | JSONLSinkConfig
    | WebhookSinkConfig
    | ElasticsearchSinkConfig
    | OpenSearchSinkConfig
    | KafkaSinkConfig
)


class CaptureConfig(StrictConfig):
    """``capture``: record what the source reads, for ``kubevents replay`` (``_capture``)."""

    path: str
    max_bytes: str | int = "256MiB"  # per file, compressed
    backups: int = 3
    file_mode: str | int = DEFAULT_FILE_MODE


class HealthConfig(StrictConfig):
    # no event and no (re)watch for this long: unhealthy
    stall_after: Seconds = Seconds.parse("15m")
    # a sink failing this long: unhealthy
    sink_failing_after: Seconds = Seconds.parse("5m")
    # checkpoint writes failing this long while occurrences are being acknowledged: unhealthy
    checkpoint_stale_after: Seconds = Seconds.parse("2m")


class LeaderElectionConfig(StrictConfig):
    """``leader_election``: several replicas, one exporting (docs/operations.md)."""

    enabled: bool = False
    lease_name: str = "kubevents"
    namespace: str | None = None  # default: the pod's namespace (service-account directory)
    identity: str | None = None  # default: $POD_NAME, else the host name (a pod's name)
    lease_duration: Seconds = Seconds.parse("15s")
    renew_deadline: Seconds = Seconds.parse("10s")
    retry_period: Seconds = Seconds.parse("2s")


class TimeWindowConfig(StrictConfig):
    """Bounds of the time an occurrence is filed under (docs/exporter.md, "Event times")."""

    past: Seconds = Seconds.parse("30d")
    future: Seconds = Seconds.parse("1h")

    def window(self) -> TimeWindow:
        return TimeWindow(past=timedelta(seconds=self.past), future=timedelta(seconds=self.future))


class ExportConfig(StrictConfig):
    """The exporter's whole configuration (docs/exporter.md, "Configuration").

    Build it with ``load_export_config`` (file, ``KUBEVENTS_*`` variables, flags; validated,
    errors name the field); durations are ``Seconds``.
    """

    cluster_name: str = "default"
    kubeconfig: str | None = None
    context: str | None = None
    in_cluster: bool | None = None
    namespace: str | None = None  # None: all namespaces
    field_selector: str | None = None
    label_selector: str | None = None
    page_size: int = DEFAULT_PAGE_SIZE
    watch_timeout: Seconds | None = None  # None: random 5-10 min per watch
    checkpoint: str | None = (
        None  # default: next to the first SQLite sink, else ./kubevents.checkpoint
    )
    state_ttl: Seconds = Seconds.parse("3h")
    checkpoint_interval: Seconds = Seconds.parse("1s")
    buffer: BufferConfig = msgspec.field(default_factory=BufferConfig)
    retry: RetryConfig = msgspec.field(default_factory=RetryConfig)
    sinks: list[SinkConfig] = msgspec.field(default_factory=list)
    dead_letter: str | None = None
    dead_letter_file_mode: str | int = DEFAULT_FILE_MODE
    rules: RuleSet = msgspec.field(default_factory=RuleSet)
    capture: CaptureConfig | None = None
    enrich: EnrichConfig | None = None  # off unless given (docs/enrichment.md)
    listen: str | None = "127.0.0.1:9090"  # /metrics /healthz /readyz; None disables
    health: HealthConfig = msgspec.field(default_factory=HealthConfig)
    leader_election: LeaderElectionConfig = msgspec.field(default_factory=LeaderElectionConfig)
    heartbeat: HeartbeatConfig = msgspec.field(default_factory=HeartbeatConfig)
    time_window: TimeWindowConfig = msgspec.field(default_factory=TimeWindowConfig)
    shutdown_timeout: Seconds = Seconds.parse("25s")
    log_format: Literal["console", "json"] = "console"
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    def effective_sinks(self) -> list[SinkConfig]:
        """The configured sinks, or the embedded SQLite store (``$KUBEVENTS_DB``) when none."""
        return list(self.sinks) if self.sinks else [SQLiteSinkConfig(path=str(default_db_path()))]

    def spool_directory(self, sink: str) -> Path:
        """Where a sink's spool lives unless its ``buffer.spool.directory`` says otherwise."""
        checkpoint = self.checkpoint_path()
        return checkpoint.with_name(checkpoint.name + ".spool") / sink

    def checkpoint_path(self) -> Path:
        if self.checkpoint:
            return Path(self.checkpoint).expanduser()
        for sink in self.effective_sinks():
            if isinstance(sink, SQLiteSinkConfig):
                return Path(sink.path).expanduser().with_name(Path(sink.path).name + ".checkpoint")
        return Path("kubevents.checkpoint")

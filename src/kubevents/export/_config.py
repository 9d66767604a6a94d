"""Exporter configuration: a YAML file, then ``KUBEVENTS_*`` environment variables, then flags.

Everything is validated before the exporter starts (``_validate.py``): unknown keys, bad
durations, sizes out of bounds, bad selectors, bad rules, paths that cannot be written; each
error names the field (``sinks[1].url: ...``) and the CLI exits with code 2. ``${NAME}``
references in credential fields are expanded from the environment here (``_secrets.py``).
"""

from __future__ import annotations

import math
import re
from datetime import timedelta
from pathlib import Path
from typing import Literal

import msgspec

from kubevents.export._occurrence import TimeWindow
from kubevents.export._rules import RuleSet
from kubevents.export.store import DEFAULT_DB_PATH, default_db_path

__all__ = [
    "AwsSigV4Config",
    "BufferConfig",
    "ConfigError",
    "ElasticsearchSinkConfig",
    "ExportConfig",
    "JSONLSinkConfig",
    "LeaderElectionConfig",
    "OpenSearchSinkConfig",
    "SQLiteSinkConfig",
    "SinkConfig",
    "TimeWindowConfig",
    "WebhookSinkConfig",
    "parse_duration",
    "parse_file_mode",
]

ENV_PREFIX = "KUBEVENTS_"
#: Files the exporter creates are private to its user unless a ``file_mode`` says otherwise.
DEFAULT_FILE_MODE = "0600"

Duration = str | float | int


class ConfigError(Exception):
    """An invalid configuration; the message names the field and the reason."""


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}
#: The longest duration any setting accepts: more is a typo, and sleeps or timers that long
#: overflow the event loop's clock arithmetic.
MAX_DURATION = 365 * 86400.0


def parse_duration(value: Duration, field: str) -> float:
    """Seconds from ``1.5``, ``"500ms"``, ``"30s"``, ``"5m"``, ``"3h"`` or ``"2d"``.

    Finite, not negative and at most 365 days, or ``ConfigError`` naming ``field``.
    """
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ConfigError(f"{field}: expected a duration like 30s, 5m or 1h, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(value)
        if match is None:
            raise ConfigError(f"{field}: invalid duration {value!r} (use e.g. 500ms, 30s, 5m, 1h)")
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if not math.isfinite(seconds):
        raise ConfigError(f"{field}: must be a finite duration, got {value!r}")
    if seconds < 0:
        raise ConfigError(f"{field}: must not be negative")
    if seconds > MAX_DURATION:
        raise ConfigError(f"{field}: at most 365d, got {value!r}")
    return seconds


_FILE_MODE = re.compile(r"^0?o?([0-7]{3})$")


def parse_file_mode(value: str | int, field: str) -> int:
    """The permission bits of an octal string such as ``"0640"``, or ``ConfigError``.

    Owner read and write are required (the exporter writes the file); execute bits are refused.
    """
    if isinstance(value, bool) or not isinstance(value, str):
        # YAML reads an unquoted 0640 as the number 416 and 640 as six hundred and forty.
        raise ConfigError(f'{field}: give the mode as a quoted octal string such as "0640"')
    match = _FILE_MODE.match(value.strip())
    if match is None:
        raise ConfigError(f"{field}: expected an octal mode such as 0600 or 0640, got {value!r}")
    mode = int(match.group(1), 8)
    if mode & 0o600 != 0o600:
        raise ConfigError(f"{field}: {value} must let the owner read and write (0600 at least)")
    if mode & 0o111:
        raise ConfigError(f"{field}: {value} has execute bits; data files need none")
    return mode


class _Strict(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    pass


class SQLiteSinkConfig(_Strict, tag="sqlite", tag_field="type"):
    path: str = DEFAULT_DB_PATH
    retention_days: float | None = 30.0
    # "full" syncs each batch: an acknowledged batch survives a power loss, not only a crash.
    synchronous: Literal["full", "normal"] = "full"
    file_mode: str | int = DEFAULT_FILE_MODE  # octal string; the database, -wal and -shm
    name: str = "sqlite"


class JSONLSinkConfig(_Strict, tag="jsonl", tag_field="type"):
    path: str = "-"  # "-" is stdout
    max_bytes: int | None = None
    backups: int = 5
    file_mode: str | int = DEFAULT_FILE_MODE  # octal string; the file and its backups
    name: str = "jsonl"


class WebhookSinkConfig(_Strict, tag="webhook", tag_field="type"):
    url: str
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    bearer_token_file: str | None = None  # re-read when it changes (a mounted Secret)
    timeout: Duration = "10s"
    ca_file: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    insecure_skip_verify: bool = False
    format: Literal["array", "jsonl"] = "array"
    gzip: bool = False
    check_on_start: bool = False
    name: str = "webhook"


class AwsSigV4Config(_Strict):
    region: str
    service: Literal["es", "aoss"] = "es"
    profile: str | None = None


class ElasticsearchSinkConfig(_Strict, tag="elasticsearch", tag_field="type"):
    """Elasticsearch 7-9 / OpenSearch 1-3 (docs/sinks/elasticsearch.md lists every field)."""

    hosts: list[str]
    index: str = "kubevents"
    mode: Literal["daily", "data_stream"] = "daily"
    op_type: Literal["index", "create"] | None = None
    manage_template: bool = True
    retention_days: float | None = 30.0
    label_mapping: Literal["auto", "flattened", "dedot"] = "auto"
    shards: int = 1
    replicas: int | None = None
    template_priority: int = 200
    max_bulk_docs: int = 500
    max_bulk_bytes: int = 5 * 1024 * 1024
    gzip: bool = True
    timeout: Duration = "30s"
    item_retries: int = 3
    username: str | None = None
    password: str | None = None
    password_file: str | None = None
    api_key: str | None = None
    api_key_file: str | None = None
    bearer_token: str | None = None
    bearer_token_file: str | None = None
    headers: dict[str, str] = msgspec.field(default_factory=dict)
    ca_file: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    insecure_skip_verify: bool = False
    aws: AwsSigV4Config | None = None
    product: Literal["elasticsearch", "opensearch"] | None = None
    version: str | None = None
    name: str = "elasticsearch"


class OpenSearchSinkConfig(ElasticsearchSinkConfig, tag="opensearch", tag_field="type"):
    """``type: opensearch``: the same sink under the product's name."""

    name: str = "opensearch"


SinkConfig = (
    SQLiteSinkConfig
    | JSONLSinkConfig
    | WebhookSinkConfig
    | ElasticsearchSinkConfig
    | OpenSearchSinkConfig
)


class BufferConfig(_Strict):
    queue_size: int = 4_000
    max_batch_size: int = 500
    flush_delay: Duration = "1s"
    max_concurrency: int = 4


class HealthConfig(_Strict):
    stall_after: Duration = "15m"  # no event and no (re)watch for this long: unhealthy
    sink_failing_after: Duration = "5m"  # a sink failing this long: unhealthy
    # checkpoint writes failing this long while occurrences are being acknowledged: unhealthy
    checkpoint_stale_after: Duration = "2m"


class LeaderElectionConfig(_Strict):
    """``leader_election``: several replicas, one exporting (docs/operations.md)."""

    enabled: bool = False
    lease_name: str = "kubevents"
    namespace: str | None = None  # default: the pod's namespace (service-account directory)
    identity: str | None = None  # default: $POD_NAME, else the host name (a pod's name)
    lease_duration: Duration = "15s"
    renew_deadline: Duration = "10s"
    retry_period: Duration = "2s"


class TimeWindowConfig(_Strict):
    """Bounds of the time an occurrence is filed under (docs/exporter.md, "Event times")."""

    past: Duration = "30d"
    future: Duration = "1h"

    def window(self) -> TimeWindow:
        return TimeWindow(
            past=timedelta(seconds=parse_duration(self.past, "time_window.past")),
            future=timedelta(seconds=parse_duration(self.future, "time_window.future")),
        )


class ExportConfig(_Strict):
    cluster_name: str = "default"
    kubeconfig: str | None = None
    context: str | None = None
    in_cluster: bool | None = None
    namespace: str | None = None  # None: all namespaces
    field_selector: str | None = None
    label_selector: str | None = None
    page_size: int = 500
    watch_timeout: Duration | None = None  # None: random 5-10 min per watch
    checkpoint: str | None = (
        None  # default: next to the first SQLite sink, else ./kubevents.checkpoint
    )
    state_ttl: Duration = "3h"
    checkpoint_interval: Duration = "1s"
    buffer: BufferConfig = msgspec.field(default_factory=BufferConfig)
    sinks: list[SinkConfig] = msgspec.field(default_factory=list)
    dead_letter: str | None = None
    dead_letter_file_mode: str | int = DEFAULT_FILE_MODE
    rules: RuleSet = msgspec.field(default_factory=RuleSet)
    listen: str | None = "127.0.0.1:9090"  # /metrics /healthz /readyz; None disables
    health: HealthConfig = msgspec.field(default_factory=HealthConfig)
    leader_election: LeaderElectionConfig = msgspec.field(default_factory=LeaderElectionConfig)
    time_window: TimeWindowConfig = msgspec.field(default_factory=TimeWindowConfig)
    shutdown_timeout: Duration = "25s"
    log_format: Literal["console", "json"] = "console"
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    def effective_sinks(self) -> list[SinkConfig]:
        """The configured sinks, or the embedded SQLite store (``$KUBEVENTS_DB``) when none."""
        return list(self.sinks) if self.sinks else [SQLiteSinkConfig(path=str(default_db_path()))]

    def checkpoint_path(self) -> Path:
        if self.checkpoint:
            return Path(self.checkpoint).expanduser()
        for sink in self.effective_sinks():
            if isinstance(sink, SQLiteSinkConfig):
                return Path(sink.path).expanduser().with_name(Path(sink.path).name + ".checkpoint")
        return Path("kubevents.checkpoint")

"""Exporter configuration: a YAML file, then ``KUBEVENTS_*`` environment variables, then flags.

Everything is validated before the exporter starts: unknown keys, bad durations, bad selectors,
bad rules; each error names the field (``sinks[1].url: ...``) and the CLI exits with code 2.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import msgspec
import yaml

from kubevents.export._rules import RuleSet, compile_rules
from kubevents.export.store import DEFAULT_DB_PATH, default_db_path
from kubevents.kube import validate_timing

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
    "WebhookSinkConfig",
    "load_export_config",
    "parse_duration",
]

ENV_PREFIX = "KUBEVENTS_"

Duration = str | float | int


class ConfigError(Exception):
    """An invalid configuration; the message names the field and the reason."""


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def parse_duration(value: Duration, field: str) -> float:
    """Seconds from ``1.5``, ``"500ms"``, ``"30s"``, ``"5m"``, ``"3h"`` or ``"2d"``."""
    if isinstance(value, bool):
        raise ConfigError(f"{field}: expected a duration like 30s, 5m or 1h, got {value!r}")
    if isinstance(value, int | float):
        seconds = float(value)
    else:
        match = _DURATION.match(value)
        if match is None:
            raise ConfigError(f"{field}: invalid duration {value!r} (use e.g. 500ms, 30s, 5m, 1h)")
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if seconds < 0:
        raise ConfigError(f"{field}: must not be negative")
    return seconds


class _Strict(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    pass


class SQLiteSinkConfig(_Strict, tag="sqlite", tag_field="type"):
    path: str = DEFAULT_DB_PATH
    retention_days: float | None = 30.0
    # "full" syncs each batch: an acknowledged batch survives a power loss, not only a crash.
    synchronous: Literal["full", "normal"] = "full"
    name: str = "sqlite"


class JSONLSinkConfig(_Strict, tag="jsonl", tag_field="type"):
    path: str = "-"  # "-" is stdout
    max_bytes: int | None = None
    backups: int = 5
    name: str = "jsonl"


class WebhookSinkConfig(_Strict, tag="webhook", tag_field="type"):
    url: str
    headers: dict[str, str] = msgspec.field(default_factory=dict)
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


_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def _validate_leader_election(le: LeaderElectionConfig) -> None:
    lease = parse_duration(le.lease_duration, "leader_election.lease_duration")
    renew = parse_duration(le.renew_deadline, "leader_election.renew_deadline")
    retry = parse_duration(le.retry_period, "leader_election.retry_period")
    if lease != int(lease):
        raise ConfigError(
            "leader_election.lease_duration: must be whole seconds (a Lease stores those)"
        )
    try:
        validate_timing(lease, renew, retry)
    except ValueError as exc:
        raise ConfigError(f"leader_election: {exc}") from None
    if not _DNS_SUBDOMAIN.match(le.lease_name):
        raise ConfigError(
            f"leader_election.lease_name: {le.lease_name!r} is not a valid object name"
        )
    if le.namespace is not None and not _DNS_LABEL.match(le.namespace):
        raise ConfigError(f"leader_election.namespace: {le.namespace!r} is not a valid namespace")
    if le.identity is not None and not le.identity.strip():
        raise ConfigError("leader_election.identity: must not be empty")


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
    rules: RuleSet = msgspec.field(default_factory=RuleSet)
    listen: str | None = "127.0.0.1:9090"  # /metrics /healthz /readyz; None disables
    health: HealthConfig = msgspec.field(default_factory=HealthConfig)
    leader_election: LeaderElectionConfig = msgspec.field(default_factory=LeaderElectionConfig)
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


_FIELD_SELECTOR = re.compile(r"^[A-Za-z0-9_.\-/]+\s*(=|==|!=)\s*[^,=!]*$")
_LABEL_KEY = r"([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
_LABEL_VALUE = r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?"
_LABEL_REQUIREMENT = re.compile(
    rf"^\s*(!?{_LABEL_KEY}|{_LABEL_KEY}\s*(=|==|!=)\s*{_LABEL_VALUE}"
    rf"|{_LABEL_KEY}\s+(in|notin)\s+\(\s*{_LABEL_VALUE}(\s*,\s*{_LABEL_VALUE})*\s*\))\s*$"
)


def _split_label_selector(selector: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for ch in selector:
        depth += ch == "("
        depth -= ch == ")"
        if ch == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += ch
    parts.append(current)
    return parts


_INDEX_NAME = re.compile(r"^[a-z0-9][a-z0-9_.+-]*$")


def _validate_search_sink(sink: ElasticsearchSinkConfig, where: str) -> None:
    if not sink.hosts:
        raise ConfigError(f"{where}.hosts: at least one URL is needed")
    for host in sink.hosts:
        if not re.match(r"^https?://[^/\s]+", host):
            raise ConfigError(f"{where}.hosts: not an http(s) URL: {host!r}")
    if not _INDEX_NAME.match(sink.index) or len(sink.index) > 200:
        raise ConfigError(
            f"{where}.index: {sink.index!r} is not a valid index name (lowercase letters, "
            "digits, - _ . +; not starting with - _ . +)"
        )
    parse_duration(sink.timeout, f"{where}.timeout")
    if sink.mode == "data_stream" and sink.op_type == "index":
        raise ConfigError(f"{where}.op_type: data streams accept only create")
    for field in ("max_bulk_docs", "shards", "item_retries"):
        if getattr(sink, field) < (0 if field == "item_retries" else 1):
            raise ConfigError(f"{where}.{field}: too small")
    if sink.max_bulk_bytes < 1024:
        raise ConfigError(f"{where}.max_bulk_bytes: must be at least 1024")
    if sink.replicas is not None and sink.replicas < 0:
        raise ConfigError(f"{where}.replicas: must not be negative")
    if bool(sink.client_cert) != bool(sink.client_key):
        raise ConfigError(f"{where}: client_cert and client_key go together")
    for secret in ("password", "api_key", "bearer_token"):
        if getattr(sink, secret) is not None and getattr(sink, secret + "_file") is not None:
            raise ConfigError(f"{where}: give {secret} or {secret}_file, not both")
    methods = [
        m
        for m, on in (
            ("username/password", sink.username is not None),
            ("api_key", sink.api_key is not None or sink.api_key_file is not None),
            ("bearer_token", sink.bearer_token is not None or sink.bearer_token_file is not None),
            ("aws", sink.aws is not None),
        )
        if on
    ]
    if len(methods) > 1:
        raise ConfigError(f"{where}: choose one authentication method, not {' and '.join(methods)}")
    if (sink.password is not None or sink.password_file is not None) and sink.username is None:
        raise ConfigError(f"{where}.password: needs username")
    if sink.version is not None:
        if sink.product is None:
            raise ConfigError(f"{where}.version: needs product")
        if not re.match(r"^\d+(\.\d+){0,2}$", sink.version):
            raise ConfigError(f"{where}.version: expected e.g. 2.19 or 8.14.1")


def _validate(config: ExportConfig) -> None:
    if config.field_selector:
        for part in config.field_selector.split(","):
            if not _FIELD_SELECTOR.match(part.strip()):
                raise ConfigError(f"field_selector: invalid requirement {part.strip()!r}")
    if config.label_selector:
        for part in _split_label_selector(config.label_selector):
            if not _LABEL_REQUIREMENT.match(part):
                raise ConfigError(f"label_selector: invalid requirement {part.strip()!r}")
    for field in ("state_ttl", "checkpoint_interval", "shutdown_timeout"):
        parse_duration(getattr(config, field), field)
    if (
        config.watch_timeout is not None
        and parse_duration(config.watch_timeout, "watch_timeout") < 1
    ):
        raise ConfigError("watch_timeout: must be at least 1s")
    parse_duration(config.buffer.flush_delay, "buffer.flush_delay")
    parse_duration(config.health.stall_after, "health.stall_after")
    parse_duration(config.health.sink_failing_after, "health.sink_failing_after")
    parse_duration(config.health.checkpoint_stale_after, "health.checkpoint_stale_after")
    for field in ("queue_size", "max_batch_size", "max_concurrency"):
        if getattr(config.buffer, field) < 1:
            raise ConfigError(f"buffer.{field}: must be at least 1")
    if config.page_size < 1:
        raise ConfigError("page_size: must be at least 1")
    names: set[str] = set()
    for i, sink in enumerate(config.effective_sinks()):
        if sink.name in names:
            raise ConfigError(f"sinks[{i}].name: duplicate sink name {sink.name!r}")
        names.add(sink.name)
        if isinstance(sink, WebhookSinkConfig):
            if not re.match(r"^https?://[^/\s]+", sink.url):
                raise ConfigError(f"sinks[{i}].url: not an http(s) URL: {sink.url!r}")
            parse_duration(sink.timeout, f"sinks[{i}].timeout")
            if bool(sink.client_cert) != bool(sink.client_key):
                raise ConfigError(f"sinks[{i}]: client_cert and client_key go together")
        if isinstance(sink, ElasticsearchSinkConfig):
            _validate_search_sink(sink, f"sinks[{i}]")
        if (
            isinstance(sink, SQLiteSinkConfig | ElasticsearchSinkConfig)
            and sink.retention_days is not None
            and sink.retention_days <= 0
        ):
            raise ConfigError(f"sinks[{i}].retention_days: must be positive (or null)")
    if config.listen is not None and not re.match(r"^[^:\s]*:\d{1,5}$", config.listen):
        raise ConfigError(f"listen: expected host:port, got {config.listen!r}")
    try:
        compile_rules(config.rules)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    _validate_leader_election(config.leader_election)


def _env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """``KUBEVENTS_<FIELD>`` for every top-level scalar field (values parsed as YAML)."""
    out: dict[str, Any] = {}
    scalar = {
        f.name
        for f in msgspec.structs.fields(ExportConfig)
        if f.name not in ("buffer", "sinks", "rules", "health", "leader_election")
    }
    for key, value in environ.items():
        if not key.startswith(ENV_PREFIX):
            continue
        field = key[len(ENV_PREFIX) :].lower()
        if field in scalar:
            out[field] = yaml.safe_load(value) if value else None
    return out


def _error_path(message: str) -> str:
    # msgspec: "Expected `int`, got `str` - at `$.buffer.queue_size`" -> "buffer.queue_size: ..."
    match = re.match(r"^(.*) - at `\$\.?(.*)`$", message)
    if match is None:
        return message
    return f"{match.group(2) or '(top level)'}: {match.group(1)}"


def load_export_config(
    path: str | os.PathLike[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> ExportConfig:
    """Build and validate the configuration (file < environment < ``overrides``)."""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            text = Path(path).expanduser().read_text()
        except OSError as exc:
            raise ConfigError(f"config file {str(path)!r}: {exc.strerror or exc}") from None
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"config file {str(path)!r}: not valid YAML: {exc}") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"config file {str(path)!r}: expected a mapping at the top level")
        data.update(loaded or {})
    data.update(_env_overrides(os.environ if environ is None else environ))
    data.update({k: v for k, v in (overrides or {}).items() if v is not None})
    try:
        config = msgspec.convert(data, ExportConfig)
    except msgspec.ValidationError as exc:
        raise ConfigError(_error_path(str(exc))) from None
    _validate(config)
    return config

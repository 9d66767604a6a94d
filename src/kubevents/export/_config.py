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

__all__ = [
    "BufferConfig",
    "ConfigError",
    "ExportConfig",
    "JSONLSinkConfig",
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


SinkConfig = SQLiteSinkConfig | JSONLSinkConfig | WebhookSinkConfig


class BufferConfig(_Strict):
    queue_size: int = 10_000
    max_batch_size: int = 500
    flush_delay: Duration = "1s"
    max_concurrency: int = 4


class HealthConfig(_Strict):
    stall_after: Duration = "15m"  # no event and no (re)watch for this long: unhealthy
    sink_failing_after: Duration = "5m"  # a sink failing this long: unhealthy


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
        if (
            isinstance(sink, SQLiteSinkConfig)
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


def _env_overrides(environ: Mapping[str, str]) -> dict[str, Any]:
    """``KUBEVENTS_<FIELD>`` for every top-level scalar field (values parsed as YAML)."""
    out: dict[str, Any] = {}
    scalar = {
        f.name
        for f in msgspec.structs.fields(ExportConfig)
        if f.name not in ("buffer", "sinks", "rules", "health")
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

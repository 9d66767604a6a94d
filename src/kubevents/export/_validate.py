"""Validation of an ``ExportConfig``: everything that can be known wrong before anything starts.

Each check raises ``ConfigError`` naming the field path and the reason; URLs in messages are
redacted and secret values are never repeated. Besides types (msgspec) this checks ranges
(finite durations, bounded sizes, port numbers), names that end up in metric labels and
paths, credentials that would break a header, and the files the exporter will write: none
may be a directory or sit under a regular file, and no two of them may be the same file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

from yarl import URL

from kubevents.export._config import (
    ConfigError,
    ElasticsearchSinkConfig,
    ExportConfig,
    JSONLSinkConfig,
    LeaderElectionConfig,
    SinkConfig,
    SQLiteSinkConfig,
    WebhookSinkConfig,
    parse_duration,
    parse_file_mode,
)
from kubevents.export._rules import compile_rules
from kubevents.export._secrets import redact_url
from kubevents.kube import validate_timing

__all__ = ["LIMITS", "MIN_CHECKPOINT_INTERVAL", "validate_config"]

#: Upper bounds of sizes (docs/exporter.md lists them): far above any sensible value, and low
#: enough that a typo cannot ask for terabytes of queue or a LIST of a billion objects.
LIMITS = {
    "buffer.queue_size": 1_000_000,
    "buffer.max_batch_size": 100_000,
    "buffer.max_concurrency": 256,
    "page_size": 10_000,
    "backups": 1_000,
    "max_bulk_docs": 100_000,
    "max_bulk_bytes": 100 * 1024 * 1024,  # Elasticsearch's default http.max_content_length
    "shards": 1_024,  # the engines' own limit
    "replicas": 100,
    "item_retries": 100,
    "template_priority": 2**31 - 1,
    "retention_days": 36_500,
}
#: A checkpoint loop without a pause is a busy loop (every save is an fsync), not more safety.
MIN_CHECKPOINT_INTERVAL = 0.01
MAX_TIMEOUT = 3600.0

_FIELD_SELECTOR = re.compile(r"^[A-Za-z0-9_.\-/]+\s*(=|==|!=)\s*[^,=!]*$")
_LABEL_KEY = r"([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
_LABEL_VALUE = r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?"
_LABEL_REQUIREMENT = re.compile(
    rf"^\s*(!?{_LABEL_KEY}|{_LABEL_KEY}\s*(=|==|!=)\s*{_LABEL_VALUE}"
    rf"|{_LABEL_KEY}\s+(in|notin)\s+\(\s*{_LABEL_VALUE}(\s*,\s*{_LABEL_VALUE})*\s*\))\s*$"
)
_INDEX_NAME = re.compile(r"^[a-z0-9][a-z0-9_.+-]*$")
# Sink names are metric label values, thread names and parts of log lines.
_SINK_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
_HEADER_NAME = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$")
_LISTEN = re.compile(r"^([A-Za-z0-9.\-]*):(\d{1,5})$")
_AWS_REGION = re.compile(r"^[a-z0-9-]{1,32}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


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


def _text(value: str | None, field: str, *, empty: bool = True) -> None:
    """A name or path: no control characters (they break logs, headers and paths)."""
    if value is None:
        return
    if not value and not empty:
        raise ConfigError(f"{field}: must not be empty")
    if _CONTROL.search(value):
        raise ConfigError(f"{field}: contains a control character")


def _bounded(value: float | None, field: str, low: float, key: str) -> None:
    if value is None:
        return
    high = LIMITS[key]
    if not value >= low:  # NaN fails too
        raise ConfigError(f"{field}: must be at least {low}, got {value!r}")
    if value > high:
        raise ConfigError(f"{field}: must be at most {high}, got {value!r}")


def _url(value: str, field: str) -> URL:
    shown = redact_url(value)
    if not re.match(r"^https?://[^/\s]+", value):
        raise ConfigError(f"{field}: not an http(s) URL: {shown!r}")
    if _CONTROL.search(value) or " " in value:
        raise ConfigError(f"{field}: the URL contains spaces or control characters")
    try:
        url = URL(value)
        _ = url.port
    except (TypeError, ValueError) as exc:
        reason = str(exc).replace(value, shown)
        raise ConfigError(f"{field}: invalid URL {shown!r}: {redact_url(reason)}") from None
    if not url.host:
        raise ConfigError(f"{field}: no host in {shown!r}")
    return url


def _headers(headers: dict[str, str], field: str) -> None:
    for name, value in headers.items():
        if not _HEADER_NAME.match(name):
            raise ConfigError(f"{field}: {name!r} is not a valid header name")
        # Values are never echoed: they are often credentials.
        if re.search(r"[\x00-\x08\x0a-\x1f\x7f]", value):
            raise ConfigError(
                f"{field}.{name}: contains a line break or control character (an environment "
                "variable or file with a trailing newline?)"
            )


def _readable_file(value: str | None, field: str) -> None:
    if value is None:
        return
    _text(value, field, empty=False)
    path = Path(value).expanduser()
    if not path.is_file():
        raise ConfigError(f"{field}: {value!r} is not a readable file")
    if not os.access(path, os.R_OK):
        raise ConfigError(f"{field}: {value!r} is not readable (permission denied)")


def _writable_target(value: str, field: str, *, in_directory: bool = False) -> Path:
    """A file the exporter creates or appends to: its place must be able to hold a file.

    ``in_directory``: the exporter also creates files next to it (SQLite's -wal and -shm, the
    checkpoint's temporary file renamed over it), so the directory must be writable too.
    """
    _text(value, field, empty=False)
    path = Path(value).expanduser()
    if path.is_dir():
        raise ConfigError(f"{field}: {value!r} is a directory, not a file")
    ancestor = path.absolute().parent
    while not ancestor.exists() and ancestor != ancestor.parent:
        ancestor = ancestor.parent
    if not ancestor.is_dir():
        raise ConfigError(
            f"{field}: {value!r} is under {str(ancestor)!r}, which is not a directory"
        )
    if path.exists() and not os.access(path, os.W_OK):
        raise ConfigError(f"{field}: {value!r} is not writable (permission denied)")
    if (in_directory or not path.exists()) and not os.access(ancestor, os.W_OK | os.X_OK):
        raise ConfigError(f"{field}: cannot create files in {str(ancestor)!r} (permission denied)")
    return path


def _webhook(sink: WebhookSinkConfig, where: str) -> None:
    _url(sink.url, f"{where}.url")
    _headers(sink.headers, f"{where}.headers")
    timeout = parse_duration(sink.timeout, f"{where}.timeout")
    if not 0 < timeout <= MAX_TIMEOUT:
        raise ConfigError(f"{where}.timeout: must be more than 0 and at most 1h")
    if bool(sink.client_cert) != bool(sink.client_key):
        raise ConfigError(f"{where}: client_cert and client_key go together")
    for field in ("ca_file", "client_cert", "client_key", "bearer_token_file"):
        _readable_file(getattr(sink, field), f"{where}.{field}")
    methods = [
        m
        for m, on in (
            ("bearer_token_file", sink.bearer_token_file is not None),
            ("headers.Authorization", any(h.lower() == "authorization" for h in sink.headers)),
            ("user:password@ in url", "@" in URL(sink.url).raw_authority),
        )
        if on
    ]
    if len(methods) > 1:
        raise ConfigError(f"{where}: choose one authentication method, not {' and '.join(methods)}")


def _search_auth(sink: ElasticsearchSinkConfig, where: str) -> None:
    for secret in ("password", "api_key", "bearer_token"):
        if getattr(sink, secret) is not None and getattr(sink, secret + "_file") is not None:
            raise ConfigError(f"{where}: give {secret} or {secret}_file, not both")
        _text(getattr(sink, secret), f"{where}.{secret}", empty=False)
        _readable_file(getattr(sink, secret + "_file"), f"{where}.{secret}_file")
    _text(sink.username, f"{where}.username", empty=False)
    if sink.username is not None and ":" in sink.username:
        raise ConfigError(f"{where}.username: must not contain ':' (HTTP basic auth)")
    methods = [
        m
        for m, on in (
            ("username/password", sink.username is not None),
            ("api_key", sink.api_key is not None or sink.api_key_file is not None),
            ("bearer_token", sink.bearer_token is not None or sink.bearer_token_file is not None),
            ("aws", sink.aws is not None),
            ("headers.Authorization", any(h.lower() == "authorization" for h in sink.headers)),
            ("user:password@ in hosts", any("@" in URL(h).raw_authority for h in sink.hosts)),
        )
        if on
    ]
    if len(methods) > 1:
        raise ConfigError(f"{where}: choose one authentication method, not {' and '.join(methods)}")
    if (sink.password is not None or sink.password_file is not None) and sink.username is None:
        raise ConfigError(f"{where}.password: needs username")
    if sink.aws is not None:
        if not _AWS_REGION.match(sink.aws.region):
            raise ConfigError(f"{where}.aws.region: expected e.g. eu-west-1")
        _text(sink.aws.profile, f"{where}.aws.profile", empty=False)


def _search(sink: ElasticsearchSinkConfig, where: str) -> None:
    if not sink.hosts:
        raise ConfigError(f"{where}.hosts: at least one URL is needed")
    for i, host in enumerate(sink.hosts):
        _url(host, f"{where}.hosts[{i}]")
    if not _INDEX_NAME.match(sink.index) or len(sink.index) > 200:
        raise ConfigError(
            f"{where}.index: {sink.index!r} is not a valid index name (lowercase letters, "
            "digits, - _ . +; not starting with - _ . +)"
        )
    timeout = parse_duration(sink.timeout, f"{where}.timeout")
    if not 0 < timeout <= MAX_TIMEOUT:
        raise ConfigError(f"{where}.timeout: must be more than 0 and at most 1h")
    if sink.mode == "data_stream" and sink.op_type == "index":
        raise ConfigError(f"{where}.op_type: data streams accept only create")
    for field, low in (
        ("max_bulk_docs", 1),
        ("shards", 1),
        ("item_retries", 0),
        ("max_bulk_bytes", 1024),
        ("replicas", 0),
        ("template_priority", 0),
    ):
        _bounded(getattr(sink, field), f"{where}.{field}", low, field)
    _headers(sink.headers, f"{where}.headers")
    if bool(sink.client_cert) != bool(sink.client_key):
        raise ConfigError(f"{where}: client_cert and client_key go together")
    for field in ("ca_file", "client_cert", "client_key"):
        _readable_file(getattr(sink, field), f"{where}.{field}")
    _search_auth(sink, where)
    if sink.version is not None:
        if sink.product is None:
            raise ConfigError(f"{where}.version: needs product")
        if not re.match(r"^\d+(\.\d+){0,2}$", sink.version):
            raise ConfigError(f"{where}.version: expected e.g. 2.19 or 8.14.1")


def _sink(sink: SinkConfig, where: str) -> None:
    if not _SINK_NAME.match(sink.name):
        raise ConfigError(
            f"{where}.name: {sink.name!r} is not a valid name (1-63 letters, digits, - _ .; "
            "it is a metric label)"
        )
    if isinstance(sink, SQLiteSinkConfig | JSONLSinkConfig):
        parse_file_mode(sink.file_mode, f"{where}.file_mode")
    if isinstance(sink, WebhookSinkConfig):
        _webhook(sink, where)
    if isinstance(sink, ElasticsearchSinkConfig):
        _search(sink, where)
    if isinstance(sink, JSONLSinkConfig):
        if sink.max_bytes is not None and sink.max_bytes < 1:
            raise ConfigError(f"{where}.max_bytes: must be positive (or null)")
        _bounded(sink.backups, f"{where}.backups", 0, "backups")
    if isinstance(sink, SQLiteSinkConfig | ElasticsearchSinkConfig):
        days = sink.retention_days
        if days is not None and not 0 < days <= LIMITS["retention_days"]:  # NaN fails too
            raise ConfigError(
                f"{where}.retention_days: must be positive and at most "
                f"{LIMITS['retention_days']} (or null), got {days!r}"
            )


def _targets(config: ExportConfig) -> Iterator[tuple[str, Path]]:
    """Every file the exporter writes, with the field that names it."""
    sinks = config.effective_sinks()
    for i, sink in enumerate(sinks):
        field = f"sinks[{i}].path" if config.sinks else "the default SQLite store"
        if isinstance(sink, SQLiteSinkConfig):
            path = _writable_target(sink.path, field, in_directory=True)
            for suffix in ("", "-wal", "-shm", "-journal"):
                yield field, path.with_name(path.name + suffix)
        elif isinstance(sink, JSONLSinkConfig) and sink.path != "-":
            path = _writable_target(sink.path, field)
            yield field, path
            for n in range(1, sink.backups + 1):
                yield field, path.with_name(f"{path.name}.{n}")
    if config.dead_letter is not None:
        yield "dead_letter", _writable_target(config.dead_letter, "dead_letter")
    checkpoint = str(config.checkpoint_path())
    yield "checkpoint", _writable_target(checkpoint, "checkpoint", in_directory=True)


def _distinct_files(config: ExportConfig) -> None:
    owners: dict[str, str] = {}
    for field, path in _targets(config):
        key = os.path.realpath(path)
        owner = owners.setdefault(key, field)
        if owner != field:
            raise ConfigError(f"{field}: writes the same file as {owner} ({str(path)!r})")


def _top_level(config: ExportConfig) -> None:
    _text(config.cluster_name, "cluster_name", empty=False)
    if len(config.cluster_name) > 253:
        raise ConfigError("cluster_name: at most 253 characters")
    if config.namespace is not None and not _NAMESPACE.match(config.namespace):
        raise ConfigError(
            f"namespace: {config.namespace!r} is not a namespace name (lowercase letters, "
            "digits and '-', at most 63)"
        )
    for field in ("kubeconfig", "context", "checkpoint", "dead_letter"):
        _text(getattr(config, field), field, empty=False)
    if config.field_selector:
        for part in config.field_selector.split(","):
            if not _FIELD_SELECTOR.match(part.strip()):
                raise ConfigError(f"field_selector: invalid requirement {part.strip()!r}")
    if config.label_selector:
        for part in _split_label_selector(config.label_selector):
            if not _LABEL_REQUIREMENT.match(part):
                raise ConfigError(f"label_selector: invalid requirement {part.strip()!r}")
    if config.listen is not None:
        match = _LISTEN.match(config.listen)
        if match is None:
            raise ConfigError(f"listen: expected host:port, got {config.listen!r}")
        if int(match.group(2)) > 65535:
            raise ConfigError(f"listen: port {match.group(2)} is not in 0-65535")
    parse_file_mode(config.dead_letter_file_mode, "dead_letter_file_mode")


def _durations(config: ExportConfig) -> None:
    for field in ("state_ttl", "shutdown_timeout"):
        parse_duration(getattr(config, field), field)
    if parse_duration(config.checkpoint_interval, "checkpoint_interval") < MIN_CHECKPOINT_INTERVAL:
        raise ConfigError("checkpoint_interval: must be at least 10ms")
    if (
        config.watch_timeout is not None
        and parse_duration(config.watch_timeout, "watch_timeout") < 1
    ):
        raise ConfigError("watch_timeout: must be at least 1s")
    parse_duration(config.buffer.flush_delay, "buffer.flush_delay")
    for name in config.health.__struct_fields__:  # every health bound is a duration
        parse_duration(getattr(config.health, name), f"health.{name}")
    for side in ("past", "future"):
        parse_duration(getattr(config.time_window, side), f"time_window.{side}")


_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def _leader_election(le: LeaderElectionConfig) -> None:
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


def validate_config(config: ExportConfig) -> None:
    """Raise ``ConfigError`` for the first problem found, naming its field."""
    _top_level(config)
    _durations(config)
    for field in ("queue_size", "max_batch_size", "max_concurrency"):
        _bounded(getattr(config.buffer, field), f"buffer.{field}", 1, f"buffer.{field}")
    _bounded(config.page_size, "page_size", 1, "page_size")
    names: set[str] = set()
    for i, sink in enumerate(config.effective_sinks()):
        if sink.name in names:
            raise ConfigError(f"sinks[{i}].name: duplicate sink name {sink.name!r}")
        names.add(sink.name)
        _sink(sink, f"sinks[{i}]")
    try:
        compile_rules(config.rules)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    _distinct_files(config)
    _leader_election(config.leader_election)

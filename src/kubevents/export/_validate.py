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

from kubevents.export._checks import (
    MIN_CHECKPOINT_INTERVAL,
    MIN_SPOOL_BYTES,
    SINK_NAME,
    bounded,
    check_text,
    writable_target,
)
from kubevents.export._config import (
    CaptureConfig,
    ExportConfig,
    LeaderElectionConfig,
    SinkConfig,
)
from kubevents.export._configbase import (
    BufferConfig,
    ConfigError,
    RetryConfig,
    SinkBufferConfig,
    parse_file_mode,
    parse_size,
)
from kubevents.export._enrichconfig import validate_enrich
from kubevents.export._heartbeatconfig import validate_heartbeat
from kubevents.export._listen import parse_listen
from kubevents.export._rules import RuleSet, compile_rules
from kubevents.kube import validate_timing

__all__ = ["validate_config"]

_FIELD_SELECTOR = re.compile(r"^[A-Za-z0-9_.\-/]+\s*(=|==|!=)\s*[^,=!]*$")
_LABEL_KEY = r"([a-z0-9]([-a-z0-9.]*[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?"
_LABEL_VALUE = r"([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?"
_LABEL_REQUIREMENT = re.compile(
    rf"^\s*(!?{_LABEL_KEY}|{_LABEL_KEY}\s*(=|==|!=)\s*{_LABEL_VALUE}"
    rf"|{_LABEL_KEY}\s+(in|notin)\s+\(\s*{_LABEL_VALUE}(\s*,\s*{_LABEL_VALUE})*\s*\))\s*$"
)
# A held-back occurrence holds the checkpoint for up to its sink's min_interval.
MAX_MIN_INTERVAL = 3600.0
MIN_CAPTURE_BYTES = 1024 * 1024
_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


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


def _sink(sink: SinkConfig, where: str, config: ExportConfig) -> None:
    if not SINK_NAME.match(sink.name):
        raise ConfigError(
            f"{where}.name: {sink.name!r} is not a valid name (1-63 letters, digits, - _ .; "
            "it is a metric label)"
        )
    sink.validate(where)
    if sink.buffer is not None:
        _buffer(sink.buffer, f"{where}.buffer")
    if sink.retry is not None:
        _retry(sink.retry, f"{where}.retry")
    _rules(sink.rules, f"{where}.rules")
    if sink.throttle is not None:
        interval = sink.throttle.min_interval
        if not 0 < interval <= MAX_MIN_INTERVAL:
            raise ConfigError(
                f"{where}.throttle.min_interval: must be more than 0 and at most 1h (the "
                f"checkpoint waits for a held-back occurrence up to that long), got {interval:g}s"
            )


def _rules(rules: RuleSet, where: str) -> None:
    try:
        compile_rules(rules, where)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None


def _buffer(buffer: BufferConfig | SinkBufferConfig, where: str) -> None:
    for field in ("queue_size", "max_batch_size", "max_concurrency"):
        value = getattr(buffer, field)
        if value is not None:
            bounded(value, f"{where}.{field}", 1, f"buffer.{field}")
    if buffer.spool is not None:
        spool = buffer.spool
        check_text(spool.directory, f"{where}.spool.directory", empty=False)
        size = parse_size(spool.max_bytes, f"{where}.spool.max_bytes")
        if size < MIN_SPOOL_BYTES:
            raise ConfigError(f"{where}.spool.max_bytes: must be at least 16MiB, got {size}")


def _retry(retry: RetryConfig, where: str) -> None:
    if retry.initial_delay <= 0:
        raise ConfigError(f"{where}.initial_delay: must be more than 0")
    if retry.max_delay < retry.initial_delay:
        raise ConfigError(f"{where}.max_delay: must be at least initial_delay")
    bounded(retry.permanent_attempts, f"{where}.permanent_attempts", 1, "retry.permanent_attempts")


def _targets(config: ExportConfig) -> Iterator[tuple[str, Path]]:
    """Every file the exporter writes, with the field that names it."""
    for i, sink in enumerate(config.effective_sinks()):
        yield from sink.files(f"sinks[{i}].path" if config.sinks else "the default SQLite store")
    if config.dead_letter is not None:
        yield "dead_letter", writable_target(config.dead_letter, "dead_letter")
    checkpoint = str(config.checkpoint_path())
    yield "checkpoint", writable_target(checkpoint, "checkpoint", in_directory=True)
    if config.capture is not None:
        yield "capture.path", writable_target(config.capture.path, "capture.path")


def _capture(capture: CaptureConfig) -> None:
    check_text(capture.path, "capture.path", empty=False)
    if parse_size(capture.max_bytes, "capture.max_bytes") < MIN_CAPTURE_BYTES:
        raise ConfigError("capture.max_bytes: must be at least 1MiB")
    bounded(capture.backups, "capture.backups", 0, "backups")
    parse_file_mode(capture.file_mode, "capture.file_mode")


def _distinct_files(config: ExportConfig) -> None:
    owners: dict[str, str] = {}
    for field, path in _targets(config):
        key = os.path.realpath(path)
        owner = owners.setdefault(key, field)
        if owner != field:
            raise ConfigError(f"{field}: writes the same file as {owner} ({str(path)!r})")


def _top_level(config: ExportConfig) -> None:
    check_text(config.cluster_name, "cluster_name", empty=False)
    if len(config.cluster_name) > 253:
        raise ConfigError("cluster_name: at most 253 characters")
    if config.namespace is not None and not _NAMESPACE.match(config.namespace):
        raise ConfigError(
            f"namespace: {config.namespace!r} is not a namespace name (lowercase letters, "
            "digits and '-', at most 63)"
        )
    for field in ("kubeconfig", "context", "checkpoint", "dead_letter"):
        check_text(getattr(config, field), field, empty=False)
    if config.field_selector:
        for part in config.field_selector.split(","):
            if not _FIELD_SELECTOR.match(part.strip()):
                raise ConfigError(f"field_selector: invalid requirement {part.strip()!r}")
    if config.label_selector:
        for part in _split_label_selector(config.label_selector):
            if not _LABEL_REQUIREMENT.match(part):
                raise ConfigError(f"label_selector: invalid requirement {part.strip()!r}")
    if config.listen is not None:
        try:
            parse_listen(config.listen)
        except ValueError as exc:
            raise ConfigError(f"listen: {exc}") from None
    parse_file_mode(config.dead_letter_file_mode, "dead_letter_file_mode")


def _durations(config: ExportConfig) -> None:
    # Every duration is finite, not negative and at most 365d once decoded (``Seconds``);
    # these are the fields with a tighter lower bound.
    if config.checkpoint_interval < MIN_CHECKPOINT_INTERVAL:
        raise ConfigError("checkpoint_interval: must be at least 10ms")
    if config.watch_timeout is not None and config.watch_timeout < 1:
        raise ConfigError("watch_timeout: must be at least 1s")


_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")


def _leader_election(le: LeaderElectionConfig) -> None:
    lease, renew, retry = le.lease_duration, le.renew_deadline, le.retry_period
    if not lease.is_integer():
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
    _buffer(config.buffer, "buffer")
    _retry(config.retry, "retry")
    bounded(config.page_size, "page_size", 1, "page_size")
    names: set[str] = set()
    for i, sink in enumerate(config.effective_sinks()):
        if sink.name in names:
            raise ConfigError(f"sinks[{i}].name: duplicate sink name {sink.name!r}")
        names.add(sink.name)
        _sink(sink, f"sinks[{i}]", config)
    _rules(config.rules, "rules")
    if config.capture is not None:
        _capture(config.capture)
    if config.enrich is not None:
        validate_enrich(config.enrich)
    _distinct_files(config)
    _leader_election(config.leader_election)
    validate_heartbeat(config.heartbeat, config.leader_election.enabled)

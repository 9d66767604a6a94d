"""The OpenTelemetry collector, built from its Go modules for the exporter benchmarks.

``bench/otelcol`` is a wrapper module: go.mod and go.sum pin opentelemetry-collector-contrib
v0.111.0 (the newest release whose ``elasticsearch`` exporter the Go module proxy serves here);
main.go and components.go are the builder's boilerplate, listing only the components measured:
the ``k8sobjects`` receiver, the ``batch`` processor, and the ``file``, ``elasticsearch`` and
``kafka`` exporters. The binary is cached by a hash of those files and the Go version
(``xcheck.gobuild``), like resmo KEE's.

Its configuration here is the fastest honest one its docs describe; each setting says why.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import msgspec
import yaml
from bench._exporter_support import AppendedRecords, MeasuredProcess
from xcheck.gobuild import cached_go_build

from kubevents_testenv import LocalCluster, free_ports

__all__ = [
    "OTELCOL_MODULE",
    "OTELCOL_VERSION",
    "OtlpFileCounter",
    "collector",
    "elasticsearch_exporter",
    "file_exporter",
    "kafka_exporter",
    "otelcol_binary",
]

OTELCOL_MODULE = Path(__file__).resolve().parent / "otelcol"
OTELCOL_VERSION = "v0.111.0"


def otelcol_binary() -> Path:
    """The collector binary, built on first use (see docs/benchmarks.md for how long)."""
    return cached_go_build(OTELCOL_MODULE, ".", "otelcol", "bench-otelcol")


def _events_object(mode: str, namespace: str | None, resource_version: str | None) -> Any:
    # One entry for core/v1 events. In watch mode without resource_version the receiver LISTs
    # (unpaged) only to learn a resourceVersion and discards the items, then watches from there.
    events: dict[str, Any] = {"name": "events", "mode": mode}
    if mode == "pull":
        # One LIST at start-up, then every interval: long enough that a run sees only the first.
        events["interval"] = "1h"
    if namespace:
        events["namespaces"] = [namespace]
    if resource_version is not None:
        events["resource_version"] = resource_version
    return events


def _config(receiver_object: Any, exporter: tuple[str, Any], metrics_port: int) -> Any:
    name, settings = exporter
    return {
        "receivers": {
            # auth_type kubeConfig: client-go's default loading rules, i.e. $KUBECONFIG.
            "k8sobjects": {"auth_type": "kubeConfig", "objects": [receiver_object]},
        },
        "processors": {
            # The batch processor is what the collector's docs recommend in every pipeline;
            # its defaults (8192 records or 200 ms) are the recommended ones. Its default
            # send_batch_max_size (0: no limit) passes a pull-mode LIST on as one export
            # request: into Elasticsearch 280 000 Events in one request ran into the exporter's
            # timeout and were dropped, so larger batches are split at 8192. No memory_limiter:
            # it protects a production collector but only costs time here.
            "batch": {"send_batch_size": 8192, "send_batch_max_size": 8192, "timeout": "200ms"},
        },
        "exporters": {name: settings},
        "service": {
            "pipelines": {
                "logs": {"receivers": ["k8sobjects"], "processors": ["batch"], "exporters": [name]}
            },
            "telemetry": {
                "logs": {"level": "warn"},
                # Its own metrics stay on, as kubevents' do, on a free port: the default :8888
                # would collide with anything else on the machine.
                "metrics": {"level": "basic", "address": f"127.0.0.1:{metrics_port}"},
            },
        },
    }


def file_exporter(path: Path) -> tuple[str, Any]:
    # OTLP JSON, one ExportLogsServiceRequest per line. flush_interval: the exporter buffers
    # writes and flushes on a timer (1 s by default); 100 ms keeps it from looking slow on
    # phases that last seconds. It never fsyncs (kubevents' JSON Lines sink fsyncs each batch).
    return "file", {"path": str(path), "format": "json", "flush_interval": "100ms"}


def elasticsearch_exporter(url: str, index: str) -> tuple[str, Any]:
    return "elasticsearch", {
        "endpoints": [url],
        "logs_index": index,
        # The document is the log record as OTLP has it (mode none, the default); no node
        # discovery (one local node).
        "mapping": {"mode": "none"},
        "discover": {"on_start": False},
        # Its bulk indexer: workers = cores (the default), flush every 1 s or 5 MB instead of the
        # default 30 s, so a phase of seconds is not measured as the timer.
        "num_workers": os.cpu_count() or 2,
        "flush": {"bytes": 5_000_000, "interval": "1s"},
        # The sending queue its README describes (off by default): consumers hand batches to
        # the bulk indexer concurrently.
        "sending_queue": {"enabled": True, "num_consumers": 10, "queue_size": 1000},
    }


def kafka_exporter(bootstrap: str, topic: str) -> tuple[str, Any]:
    return "kafka", {
        "brokers": [bootstrap],
        "topic": topic,
        # Required; sarama speaks this protocol version (Kafka 4 dropped the ones before 2.1).
        "protocol_version": "3.0.0",
        # raw: one Kafka record per log record, its body (the Event) as JSON, as kubevents
        # writes one record per occurrence. The OTLP encodings put a whole batch (up to 8192
        # Events, megabytes) into one record, over the broker's 1 MB limit.
        "encoding": "raw",
        # acks=all, as kubevents' sink (the same on one broker); no compression, as kubevents'
        # default. The sending queue (10 consumers) is on by default.
        "producer": {"required_acks": -1, "compression": "none"},
        "sending_queue": {"enabled": True, "num_consumers": 10, "queue_size": 1000},
    }


def collector(
    cluster: LocalCluster,
    workdir: Path,
    name: str,
    exporter: tuple[str, Any],
    *,
    mode: str = "watch",
    namespace: str | None = None,
    resource_version: str | None = None,
) -> MeasuredProcess:
    """The collector process (not started): k8sobjects(events) → batch → ``exporter``."""
    (metrics_port,) = free_ports(1)
    receiver = _events_object(mode, namespace, resource_version)
    path = workdir / f"{name}.yaml"
    path.write_text(yaml.safe_dump(_config(receiver, exporter, metrics_port)))
    env = dict(os.environ, KUBECONFIG=str(cluster.kubeconfig))
    args = [str(otelcol_binary()), "--config", f"file:{path}"]
    return MeasuredProcess(args, workdir / f"{name}.log", env=env)


# -- reading what it wrote --------------------------------------------------------------------


class _Value(msgspec.Struct):
    # OTLP JSON's AnyValue: only the two kinds the path to metadata.uid goes through.
    stringValue: str | None = None  # noqa: N815 (OTLP's field name)
    kvlistValue: _KeyValues | None = None  # noqa: N815


class _KeyValue(msgspec.Struct):
    key: str
    value: _Value


class _KeyValues(msgspec.Struct):
    values: list[_KeyValue] = []


class _Record(msgspec.Struct):
    body: _Value | None = None


class _Scope(msgspec.Struct):
    logRecords: list[_Record] = []  # noqa: N815


class _Resource(msgspec.Struct):
    scopeLogs: list[_Scope] = []  # noqa: N815


class _Request(msgspec.Struct):
    resourceLogs: list[_Resource] = []  # noqa: N815


_decode_request = msgspec.json.Decoder(_Request).decode


def _get(value: _Value | None, key: str) -> _Value | None:
    if value is None or value.kvlistValue is None:
        return None
    for pair in value.kvlistValue.values:
        if pair.key == key:
            return pair.value
    return None


def _uid(body: _Value | None) -> str:
    # Watch mode wraps the object: {"type": "ADDED", "object": {...}}; pull mode logs it bare.
    obj = _get(body, "object") or body
    uid = _get(_get(obj, "metadata"), "uid")
    return (uid.stringValue or "") if uid is not None else ""


class OtlpFileCounter(AppendedRecords):
    """Log records in the collector's OTLP JSON file (one export request, many records a line).

    While a phase runs, records are counted by their ``observedTimeUnixNano`` keys (the seeded
    Events' text never contains it); ``uids`` parses the whole file once, at the end.
    """

    def __init__(self, path: Path) -> None:
        super().__init__(path, b'"observedTimeUnixNano"')

    def uids(self) -> Iterator[str]:
        for line in self.lines():
            for resource in _decode_request(line).resourceLogs:
                for scope in resource.scopeLogs:
                    for record in scope.logRecords:
                        yield _uid(record.body)

"""Sinks: where occurrences go. Each is a package of the same shape: ``_config`` (its settings,
their validation and ``build()``), ``_encoder`` (occurrences on its wire) and ``_service`` (the
writer), with its tests under ``tests/export/sinks/<name>/``."""

from typing import TYPE_CHECKING

from kubevents._lazy import lazy_exports
from kubevents.export._document import (
    ExportDocument,
    encode_array,
    encode_document,
    encode_lines,
    format_time,
    occurrence_document,
)
from kubevents.export.sinks._base import HttpSinkError, Rejected, Sink, SinkError, WriteResult

if TYPE_CHECKING:
    from kubevents.export.sinks.elasticsearch import AwsSigV4, ElasticsearchSink, SearchAuth
    from kubevents.export.sinks.jsonl import DeadLetterFile, JSONLSink
    from kubevents.export.sinks.kafka import KafkaSink
    from kubevents.export.sinks.sqlite import SQLiteSink
    from kubevents.export.sinks.webhook import WebhookError, WebhookSink
else:
    # Each sink's package (and what it imports: aiokafka, SQLite) on first use of its names.
    __getattr__ = lazy_exports(
        __name__,
        {
            "AwsSigV4": "kubevents.export.sinks.elasticsearch",
            "ElasticsearchSink": "kubevents.export.sinks.elasticsearch",
            "SearchAuth": "kubevents.export.sinks.elasticsearch",
            "DeadLetterFile": "kubevents.export.sinks.jsonl",
            "JSONLSink": "kubevents.export.sinks.jsonl",
            "KafkaSink": "kubevents.export.sinks.kafka",
            "SQLiteSink": "kubevents.export.sinks.sqlite",
            "WebhookError": "kubevents.export.sinks.webhook",
            "WebhookSink": "kubevents.export.sinks.webhook",
        },
    )

__all__ = [
    "AwsSigV4",
    "DeadLetterFile",
    "ElasticsearchSink",
    "ExportDocument",
    "HttpSinkError",
    "JSONLSink",
    "KafkaSink",
    "Rejected",
    "SQLiteSink",
    "SearchAuth",
    "Sink",
    "SinkError",
    "WebhookError",
    "WebhookSink",
    "WriteResult",
    "encode_array",
    "encode_document",
    "encode_lines",
    "format_time",
    "occurrence_document",
]

"""Sinks: where occurrences go. Each is a package of the same shape: ``_config`` (its settings,
their validation and ``build()``), ``_encoder`` (occurrences on its wire) and ``_service`` (the
writer), with its tests under ``tests/export/sinks/<name>/``."""

from kubevents.export._document import (
    ExportDocument,
    encode_array,
    encode_document,
    encode_lines,
    format_time,
    occurrence_document,
)
from kubevents.export.sinks._base import HttpSinkError, Rejected, Sink, SinkError, WriteResult
from kubevents.export.sinks.elasticsearch import AwsSigV4, ElasticsearchSink, SearchAuth
from kubevents.export.sinks.jsonl import DeadLetterFile, JSONLSink
from kubevents.export.sinks.kafka import KafkaSink
from kubevents.export.sinks.sqlite import SQLiteSink
from kubevents.export.sinks.webhook import WebhookError, WebhookSink

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

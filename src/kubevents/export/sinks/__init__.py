"""Sinks: where occurrences go. Each sink is a config, an encoder and a writer."""

from kubevents.export._document import (
    ExportDocument,
    encode_array,
    encode_document,
    encode_lines,
    occurrence_document,
)
from kubevents.export.sinks._base import HttpSinkError, Rejected, Sink, SinkError, WriteResult
from kubevents.export.sinks._elasticsearch import ElasticsearchSink
from kubevents.export.sinks._es_transport import AwsSigV4, SearchAuth
from kubevents.export.sinks._jsonl import DeadLetterFile, JSONLSink
from kubevents.export.sinks._sqlite import SQLiteSink
from kubevents.export.sinks._webhook import WebhookError, WebhookSink

__all__ = [
    "AwsSigV4",
    "DeadLetterFile",
    "ElasticsearchSink",
    "ExportDocument",
    "HttpSinkError",
    "JSONLSink",
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
    "occurrence_document",
]

"""JSON Lines: the sink (a file or stdout) and the dead-letter file."""

from kubevents.export.sinks.jsonl._config import JSONLSinkConfig
from kubevents.export.sinks.jsonl._deadletter import DeadLetterFile
from kubevents.export.sinks.jsonl._service import DEFAULT_RECENT_IDS, JSONLSink

__all__ = ["DEFAULT_RECENT_IDS", "DeadLetterFile", "JSONLSink", "JSONLSinkConfig"]

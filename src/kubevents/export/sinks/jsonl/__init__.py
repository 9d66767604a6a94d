"""JSON Lines: the sink (a file or stdout) and the dead-letter file."""

from typing import TYPE_CHECKING

from kubevents._lazy import lazy_exports
from kubevents.export.sinks.jsonl._config import JSONLSinkConfig

if TYPE_CHECKING:
    from kubevents.export.sinks.jsonl._deadletter import DeadLetterFile
    from kubevents.export.sinks.jsonl._service import DEFAULT_RECENT_IDS, JSONLSink
else:
    __getattr__ = lazy_exports(
        __name__,
        {
            "DeadLetterFile": "kubevents.export.sinks.jsonl._deadletter",
            "DEFAULT_RECENT_IDS": "kubevents.export.sinks.jsonl._service",
            "JSONLSink": "kubevents.export.sinks.jsonl._service",
        },
    )

__all__ = ["DEFAULT_RECENT_IDS", "DeadLetterFile", "JSONLSink", "JSONLSinkConfig"]

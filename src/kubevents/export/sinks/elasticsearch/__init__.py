"""Elasticsearch 7-9 and OpenSearch 1-3 through one ``_bulk`` sink."""

from typing import TYPE_CHECKING

from kubevents._lazy import lazy_exports
from kubevents.export.sinks.elasticsearch._config import (
    AwsSigV4Config,
    ElasticsearchSinkConfig,
    OpenSearchSinkConfig,
)

if TYPE_CHECKING:
    from kubevents.export.sinks.elasticsearch._service import ElasticsearchSink
    from kubevents.export.sinks.elasticsearch._transport import AwsSigV4, SearchAuth
else:
    # The writer, its templates and transport only for a configuration that has this sink.
    __getattr__ = lazy_exports(
        __name__,
        {
            "ElasticsearchSink": "kubevents.export.sinks.elasticsearch._service",
            "AwsSigV4": "kubevents.export.sinks.elasticsearch._transport",
            "SearchAuth": "kubevents.export.sinks.elasticsearch._transport",
        },
    )

__all__ = [
    "AwsSigV4",
    "AwsSigV4Config",
    "ElasticsearchSink",
    "ElasticsearchSinkConfig",
    "OpenSearchSinkConfig",
    "SearchAuth",
]

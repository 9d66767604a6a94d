"""Elasticsearch 7-9 and OpenSearch 1-3 through one ``_bulk`` sink."""

from kubevents.export.sinks.elasticsearch._config import (
    AwsSigV4Config,
    ElasticsearchSinkConfig,
    OpenSearchSinkConfig,
)
from kubevents.export.sinks.elasticsearch._service import ElasticsearchSink
from kubevents.export.sinks.elasticsearch._transport import AwsSigV4, SearchAuth

__all__ = [
    "AwsSigV4",
    "AwsSigV4Config",
    "ElasticsearchSink",
    "ElasticsearchSinkConfig",
    "OpenSearchSinkConfig",
    "SearchAuth",
]

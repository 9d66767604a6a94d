"""The embedded SQLite store: the default sink, and the schema ``kubevents query`` reads."""

from typing import TYPE_CHECKING

from kubevents._lazy import lazy_exports
from kubevents.export.sinks.sqlite._config import SQLiteSinkConfig
from kubevents.export.sinks.sqlite._schema import (
    APPLICATION_ID,
    COLUMNS,
    DB_PATH_ENV,
    DEFAULT_DB_PATH,
    MIN_SQLITE,
    SCHEMA_VERSION,
    SQLITE_MAGIC,
    default_db_path,
    from_micros,
    schema_problem,
    select,
    sqlite_problem,
    stored_type,
    stored_uid,
    to_micros,
    uid_text,
)

if TYPE_CHECKING:
    from kubevents.export.sinks.sqlite._codec import (
        DICTIONARY_NAME,
        EventCodec,
        StoredEventError,
        shipped_codec,
        strip_managed_fields,
    )
    from kubevents.export.sinks.sqlite._enriched import (
        enrichment_value,
        stored_enrichment,
        stored_v3_enrichment,
    )
    from kubevents.export.sinks.sqlite._service import SQLiteSink
else:
    # sqlite3, zstandard and the writer only for a configuration (or a reader) that uses them.
    __getattr__ = lazy_exports(
        __name__,
        {
            "DICTIONARY_NAME": "kubevents.export.sinks.sqlite._codec",
            "EventCodec": "kubevents.export.sinks.sqlite._codec",
            "StoredEventError": "kubevents.export.sinks.sqlite._codec",
            "shipped_codec": "kubevents.export.sinks.sqlite._codec",
            "strip_managed_fields": "kubevents.export.sinks.sqlite._codec",
            "enrichment_value": "kubevents.export.sinks.sqlite._enriched",
            "stored_enrichment": "kubevents.export.sinks.sqlite._enriched",
            "stored_v3_enrichment": "kubevents.export.sinks.sqlite._enriched",
            "SQLiteSink": "kubevents.export.sinks.sqlite._service",
        },
    )

__all__ = [
    "APPLICATION_ID",
    "COLUMNS",
    "DB_PATH_ENV",
    "DEFAULT_DB_PATH",
    "DICTIONARY_NAME",
    "MIN_SQLITE",
    "SCHEMA_VERSION",
    "SQLITE_MAGIC",
    "EventCodec",
    "SQLiteSink",
    "SQLiteSinkConfig",
    "StoredEventError",
    "default_db_path",
    "enrichment_value",
    "from_micros",
    "schema_problem",
    "select",
    "shipped_codec",
    "sqlite_problem",
    "stored_enrichment",
    "stored_type",
    "stored_uid",
    "stored_v3_enrichment",
    "strip_managed_fields",
    "to_micros",
    "uid_text",
]

"""The embedded SQLite store: the default sink, and the schema ``kubevents query`` reads."""

from kubevents.export.sinks.sqlite._codec import (
    DICTIONARY_NAME,
    EventCodec,
    StoredEventError,
    shipped_codec,
    strip_managed_fields,
)
from kubevents.export.sinks.sqlite._config import SQLiteSinkConfig
from kubevents.export.sinks.sqlite._enriched import enrichment_columns, stored_enrichment
from kubevents.export.sinks.sqlite._schema import (
    APPLICATION_ID,
    COLUMNS,
    DB_PATH_ENV,
    DEFAULT_DB_PATH,
    SCHEMA_VERSION,
    SQLITE_MAGIC,
    default_db_path,
    from_micros,
    schema_problem,
    select,
    stored_uid,
    to_micros,
    uid_text,
)
from kubevents.export.sinks.sqlite._service import SQLiteSink

__all__ = [
    "APPLICATION_ID",
    "COLUMNS",
    "DB_PATH_ENV",
    "DEFAULT_DB_PATH",
    "DICTIONARY_NAME",
    "SCHEMA_VERSION",
    "SQLITE_MAGIC",
    "EventCodec",
    "SQLiteSink",
    "SQLiteSinkConfig",
    "StoredEventError",
    "default_db_path",
    "enrichment_columns",
    "from_micros",
    "schema_problem",
    "select",
    "shipped_codec",
    "stored_enrichment",
    "stored_uid",
    "strip_managed_fields",
    "to_micros",
    "uid_text",
]

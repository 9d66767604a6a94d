"""The embedded SQLite store: the default sink, and the schema ``kubevents query`` reads."""

from kubevents.export.sinks.sqlite._config import SQLiteSinkConfig
from kubevents.export.sinks.sqlite._schema import (
    APPLICATION_ID,
    COLUMNS,
    DB_PATH_ENV,
    DEFAULT_DB_PATH,
    SCHEMA_VERSION,
    SELECT,
    SQLITE_MAGIC,
    default_db_path,
    from_micros,
    schema_problem,
    to_micros,
)
from kubevents.export.sinks.sqlite._service import SQLiteSink

__all__ = [
    "APPLICATION_ID",
    "COLUMNS",
    "DB_PATH_ENV",
    "DEFAULT_DB_PATH",
    "SCHEMA_VERSION",
    "SELECT",
    "SQLITE_MAGIC",
    "SQLiteSink",
    "SQLiteSinkConfig",
    "default_db_path",
    "from_micros",
    "schema_problem",
    "to_micros",
]

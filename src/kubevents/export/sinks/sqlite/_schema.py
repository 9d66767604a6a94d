"""The SQLite store's schema: what the sink writes and ``kubevents query`` reads, in one place.

The file is marked as a kubevents store in its header (``application_id``) and carries its
schema version (``user_version``); migrations are appended, never edited.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path

__all__ = [
    "APPLICATION_ID",
    "COLUMNS",
    "DB_PATH_ENV",
    "DEFAULT_DB_PATH",
    "INSERT",
    "MIGRATIONS",
    "PRUNE",
    "SCHEMA_VERSION",
    "SELECT",
    "SQLITE_MAGIC",
    "default_db_path",
    "from_micros",
    "schema_problem",
    "to_micros",
]

SQLITE_MAGIC = b"SQLite format 3\x00"
DEFAULT_DB_PATH = "kubevents.db"
DB_PATH_ENV = "KUBEVENTS_DB"


def default_db_path(environ: Mapping[str, str] | None = None) -> Path:
    """``$KUBEVENTS_DB`` if set, else ``./kubevents.db``: the exporter's and the CLI's default."""
    env = os.environ if environ is None else environ
    return Path(env.get(DB_PATH_ENV) or DEFAULT_DB_PATH).expanduser()


# "kevt": marks the file as ours in the SQLite header, so neither side mistakes another
# application's database for a store (or turns it into one).
APPLICATION_ID = 0x6B657674

_V1 = (
    # ``seq`` is AUTOINCREMENT so row ids are never reused after retention deletes the newest
    # row: ``follow`` tails by ``seq`` and would otherwise skip a row. ``id`` is the identity.
    # ``time`` and ``inserted_at`` are unix microseconds (INTEGER): exact, unlike a REAL, and
    # cheaper to index and compare than text; ``time_rfc3339`` is the same instant for humans.
    """CREATE TABLE occurrences (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,
        uid TEXT NOT NULL, count INTEGER NOT NULL,
        time INTEGER NOT NULL, time_rfc3339 TEXT NOT NULL,
        namespace TEXT NOT NULL, name TEXT NOT NULL,
        involved_kind TEXT NOT NULL COLLATE NOCASE, involved_name TEXT NOT NULL,
        involved_namespace TEXT NOT NULL, involved_uid TEXT NOT NULL,
        involved_api_version TEXT NOT NULL, field_path TEXT NOT NULL,
        type TEXT NOT NULL COLLATE NOCASE, reason TEXT NOT NULL COLLATE NOCASE,
        message TEXT NOT NULL,
        source_component TEXT NOT NULL, source_host TEXT NOT NULL,
        reporting_controller TEXT NOT NULL, reporting_instance TEXT NOT NULL,
        cluster TEXT NOT NULL, resource_version TEXT NOT NULL,
        first_timestamp TEXT, last_timestamp TEXT,
        event TEXT NOT NULL,
        inserted_at INTEGER NOT NULL
    )""",
    "CREATE INDEX occurrences_time ON occurrences (time)",
    "CREATE INDEX occurrences_namespace_time ON occurrences (namespace, time)",
    "CREATE INDEX occurrences_involved ON occurrences (involved_kind, involved_name)",
    # (x, time) rather than (x) alone: type has two values, so only the time suffix makes
    # "warnings of the last hour" an index range instead of half the table.
    "CREATE INDEX occurrences_reason ON occurrences (reason, time)",
    "CREATE INDEX occurrences_type ON occurrences (type, time)",
    "CREATE INDEX occurrences_uid_count ON occurrences (uid, count)",
)

# Migration i brings the schema from version i to i + 1; append, never edit.
MIGRATIONS: tuple[tuple[str, ...], ...] = (_V1,)
SCHEMA_VERSION = len(MIGRATIONS)

# The columns a row is written with, in order (``seq`` is assigned by SQLite).
COLUMNS = (
    "id",
    "uid",
    "count",
    "time",
    "time_rfc3339",
    "namespace",
    "name",
    "involved_kind",
    "involved_name",
    "involved_namespace",
    "involved_uid",
    "involved_api_version",
    "field_path",
    "type",
    "reason",
    "message",
    "source_component",
    "source_host",
    "reporting_controller",
    "reporting_instance",
    "cluster",
    "resource_version",
    "first_timestamp",
    "last_timestamp",
    "event",
    "inserted_at",
)
INSERT = (
    f"INSERT INTO occurrences ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))}) "
    "ON CONFLICT(id) DO NOTHING"
)
# What a reader selects: the arrival order first, then every written column.
SELECT = f"SELECT seq, {', '.join(COLUMNS)} FROM occurrences"
PRUNE = (
    "DELETE FROM occurrences WHERE seq IN "
    "(SELECT seq FROM occurrences WHERE time < ? ORDER BY time LIMIT ?)"
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)


def to_micros(value: datetime) -> int:
    """Unix time in integer microseconds: exact (a float is not) and fast to compare."""
    if value.tzinfo is None:
        raise ValueError("naive datetime: store times must be timezone-aware")
    return (value - _EPOCH) // _MICRO


def from_micros(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


def schema_problem(application_id: int, user_version: int) -> str | None:
    """Why a database with this header is not a readable store, or None if it is one."""
    if application_id != APPLICATION_ID:
        return "is a SQLite database but not a kubevents store"
    if user_version > SCHEMA_VERSION:
        return (
            f"was written by a newer kubevents (schema version {user_version}; "
            f"this one knows up to {SCHEMA_VERSION})"
        )
    if user_version < 1:
        return "is an incomplete kubevents store (no schema)"
    return None

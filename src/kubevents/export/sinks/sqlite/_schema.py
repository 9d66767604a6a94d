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
    "MIN_SQLITE",
    "PRUNE",
    "SCHEMA_VERSION",
    "SQLITE_MAGIC",
    "V2",
    "V2_INDEXES",
    "V2_PAGE_SIZE",
    "V3",
    "V4",
    "V4_INDEXES",
    "default_db_path",
    "from_micros",
    "schema_problem",
    "select",
    "sqlite_problem",
    "stored_type",
    "stored_uid",
    "to_micros",
    "uid_text",
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

# Migration i brings the schema from version i to i + 1; append, never edit. Version 2 (the
# compact layout) is made by ``_migrate``: it compresses every stored Event, which SQL cannot.
# Version 3 is ``V3``; version 4 is ``V4``, filled by ``_migrate`` from the version 3 table.
MIGRATIONS: tuple[tuple[str, ...], ...] = (_V1,)
SCHEMA_VERSION = 4
# Generated columns (version 4) need SQLite 3.31; the JSON functions they use are built in
# from 3.38 and compiled into most earlier builds.
MIN_SQLITE = (3, 31, 0)

# Version 2 keeps as columns what the queries filter, sort and group on, and the Event
# (compressed, ``_codec``); everything else a reader shows is read from the Event.
V2 = (
    # ``uid`` is the 16 bytes of a canonical UUID (what the API server assigns), else the text.
    # ``own_time`` is the occurrence's own time where the exporter's window moved its filing
    # time (``time``), NULL otherwise: a reader needs it for every row it prints.
    # ``involved_namespace`` and ``reporting_controller`` are NULL when they equal
    # ``namespace`` and ``source_component``, as they mostly do.
    """CREATE TABLE occurrences_v2 (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        uid BLOB NOT NULL, count INTEGER NOT NULL,
        time INTEGER NOT NULL, own_time INTEGER,
        namespace TEXT NOT NULL,
        involved_kind TEXT NOT NULL COLLATE NOCASE, involved_name TEXT NOT NULL,
        involved_namespace TEXT,
        type TEXT NOT NULL COLLATE NOCASE, reason TEXT NOT NULL COLLATE NOCASE,
        source_component TEXT NOT NULL, reporting_controller TEXT,
        cluster TEXT NOT NULL,
        inserted_at INTEGER NOT NULL,
        event BLOB NOT NULL,
        UNIQUE (uid, count)
    )""",
    # One byte of each stored Event names its dictionary: at most 255 of them.
    """CREATE TABLE IF NOT EXISTS dictionaries (
        id INTEGER PRIMARY KEY CHECK (id BETWEEN 1 AND 255),
        name TEXT NOT NULL UNIQUE, content BLOB NOT NULL
    )""",
)
# Created once the table has its final name. Each serves a filter of ``kubevents query``
# (docs/sinks/sqlite.md#indexes); ``type``, ``cluster`` and ``source`` have none: they have few
# values, and the newest rows of any of them are found along ``time``.
V2_INDEXES = (
    "CREATE INDEX occurrences_time ON occurrences (time)",
    "CREATE INDEX occurrences_namespace_time ON occurrences (namespace, time)",
    # Without ``time``: one object has few occurrences, sorting them is cheap.
    "CREATE INDEX occurrences_involved ON occurrences (involved_name)",
    "CREATE INDEX occurrences_reason_time ON occurrences (reason, time)",
)
# Version 3: the enrichment (docs/enrichment.md), NULL in rows stored without it. Adding
# columns rewrites no row. ``labels`` is the involved object's selected labels as a JSON object
# (``-l``); ``enrichment`` the rest of what the occurrence carried (status, a miss's reason,
# annotations) as JSON. The index serves ``--workload``, newest first along ``time``; partial,
# so stores without enrichment pay nothing for it.
V3 = (
    "ALTER TABLE occurrences ADD COLUMN workload_kind TEXT COLLATE NOCASE",
    "ALTER TABLE occurrences ADD COLUMN workload_name TEXT",
    "ALTER TABLE occurrences ADD COLUMN labels TEXT",
    "ALTER TABLE occurrences ADD COLUMN enrichment TEXT",
    "CREATE INDEX occurrences_workload_time ON occurrences (workload_name, time) "
    "WHERE workload_name IS NOT NULL",
)
# Version 4: the same information in fewer stored bytes, which a version 3 table cannot be
# altered into (``_migrate`` copies every row into it). A row without enrichment pays one
# NULL's header byte for it instead of four, and an Event's type, almost always ``Normal`` or
# ``Warning``, is stored as 0 or 1 (no bytes beyond the record header) and any other type as
# its text. What the queries filter on is read through VIRTUAL generated columns under the
# version 3 names: computed when read, stored nowhere, indexable.
#
# ``enrichment`` is a JSON array ``[status, reason, workload kind, workload name, labels,
# annotations]`` without its trailing defaults (``""``, null): ``_enriched``. A value that is
# not valid JSON (a damaged row) gives NULL workload and labels rather than an error, so that
# inserting, filtering and deleting around such a row keep working.
_ENRICHMENT_JSON = "CASE WHEN json_valid(enrichment) THEN enrichment END"
V4 = (
    f"""CREATE TABLE occurrences_v4 (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        uid BLOB NOT NULL, count INTEGER NOT NULL,
        time INTEGER NOT NULL, own_time INTEGER,
        namespace TEXT NOT NULL,
        involved_kind TEXT NOT NULL COLLATE NOCASE, involved_name TEXT NOT NULL,
        involved_namespace TEXT,
        type_code NOT NULL,
        reason TEXT NOT NULL COLLATE NOCASE,
        source_component TEXT NOT NULL, reporting_controller TEXT,
        cluster TEXT NOT NULL,
        inserted_at INTEGER NOT NULL,
        event BLOB NOT NULL,
        enrichment TEXT,
        type TEXT COLLATE NOCASE GENERATED ALWAYS AS
            (CASE type_code WHEN 0 THEN 'Normal' WHEN 1 THEN 'Warning' ELSE type_code END)
            VIRTUAL,
        workload_kind TEXT COLLATE NOCASE GENERATED ALWAYS AS
            (json_extract({_ENRICHMENT_JSON}, '$[2]')) VIRTUAL,
        workload_name TEXT GENERATED ALWAYS AS
            (json_extract({_ENRICHMENT_JSON}, '$[3]')) VIRTUAL,
        labels TEXT GENERATED ALWAYS AS
            (json_extract({_ENRICHMENT_JSON}, '$[4]')) VIRTUAL,
        UNIQUE (uid, count)
    )""",
)
# Created once the table has its final name: version 3's, on the same (now generated) columns.
V4_INDEXES = (
    *V2_INDEXES,
    "CREATE INDEX occurrences_workload_time ON occurrences (workload_name, time) "
    "WHERE workload_name IS NOT NULL",
)
# 16 KiB pages: a row is ~300 bytes, and a 4 KiB page wastes half a row on average.
V2_PAGE_SIZE = 16_384

# The columns a row is written with, in order (``seq`` is assigned by SQLite).
COLUMNS = (
    "uid",
    "count",
    "time",
    "own_time",
    "namespace",
    "involved_kind",
    "involved_name",
    "involved_namespace",
    "type_code",
    "reason",
    "source_component",
    "reporting_controller",
    "cluster",
    "inserted_at",
    "event",
    "enrichment",
)
INSERT = (
    f"INSERT INTO occurrences ({', '.join(COLUMNS)}) VALUES ({', '.join('?' * len(COLUMNS))}) "
    "ON CONFLICT(uid, count) DO NOTHING"
)
# What a reader selects, in order: the type as text, then the enrichment as the version
# stores it (one column from version 4, four in version 3, none before).
_READ = tuple("type" if c == "type_code" else c for c in ("seq", *COLUMNS[:-1]))
_TYPE_CODES = {"Normal": 0, "Warning": 1}


def stored_type(type_: str) -> int | str:
    """How an Event's ``type`` is stored: 0 and 1 for the usual two, else the text itself."""
    return _TYPE_CODES.get(type_, type_)


def select(version: int) -> str:
    """What a reader selects from a store of ``version``: ``seq``, the columns of ``COLUMNS``
    up to ``event`` (``type`` as text), then the enrichment: ``enrichment`` from version 4 on,
    ``workload_kind, workload_name, labels, enrichment`` in version 3, nothing before.

    A version 1 store (not yet migrated by an exporter) has the same columns but for the own
    time, which it keeps as RFC 3339 text, and the Event, which it keeps as JSON text.
    """
    columns: tuple[str, ...] = _READ
    if version == 1:
        columns = tuple("time_rfc3339" if c == "own_time" else c for c in columns)
    if version == 3:
        columns += ("workload_kind", "workload_name", "labels", "enrichment")
    elif version >= 4:
        columns += ("enrichment",)
    return f"SELECT {', '.join(columns)} FROM occurrences"


def stored_uid(uid: str) -> bytes | str:
    """How ``uid`` is stored: the UUID's 16 bytes if it is one, in canonical form."""
    # By hand rather than through uuid.UUID: a fifth of the time, once per stored row.
    if len(uid) != 36 or not uid[8] == uid[13] == uid[18] == uid[23] == "-":
        return uid
    try:
        value = bytes.fromhex(uid.replace("-", ""))
    except ValueError:
        return uid
    # 16 bytes: 32 digits and nothing else (``fromhex`` skips spaces); lower case only, so
    # that the text comes back as it was.
    return value if len(value) == 16 and uid == uid.lower() else uid


def uid_text(stored: object) -> str:
    """The uid a stored ``uid`` value stands for (the text, whichever way it is stored)."""
    if isinstance(stored, bytes) and len(stored) == 16:
        h = stored.hex()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
    if isinstance(stored, str):
        return stored
    raise TypeError(f"column uid holds {type(stored).__name__}")


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


def sqlite_problem(version: tuple[int, int, int], sqlite_version: str) -> str | None:
    """Why this SQLite library (``sqlite3.sqlite_version_info``, ``.sqlite_version``) cannot
    read the current schema, or None if it can."""
    if version >= MIN_SQLITE:
        return None
    return (
        f"needs SQLite {'.'.join(map(str, MIN_SQLITE))} or newer for its generated columns "
        f"(this Python's sqlite3 module uses {sqlite_version})"
    )

"""Bring a store to the current schema, in place, inside the caller's write transaction.

Version 1 kept every Event as JSON text next to a copy of its fields (~2 300 bytes an
occurrence); version 2 keeps the Event compressed and only the columns the queries use;
version 3 adds the enrichment's columns (``V3``: new columns and an index, no row rewritten);
version 4 stores the type and the enrichment in fewer bytes (``V4``). The steps to versions 2
and 4 rewrite every row into a new table and swap it in, all in the one transaction the sink
opens: a crash or a ``SIGKILL`` half-way leaves the store as it was (SQLite rolls the
transaction back when the file is next opened), and the next start simply begins again. The
file needs room for the new table next to the old one until the commit; the old table's pages
are then free, and the sink's incremental vacuum gives them back to the file system.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import time
from typing import Any

from kubevents.export.sinks.sqlite._codec import EventCodec, strip_managed_fields
from kubevents.export.sinks.sqlite._enriched import folded_v3_enrichment
from kubevents.export.sinks.sqlite._schema import (
    MIGRATIONS,
    SCHEMA_VERSION,
    V2,
    V2_INDEXES,
    V3,
    V4,
    V4_INDEXES,
    stored_type,
    stored_uid,
    to_micros,
)
from kubevents.model import parse_rfc3339

__all__ = ["migrate"]

log = logging.getLogger(__name__)

_CHUNK = 2_000
_PROGRESS_EVERY = 10.0  # seconds between progress lines of a long migration

_V2_COLUMNS = (
    "uid", "count", "time", "own_time", "namespace", "involved_kind", "involved_name",
    "involved_namespace", "type", "reason", "source_component", "reporting_controller",
    "cluster", "inserted_at", "event",
)  # fmt: skip
_INSERT = (
    f"INSERT INTO occurrences_v2 (seq, {', '.join(_V2_COLUMNS)}) "
    f"VALUES ({', '.join('?' * (1 + len(_V2_COLUMNS)))}) ON CONFLICT(uid, count) DO NOTHING"
)
_V1_COLUMNS = (
    "uid, count, time, time_rfc3339, namespace, involved_kind, involved_name, "
    "involved_namespace, type, reason, source_component, reporting_controller, "
    "cluster, inserted_at, event"
)


def migrate(
    conn: sqlite3.Connection, version: int, where: str, *, to: int = SCHEMA_VERSION
) -> None:
    """Apply every migration after ``version`` up to ``to``; ``where`` names the store in log
    lines. Tests and the store benchmark stop short of the current version: that is how an
    older kubevents left a store."""
    for target in range(version + 1, to + 1):
        if target <= len(MIGRATIONS):
            for statement in MIGRATIONS[target - 1]:
                conn.execute(statement)
        elif target == 2:
            _to_v2(conn, where)
        elif target == 3:
            for statement in V3:
                conn.execute(statement)
        else:
            _to_v4(conn, where)
        conn.execute(f"PRAGMA user_version = {target}")
        log.info("%s: schema now at version %d", where, target)


def _sequence(conn: sqlite3.Connection, table: str) -> int:
    row = conn.execute("SELECT seq FROM sqlite_sequence WHERE name = ?", (table,)).fetchone()
    return 0 if row is None else int(row[0])


def _to_v2(conn: sqlite3.Connection, where: str) -> None:
    for statement in V2:
        conn.execute(statement)
    codec = EventCodec.for_writer(conn)
    (total,) = conn.execute("SELECT count(*) FROM occurrences").fetchone()
    if total:
        log.info(
            "%s: migrating %d occurrences to the compact layout (schema version 2), in one "
            "transaction: stopping now loses nothing, the next start begins again",
            where,
            total,
        )
    cursor = conn.execute(f"SELECT seq, {_V1_COLUMNS} FROM occurrences ORDER BY seq")
    done, kept, began, shown = 0, 0, time.monotonic(), time.monotonic()
    while rows := cursor.fetchmany(_CHUNK):
        converted = [_v1_row(row, codec) for row in rows]
        before = conn.total_changes
        conn.executemany(_INSERT, converted)
        kept += conn.total_changes - before
        done += len(rows)
        if time.monotonic() - shown >= _PROGRESS_EVERY:
            shown = time.monotonic()
            log.info("%s: migrated %d of %d occurrences", where, done, total)
    _swap_in(conn, "occurrences_v2", V2_INDEXES)
    if total:
        log.info(
            "%s: migrated %d occurrences in %.1fs (%d duplicates dropped)",
            where, total, time.monotonic() - began, done - kept,
        )  # fmt: skip


def _swap_in(conn: sqlite3.Connection, table: str, indexes: tuple[str, ...]) -> None:
    """Replace ``occurrences`` with ``table``, then index it."""
    sequence = _sequence(conn, "occurrences")
    conn.execute("DROP TABLE occurrences")
    conn.execute(f"ALTER TABLE {table} RENAME TO occurrences")
    # Row ids are never reused (``follow`` tails by them), also not the ones retention deleted
    # from the end of the old table.
    if _sequence(conn, "occurrences") < sequence:
        conn.execute("DELETE FROM sqlite_sequence WHERE name = 'occurrences'")
        conn.execute(
            "INSERT INTO sqlite_sequence (name, seq) VALUES ('occurrences', ?)", (sequence,)
        )
    for statement in indexes:
        conn.execute(statement)


# Every column as it was but the type and the enrichment, which Python functions convert (as
# the writer would store them); rows are copied in arrival order, the indexes built after.
_V3_TO_V4 = (
    "INSERT INTO occurrences_v4 (seq, uid, count, time, own_time, namespace, involved_kind, "
    "involved_name, involved_namespace, type_code, reason, source_component, "
    "reporting_controller, cluster, inserted_at, event, enrichment) "
    "SELECT seq, uid, count, time, own_time, namespace, involved_kind, involved_name, "
    "involved_namespace, kv_stored_type(type), reason, source_component, reporting_controller, "
    "cluster, inserted_at, event, "
    "kv_folded_enrichment(workload_kind, workload_name, labels, enrichment) "
    "FROM occurrences ORDER BY seq"
)


def _type_code(value: str | bytes | int | float | None) -> str | bytes | int | float | None:
    # A damaged row's type (not text) is carried over as it is.
    return stored_type(value) if isinstance(value, str) else value


def _to_v4(conn: sqlite3.Connection, where: str) -> None:
    for statement in V4:
        conn.execute(statement)
    conn.create_function("kv_stored_type", 1, _type_code, deterministic=True)
    conn.create_function("kv_folded_enrichment", 4, folded_v3_enrichment, deterministic=True)
    (total,) = conn.execute("SELECT count(*) FROM occurrences").fetchone()
    began = time.monotonic()
    if total:
        log.info(
            "%s: rewriting %d occurrences into schema version 4 (smaller rows), in one "
            "transaction: stopping now loses nothing, the next start begins again",
            where,
            total,
        )
    conn.execute(_V3_TO_V4)
    _swap_in(conn, "occurrences_v4", V4_INDEXES)
    if total:
        log.info("%s: rewrote %d occurrences in %.1fs", where, total, time.monotonic() - began)


def _v1_row(row: tuple[Any, ...], codec: EventCodec) -> tuple[Any, ...]:
    """A version 1 row as version 2 stores it.

    Whatever a damaged or hand-edited version 1 row holds is carried over as well as it can
    be, never refused: a migration that stopped at one bad row would keep the exporter from
    starting. Readers report such a row as they did before.
    """
    (seq, uid, count, filed, own_text, namespace, kind, name, obj_namespace, type_, reason,
     component, controller, cluster, inserted_at, event) = row  # fmt: skip
    own: int | None = None
    with contextlib.suppress(TypeError, ValueError, OverflowError):
        own = to_micros(parse_rfc3339(own_text))
    if own == filed:
        own = None
    if isinstance(event, str):
        raw = event.encode(errors="surrogatepass")
    else:
        raw = event if isinstance(event, bytes) else str(event).encode()
    return (
        seq, stored_uid(uid) if isinstance(uid, str) else uid, count, filed, own, namespace,
        kind, name, None if obj_namespace == namespace else obj_namespace, type_, reason,
        component, None if controller == component else controller, cluster, inserted_at,
        codec.compress(strip_managed_fields(raw)),
    )  # fmt: skip

"""What the store benchmark and the migration tests share: occurrences, and the old layout.

``occurrences`` turns the pipeline benchmark's realistic watch stream (kubelet, scheduler and
controller Events with ``managedFields`` as the apiserver writes them) into occurrences, the
way the exporter does. ``write_v1_store`` writes them in the store's version 1 layout, exactly
as kubevents wrote it before version 2 (below), and ``write_v3_store`` in the version 3 layout,
so the migrations are tested on, and compared with, what existing users have on disk.

Version 1: one table ``occurrences`` (the DDL is ``MIGRATIONS[0]``, kept verbatim) with the
columns ``id uid count time time_rfc3339 namespace name involved_kind involved_name
involved_namespace involved_uid involved_api_version field_path type reason message
source_component source_host reporting_controller reporting_instance cluster
resource_version first_timestamp last_timestamp event inserted_at``: ``time`` is the filing
time in unix microseconds, the times as text are the export document's format, ``event`` is
the server's JSON as text (``managedFields`` included), ``PRAGMA user_version = 1``.

Version 3: the table the migrations up to 3 make (``migrate(..., to=3)``: the kept DDL of
versions 1 to 3), rows as the version 3 sink encoded them (``_v3_row``, its code kept here):
``type`` as text, and the enrichment in four columns ``workload_kind workload_name labels
enrichment`` (``labels`` a JSON object with sorted keys, ``enrichment`` the status, a miss's
reason and the annotations as a JSON object), all NULL without enrichment.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing
from pathlib import Path

import msgspec
from bench.pipeline import watch_lines

from kubevents.export import Enrichment, EventFields, Occurrence
from kubevents.export._document import document_times
from kubevents.export.sinks.sqlite import (
    APPLICATION_ID,
    EventCodec,
    stored_uid,
    strip_managed_fields,
    to_micros,
)
from kubevents.export.sinks.sqlite._migrate import migrate
from kubevents.export.sinks.sqlite._schema import MIGRATIONS, V2_PAGE_SIZE

__all__ = ["V1_COLUMNS", "occurrences", "write_v1_store", "write_v3_store"]

V1_COLUMNS = (
    "id", "uid", "count", "time", "time_rfc3339", "namespace", "name", "involved_kind",
    "involved_name", "involved_namespace", "involved_uid", "involved_api_version",
    "field_path", "type", "reason", "message", "source_component", "source_host",
    "reporting_controller", "reporting_instance", "cluster", "resource_version",
    "first_timestamp", "last_timestamp", "event", "inserted_at",
)  # fmt: skip


class _Line(msgspec.Struct):
    object: msgspec.Raw


_line = msgspec.json.Decoder(_Line)


def occurrences(count: int, *, seed: int = 7, chunk: int = 50_000) -> Iterator[Occurrence]:
    """``count`` occurrences of the realistic stream, made ``chunk`` lines at a time.

    Each chunk is a stream of its own seed (distinct names and uids), so memory stays bounded.
    """
    made = 0
    while made < count:
        lines = watch_lines(min(chunk, count - made), seed=seed + made)
        for line in lines:
            raw = bytes(_line.decode(line).object)
            yield Occurrence.of(EventFields.from_json(raw), raw, "bench")
        made += len(lines)


def _v1_row(occ: Occurrence, inserted_at: int) -> tuple[object, ...]:
    ev, ref = occ.event, occ.event.involved_object
    time_text, first_text, last_text, _ = document_times(occ)
    return (
        occ.id, occ.uid, occ.count, to_micros(occ.filing_time), time_text,
        ev.metadata.namespace, ev.metadata.name, ref.kind, ref.name, ref.namespace, ref.uid,
        ref.api_version, ref.field_path, ev.type, ev.reason, ev.message, ev.source.component,
        ev.source.host, ev.reporting_controller, ev.reporting_instance, occ.cluster,
        occ.resource_version, first_text, last_text, occ.raw.decode(), inserted_at,
    )  # fmt: skip


def write_v1_store(path: Path, batch: Sequence[Occurrence] | Iterator[Occurrence]) -> None:
    """``batch`` in a new version 1 store at ``path``, as the version 1 sink wrote it."""
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("BEGIN IMMEDIATE")
        for statement in MIGRATIONS[0]:
            conn.execute(statement)
        conn.execute("PRAGMA user_version = 1")
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        insert = (
            f"INSERT INTO occurrences ({', '.join(V1_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(V1_COLUMNS))}) ON CONFLICT(id) DO NOTHING"
        )
        conn.executemany(insert, (_v1_row(o, 1_700_000_000_000_000) for o in batch))
        conn.execute("COMMIT")


class _V3Rest(msgspec.Struct, omit_defaults=True, gc=False):
    status: str
    reason: str = ""
    annotations: dict[str, str] | None = None


_v3_encoder = msgspec.json.Encoder(order="sorted")
_V3_COLUMNS = (
    "uid", "count", "time", "own_time", "namespace", "involved_kind", "involved_name",
    "involved_namespace", "type", "reason", "source_component", "reporting_controller",
    "cluster", "inserted_at", "event", "workload_kind", "workload_name", "labels", "enrichment",
)  # fmt: skip
_V3_INSERT = (
    f"INSERT INTO occurrences ({', '.join(_V3_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(_V3_COLUMNS))}) ON CONFLICT(uid, count) DO NOTHING"
)


def _v3_enrichment(found: Enrichment | None) -> tuple[str | None, ...]:
    if found is None:
        return (None, None, None, None)
    workload = found.workload
    return (
        None if workload is None else workload.kind,
        None if workload is None else workload.name,
        None if not found.labels else _v3_encoder.encode(found.labels).decode(),
        _v3_encoder.encode(_V3Rest(found.status, found.reason, found.annotations)).decode(),
    )


def _v3_row(occ: Occurrence, inserted_at: int, codec: EventCodec) -> tuple[object, ...]:
    ev, ref = occ.event, occ.event.involved_object
    namespace, component = ev.metadata.namespace, ev.source.component
    own = None if occ.time == occ.filing_time else to_micros(occ.time)
    return (
        stored_uid(occ.uid), occ.count, to_micros(occ.filing_time), own, namespace,
        ref.kind, ref.name, None if ref.namespace == namespace else ref.namespace,
        ev.type, ev.reason, component,
        None if ev.reporting_controller == component else ev.reporting_controller,
        occ.cluster, inserted_at,
        codec.compress(strip_managed_fields(occ.raw, ev.metadata.managed_fields)),
        *_v3_enrichment(occ.enrichment),
    )  # fmt: skip


def write_v3_store(
    path: Path, batch: Sequence[Occurrence] | Iterator[Occurrence], *, batch_size: int = 500
) -> None:
    """``batch`` in a new version 3 store at ``path``, as the version 3 sink wrote it: a
    transaction of ``batch_size`` rows at a time (``inserted_at`` one microsecond apart)."""
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        conn.execute(f"PRAGMA page_size = {V2_PAGE_SIZE}")
        conn.execute("PRAGMA auto_vacuum = INCREMENTAL")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("BEGIN IMMEDIATE")
        migrate(conn, 0, str(path), to=3)
        conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
        codec = EventCodec.for_writer(conn)
        conn.execute("COMMIT")
        rows: list[tuple[object, ...]] = []
        for i, occ in enumerate(batch):
            rows.append(_v3_row(occ, 1_700_000_000_000_000 + i, codec))
            if len(rows) == batch_size:
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany(_V3_INSERT, rows)
                conn.execute("COMMIT")
                rows = []
        if rows:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(_V3_INSERT, rows)
            conn.execute("COMMIT")

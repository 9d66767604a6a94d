"""Read the SQLite store that ``kubevents export`` writes (the default sink).

The store is opened read-only (``mode=ro``): in WAL mode a reader never blocks the exporter and
only ever sees whole batches. Each read is a short transaction, so a reader never pins the WAL
either. An ``EventStore`` belongs to the thread that opened it.

    with EventStore("kubevents.db") as store:
        for occ in store.query(QueryFilter(namespace="shop", type="Warning", limit=20)):
            print(occ.time, occ.reason, occ.involved_object["name"], occ.message)
"""

from __future__ import annotations

import functools
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import msgspec

from kubevents.export._storedrows import (
    NamespaceCount,
    ObjectCount,
    ReasonCount,
    Stats,
    StoredOccurrence,
    StoreError,
    micros_or_none,
    stored_occurrence,
)
from kubevents.export._storeviews import (
    PageCursor,
    Timeline,
    TimelineBucket,
    choose_step,
    object_sql,
    page_sql,
    timeline_of,
    timeline_sql,
    window_of,
)
from kubevents.export.sinks.sqlite import (
    DB_PATH_ENV,
    DEFAULT_DB_PATH,
    SQLITE_MAGIC,
    EventCodec,
    StoredEventError,
    default_db_path,
    from_micros,
    schema_problem,
    select,
    sqlite_problem,
    to_micros,
)

__all__ = [
    "DB_PATH_ENV",
    "DEFAULT_DB_PATH",
    "EventStore",
    "NamespaceCount",
    "ObjectCount",
    "PageCursor",
    "QueryFilter",
    "ReasonCount",
    "Stats",
    "StoreError",
    "StoredOccurrence",
    "Timeline",
    "TimelineBucket",
    "default_db_path",
]

_FOLLOW_CHUNK = 1_000
_MICRO = timedelta(microseconds=1)

_T = TypeVar("_T")


@dataclass(frozen=True, slots=True, kw_only=True)
class QueryFilter:
    """What to read. ``None`` fields do not filter; all given fields must match.

    ``involved_kind``, ``reason``, ``type`` and ``workload_kind`` compare case-insensitively;
    ``source`` matches ``source.component`` or ``reportingController``; ``labels`` are
    equalities on the involved object's labels the exporter kept (``enrich.labels``); ``text``
    is a case-insensitive substring of the message. The window is ``since <= time < until`` on
    the occurrence's filing time. ``limit`` keeps the newest rows; results always run oldest
    to newest, as ``kubectl events`` prints.
    """

    namespace: str | None = None
    involved_kind: str | None = None
    involved_name: str | None = None
    reason: str | None = None
    type: str | None = None
    source: str | None = None
    cluster: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    text: str | None = None
    limit: int | None = None
    # The enrichment's (docs/enrichment.md): the owning workload, and label equalities.
    workload_kind: str | None = None
    workload_name: str | None = None
    labels: tuple[tuple[str, str], ...] = ()

    @property
    def enriched(self) -> bool:
        """Whether this filter reads the enrichment's columns (stores of schema 3 on)."""
        return bool(self.workload_kind or self.workload_name or self.labels)

    def __post_init__(self) -> None:
        for field in ("since", "until"):
            value = getattr(self, field)
            if value is not None and value.tzinfo is None:
                raise ValueError(f"QueryFilter.{field} must be timezone-aware")
        if self.limit is not None and self.limit < 1:
            raise ValueError("QueryFilter.limit must be at least 1")

    def where(self, text: str = "kv_icontains(message, ?)") -> tuple[str, list[Any]]:
        """The SQL condition and its parameters; ``text`` is the condition for ``self.text``."""
        clauses: list[str] = []
        params: list[Any] = []
        for column, value in (
            ("namespace", self.namespace),
            ("involved_kind", self.involved_kind),
            ("involved_name", self.involved_name),
            ("reason", self.reason),
            ("type", self.type),
            ("cluster", self.cluster),
        ):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if self.source is not None:
            clauses.append("(source_component = ? OR reporting_controller = ?)")
            params += [self.source, self.source]
        if self.since is not None:
            clauses.append("time >= ?")
            params.append(to_micros(self.since))
        if self.until is not None:
            clauses.append("time < ?")
            params.append(to_micros(self.until))
        if self.text:
            clauses.append(text)
            params.append(self.text.casefold())
        if self.workload_kind is not None:
            clauses.append("workload_kind = ?")
            params.append(self.workload_kind)
        if self.workload_name is not None:
            clauses.append("workload_name = ?")
            params.append(self.workload_name)
        for key, value in self.labels:
            # Label keys cannot hold a double quote (``-l`` checks them), so the path is exact.
            clauses.append("json_extract(labels, ?) = ?")
            params += [f'$."{key}"', value]
        return " AND ".join(clauses) or "1", params


def _icontains(message: str | None, needle: str | None) -> bool:
    # Python's casefold, not SQLite's ASCII-only lower(): "ÜBER" matches "über".
    return message is not None and needle is not None and needle in message.casefold()


class _Message(msgspec.Struct):
    message: str = ""


_message_decoder = msgspec.json.Decoder(_Message)


@functools.lru_cache(maxsize=16)
def _verbatim(needle: str) -> bool:
    """Whether ``needle`` appears in JSON as it is (Go escapes ``" \\ < > &`` and controls)."""
    return needle.isascii() and needle.isprintable() and not any(c in needle for c in '"\\<>&')


class EventStore:
    """A read-only view of the store at ``path``; raises ``StoreError`` if it is not one."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path).expanduser()
        self._codec: EventCodec | None = None
        self.unreadable = 0
        self._conn = self._open()
        self._select = select(self._version)
        # A version 2 store keeps the message only inside the compressed Event.
        self._text = (
            "kv_icontains(message, ?)" if self._version == 1 else "kv_event_icontains(event, ?)"
        )

    def _open(self) -> sqlite3.Connection:
        path = self.path
        if not path.exists():
            raise StoreError(
                f"no kubevents store at {path} (run `kubevents export` first, "
                f"or point --db / ${DB_PATH_ENV} at its database)"
            )
        if path.is_dir():
            raise StoreError(f"{path} is a directory, not a kubevents store")
        try:
            with path.open("rb") as f:
                header = f.read(len(SQLITE_MAGIC))
        except OSError as exc:
            raise StoreError(f"cannot read {path}: {exc.strerror or exc}") from None
        if header != SQLITE_MAGIC:
            raise StoreError(f"{path} is not a kubevents store (not a SQLite database)")
        try:
            conn = sqlite3.connect(
                path.resolve().as_uri() + "?mode=ro", uri=True, isolation_level=None, timeout=10
            )
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open {path}: {exc}") from None
        try:
            conn.execute("PRAGMA query_only = ON")
            conn.create_function("kv_icontains", 2, _icontains, deterministic=True)
            app_id = conn.execute("PRAGMA application_id").fetchone()[0]
            version = conn.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.Error as exc:
            conn.close()
            raise StoreError(f"cannot read {path}: {exc}") from None
        problem = schema_problem(app_id, version)
        if problem is None and version >= 4:
            problem = sqlite_problem(sqlite3.sqlite_version_info, sqlite3.sqlite_version)
        if problem is not None:
            conn.close()
            raise StoreError(f"{path} {problem}")
        self._version = int(version)
        if self._version >= 2:
            try:
                self._codec = EventCodec.load(conn)
            except (sqlite3.Error, ValueError, TypeError) as exc:
                conn.close()
                raise StoreError(f"cannot read the dictionaries of {path}: {exc}") from None
            conn.create_function("kv_event_icontains", 2, self._event_icontains, deterministic=True)
        return conn

    def _event_icontains(self, blob: object, needle: object) -> bool:
        """``--grep`` in a stored Event's message; a damaged one is counted, and no match."""
        codec = self._codec
        if codec is not None and isinstance(blob, bytes) and isinstance(needle, str):
            try:
                raw = codec.decompress(blob)
                # Most rows do not match: when the whole Event is ASCII and the needle has
                # nothing JSON would escape, a match in the message is a match in the bytes.
                if raw.isascii() and _verbatim(needle) and needle.encode() not in raw.lower():
                    return False
                return needle in _message_decoder.decode(raw).message.casefold()
            except (StoredEventError, msgspec.MsgspecError):
                pass
        # A damaged row must not end a search through every other one: it is counted, and
        # ``kubevents query`` reports the count.
        self.unreadable += 1
        return False

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> EventStore:
        return self

    def __exit__(
        self, typ: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _where(self, flt: QueryFilter) -> tuple[str, list[Any]]:
        if flt.enriched and self._version < 3:
            raise StoreError(
                f"{self.path} predates enrichment (schema {self._version}): --workload and -l "
                "need schema 3, which an exporter of this version migrates to when it starts"
            )
        return flt.where(self._text)

    def _read(self, statements: list[tuple[str, list[Any]]]) -> list[list[tuple[Any, ...]]]:
        """Run SELECTs in one read transaction: one consistent snapshot, released at once."""
        conn = self._conn
        try:
            conn.execute("BEGIN")
            try:
                return [conn.execute(sql, params).fetchall() for sql, params in statements]
            finally:
                conn.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot read {self.path}: {exc}") from None

    def _query_sql(self, flt: QueryFilter) -> tuple[str, list[Any]]:
        where, params = self._where(flt)
        if flt.limit is None:
            return f"{self._select} WHERE {where} ORDER BY time, seq", params
        newest = f"{self._select} WHERE {where} ORDER BY time DESC, seq DESC LIMIT ?"
        return f"SELECT * FROM ({newest}) ORDER BY time, seq", [*params, flt.limit]

    def _rows(self, rows: list[tuple[Any, ...]]) -> list[StoredOccurrence]:
        codec = self._codec
        return [stored_occurrence(r, codec) for r in rows]

    def explain(self, flt: QueryFilter | None = None) -> list[str]:
        """SQLite's plan for ``query(flt)``: which index each step uses (tests, docs)."""
        sql, params = self._query_sql(flt or QueryFilter())
        [rows] = self._read([(f"EXPLAIN QUERY PLAN {sql}", params)])
        return [str(r[-1]) for r in rows]

    def query(self, flt: QueryFilter | None = None) -> list[StoredOccurrence]:
        """Matching occurrences, oldest to newest (the newest ``limit`` if one is set)."""
        [rows] = self._read([self._query_sql(flt or QueryFilter())])
        return self._rows(rows)

    def count(self, flt: QueryFilter | None = None) -> int:
        """How many occurrences match (all of them without a filter); ``limit`` is ignored."""
        where, params = self._where(flt or QueryFilter())
        [rows] = self._read([(f"SELECT count(*) FROM occurrences WHERE {where}", params)])
        return int(rows[0][0])

    def last_seq(self) -> int:
        """The ``seq`` of the newest arrival (0 for an empty store)."""
        [rows] = self._read([("SELECT coalesce(max(seq), 0) FROM occurrences", [])])
        return int(rows[0][0])

    def follow(
        self,
        flt: QueryFilter | None = None,
        poll_interval: float = 1.0,
        *,
        backlog: bool = False,
        after: int | None = None,
        stop: threading.Event | None = None,
    ) -> Iterator[StoredOccurrence]:
        """Yield matching occurrences as they arrive (by ``seq``), until ``stop`` is set.

        Starts after ``after`` if given, else at the current end of the store; with ``backlog``
        it first yields what ``query(flt)`` returns, from the same snapshot, so nothing falls
        between the two. ``flt.limit`` bounds the backlog only. Arrival order is not time order:
        a backfill can add older occurrences.
        """
        for batch in self.follow_batches(
            flt, poll_interval, backlog=backlog, after=after, stop=stop
        ):
            yield from batch

    def follow_batches(
        self,
        flt: QueryFilter | None = None,
        poll_interval: float = 1.0,
        *,
        backlog: bool = False,
        after: int | None = None,
        stop: threading.Event | None = None,
    ) -> Iterator[list[StoredOccurrence]]:
        """``follow``, one list per read: the backlog first (even empty), then each new arrival."""
        if poll_interval <= 0:
            raise ValueError("poll_interval must be positive")
        flt = flt or QueryFilter()
        head_sql: tuple[str, list[Any]] = ("SELECT coalesce(max(seq), 0) FROM occurrences", [])
        if after is not None:
            cursor = after
        elif backlog:
            head, rows = self._read([head_sql, self._query_sql(flt)])
            cursor = int(head[0][0])
            yield self._rows(rows)
        else:
            cursor = self.last_seq()
        where, params = self._where(flt)
        new_sql = f"{self._select} WHERE seq > ? AND seq <= ? AND {where} ORDER BY seq LIMIT ?"
        while stop is None or not stop.is_set():
            [head] = self._read([head_sql])
            end = int(head[0][0])
            full = False
            if end > cursor:
                [rows] = self._read([(new_sql, [cursor, end, *params, _FOLLOW_CHUNK])])
                full = len(rows) == _FOLLOW_CHUNK
                # Past the rows that did not match too, so the next poll does not rescan them.
                cursor = rows[-1][0] if full else end
                if rows:
                    yield self._rows(rows)
            if full:
                continue
            if stop is not None:
                stop.wait(poll_interval)
            else:
                time.sleep(poll_interval)

    def stats(
        self,
        window_start: datetime | None = None,
        window_end: datetime | None = None,
        *,
        top: int = 10,
        namespace: str | None = None,
    ) -> Stats:
        """Totals and the ``top`` reasons, involved objects and namespaces of a window."""
        if top < 1:
            raise ValueError("top must be at least 1")
        where, params = QueryFilter(
            namespace=namespace, since=window_start, until=window_end
        ).where()
        warn = "sum(type = 'Warning')"

        def grouped(columns: str) -> tuple[str, list[Any]]:
            return (
                f"SELECT {columns}, count(*) AS n, {warn} FROM occurrences WHERE {where} "
                f"GROUP BY {columns} ORDER BY n DESC, {columns} LIMIT ?",
                [*params, top],
            )

        totals, reasons, objects, namespaces = self._read([
            (f"SELECT count(*), coalesce({warn}, 0), min(time), max(time) "
             f"FROM occurrences WHERE {where}", params),
            grouped("reason"),
            # NULL stands for the Event's own namespace (see the schema).
            grouped("involved_kind, coalesce(involved_namespace, namespace), involved_name"),
            grouped("namespace"),
        ])  # fmt: skip
        total, warnings, first, last = totals[0]
        return Stats(
            window_start=window_start,
            window_end=window_end,
            total=total,
            warnings=warnings,
            first=micros_or_none(first),
            last=micros_or_none(last),
            reasons=[ReasonCount(*r) for r in reasons],
            objects=[ObjectCount(*r) for r in objects],
            namespaces=[NamespaceCount(*r) for r in namespaces],
        )

    # The reads of ``kubevents ui`` (``_storeviews``).

    def page(
        self, flt: QueryFilter, *, before: PageCursor | None = None, size: int = 100
    ) -> list[StoredOccurrence]:
        """The newest ``size`` matching occurrences older than ``before``, newest first.

        ``flt.limit`` is ignored; the next page is ``before=PageCursor(to_micros(last
        .filing_time), last.seq)`` of the last row returned.
        """
        if size < 1:
            raise ValueError("size must be at least 1")
        [rows] = self._read([page_sql(self._select, *self._where(flt), before, size)])
        return self._rows(rows)

    def object_history(
        self, kind: str, namespace: str, name: str, *, limit: int = 1_000
    ) -> list[StoredOccurrence]:
        """Every occurrence about one object (the newest ``limit``), oldest first.

        ``namespace`` is the involved object's (``""`` for a cluster-scoped one, whose Events
        are filed in some namespace, often ``default``); ``kind`` is case-insensitive.
        """
        if limit < 1:
            raise ValueError("limit must be at least 1")
        flt = QueryFilter(involved_kind=kind, involved_name=name)
        where, params = self._where(flt)
        [rows] = self._read([object_sql(self._select, where, params, namespace, limit)])
        return self._rows(rows)

    def timeline(self, flt: QueryFilter, *, buckets: int = 60) -> Timeline | None:
        """Matching occurrences counted by type in at most ``buckets`` round time buckets.

        The window is ``flt.since`` to ``flt.until``, each defaulting to the oldest / newest
        matching occurrence; None when that leaves no window (nothing matches).
        """
        if buckets < 1:
            raise ValueError("buckets must be at least 1")
        where, params = self._where(flt)
        start, end = flt.since, flt.until
        if start is None or end is None:
            # The first match from each end of an index on time, where min() and max() of a
            # filtered set would read every matching row.
            oldest, newest = self._read([
                (f"SELECT time FROM occurrences WHERE {where} ORDER BY time LIMIT 1", params),
                (f"SELECT time FROM occurrences WHERE {where} ORDER BY time DESC LIMIT 1", params),
            ])  # fmt: skip
            found = window_of(*(r[0][0] if r else None for r in (oldest, newest)))
            if found is None:
                return None
            start, end = start or found[0], end or found[1]
        if end <= start:
            return None
        step = choose_step(start, end, buckets)
        if flt.since is None:
            # Bucket edges on round times (whole minutes, hours), as a person would cut them.
            start = from_micros(to_micros(start) // (step // _MICRO) * (step // _MICRO))
        # Only the given bounds: a derived one holds every matching row, and a bound on time
        # would keep SQLite from counting off a covering index.
        [rows] = self._read([timeline_sql(*self._where(flt), start, step)])
        return timeline_of(rows, start, end, step)

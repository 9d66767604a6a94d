"""What the store holds, as Python reads it: a stored occurrence, the counts of ``stats``.

A row is checked column by column before it is decoded: SQLite columns are loosely typed, so a
damaged or hand-edited file can hold anything, and it must give a ``StoreError``, not a crash.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any, TypeVar

import msgspec

from kubevents.export._fields import EventFields
from kubevents.export._occurrence import Occurrence
from kubevents.export.sinks.sqlite import COLUMNS, from_micros
from kubevents.model import Event, parse_rfc3339

__all__ = [
    "NamespaceCount",
    "ObjectCount",
    "ReasonCount",
    "Stats",
    "StoreError",
    "StoredOccurrence",
    "micros_or_none",
    "stored_occurrence",
]

_T = TypeVar("_T")


class StoreError(Exception):
    """The store cannot be read: missing, not a kubevents store, too new, or broken."""


@dataclass(frozen=True, kw_only=True)
class StoredOccurrence:
    """One stored occurrence. ``seq`` is its arrival order in this store (never reused).

    ``time`` is the occurrence's own time; ``filing_time`` is what the store orders, filters
    and expires it by: the same, unless the exporter's time window moved it.

    ``involved_object`` has the keys ``kind namespace name uid apiVersion fieldPath`` and
    ``source`` the keys ``component host`` (values may be ``""``). ``event`` is the Event as the
    API server sent it, parsed on first access.
    """

    seq: int
    id: str
    uid: str
    count: int
    time: datetime
    filing_time: datetime
    namespace: str
    name: str
    involved_object: dict[str, str]
    type: str
    reason: str
    message: str
    source: dict[str, str]
    reporting_controller: str
    reporting_instance: str
    cluster: str
    resource_version: str
    first_timestamp: datetime | None
    last_timestamp: datetime | None
    inserted_at: datetime
    event_json: str

    @cached_property
    def event(self) -> Event:
        return self._read(Event.from_json)

    @cached_property
    def fields(self) -> EventFields:
        """What the exporter reads of the stored Event (``occurrence()`` is built from it)."""
        return self._read(EventFields.from_json)

    def _read(self, decode: Callable[[str], _T]) -> _T:
        try:
            return decode(self.event_json)
        except (msgspec.MsgspecError, ValueError, OverflowError, RecursionError) as exc:
            raise StoreError(
                f"stored occurrence {self.id!r} holds an unreadable Event: {exc}"
            ) from None

    def occurrence(self) -> Occurrence:
        """The ``Occurrence`` that was stored (for the export document of ``-o json``)."""
        return Occurrence(
            id=self.id, uid=self.uid, count=self.count, time=self.time,
            filing_time=self.filing_time, event=self.fields,
            raw=self.event_json.encode(), cluster=self.cluster,
            resource_version=self.resource_version,
        )  # fmt: skip


@dataclass(frozen=True, slots=True)
class ReasonCount:
    reason: str
    count: int
    warnings: int


@dataclass(frozen=True, slots=True)
class ObjectCount:
    kind: str
    namespace: str
    name: str
    count: int
    warnings: int


@dataclass(frozen=True, slots=True)
class NamespaceCount:
    namespace: str
    count: int
    warnings: int


@dataclass(frozen=True, slots=True)
class Stats:
    """Occurrences in ``[window_start, window_end)`` (``None``: unbounded), and the top N."""

    window_start: datetime | None
    window_end: datetime | None
    total: int
    warnings: int
    first: datetime | None
    last: datetime | None
    reasons: list[ReasonCount]
    objects: list[ObjectCount]
    namespaces: list[NamespaceCount]


def _time(value: str | None) -> datetime | None:
    return None if value is None else parse_rfc3339(value)


_COLUMNS = ("seq", *COLUMNS)  # as SELECT reads them
_INTEGER_COLUMNS = frozenset({"seq", "count", "time", "inserted_at"})
_NULLABLE_COLUMNS = frozenset({"first_timestamp", "last_timestamp"})


def stored_occurrence(row: tuple[Any, ...]) -> StoredOccurrence:
    """A row as a ``StoredOccurrence``; ``StoreError`` for a row a writer never made.

    SQLite columns are loosely typed, so a damaged or hand-edited file can hold anything.
    """
    try:
        for column, value in zip(_COLUMNS, row, strict=True):
            expected = int if column in _INTEGER_COLUMNS else str
            if value is None and column in _NULLABLE_COLUMNS:
                continue
            if type(value) is not expected:
                raise TypeError(f"column {column} holds {type(value).__name__}")
        return _decode_row(row)
    except (TypeError, ValueError, OverflowError) as exc:
        raise StoreError(f"stored row with seq {row[0]!r} is malformed: {exc}") from None


def _decode_row(row: tuple[Any, ...]) -> StoredOccurrence:
    (seq, id_, uid, count, filed, when, namespace, name, kind, obj_name, obj_namespace, obj_uid,
     api_version, field_path, type_, reason, message, component, host, controller, instance,
     cluster, resource_version, first, last, event, inserted_at) = row  # fmt: skip
    return StoredOccurrence(
        seq=seq, id=id_, uid=uid, count=count, time=parse_rfc3339(when),
        filing_time=from_micros(filed), namespace=namespace, name=name,
        involved_object={
            "kind": kind, "namespace": obj_namespace, "name": obj_name, "uid": obj_uid,
            "apiVersion": api_version, "fieldPath": field_path,
        },
        type=type_, reason=reason, message=message,
        source={"component": component, "host": host},
        reporting_controller=controller, reporting_instance=instance, cluster=cluster,
        resource_version=resource_version, first_timestamp=_time(first),
        last_timestamp=_time(last), inserted_at=from_micros(inserted_at), event_json=event,
    )  # fmt: skip


def micros_or_none(value: Any) -> datetime | None:
    if value is None:
        return None
    try:
        return from_micros(value)
    except (TypeError, OverflowError) as exc:
        raise StoreError(f"stored time {value!r} is malformed: {exc}") from None

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

from kubevents.export._enrichment import Enrichment
from kubevents.export._fields import EventFields
from kubevents.export._occurrence import Occurrence
from kubevents.export.sinks.sqlite import (
    EventCodec,
    StoredEventError,
    from_micros,
    stored_enrichment,
    stored_v3_enrichment,
    strip_managed_fields,
    uid_text,
)
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
    API server sent it (without ``metadata.managedFields``), parsed on first access.

    The store keeps as columns what queries filter on; the rest (``id``, ``name``,
    ``involved_object``, ``source``, ``reporting_instance``, ``resource_version``, the
    timestamps, ``event_json``) is read from the stored Event on first access, and raises
    ``StoreError`` if that Event is damaged.
    """

    seq: int
    uid: str
    count: int
    time: datetime
    filing_time: datetime
    namespace: str
    involved_kind: str
    involved_name: str
    involved_namespace: str
    type: str
    reason: str
    source_component: str
    reporting_controller: str
    cluster: str
    inserted_at: datetime
    stored_event: bytes | str  # a version 1 store's JSON text, else compressed
    codec: EventCodec | None
    # The involved object's workload and labels, if the exporter enriched (docs/enrichment.md).
    enrichment: Enrichment | None = None

    @property
    def workload(self) -> str:
        """``Kind/name`` of the owning workload, ``""`` when none is known."""
        found = self.enrichment
        if found is None or found.workload is None:
            return ""
        return f"{found.workload.kind}/{found.workload.name}"

    @property
    def id(self) -> str:
        return f"{self.uid}:{self.count}"

    @cached_property
    def event_json(self) -> str:
        """The Event's JSON, as the server sent it but for ``managedFields``."""
        stored = self.stored_event
        try:
            if isinstance(stored, str):
                return strip_managed_fields(stored.encode()).decode()
            if self.codec is None:
                raise StoredEventError("compressed in a store without dictionaries")
            return self.codec.decompress(stored).decode()
        except (StoredEventError, UnicodeError) as exc:
            raise StoreError(
                f"stored occurrence {self.id!r} (seq {self.seq}) holds an unreadable Event: {exc}"
            ) from None

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

    @property
    def name(self) -> str:
        return self.fields.metadata.name

    @property
    def message(self) -> str:
        return self.fields.message

    @cached_property
    def involved_object(self) -> dict[str, str]:
        ref = self.fields.involved_object
        return {
            "kind": self.involved_kind, "namespace": self.involved_namespace,
            "name": self.involved_name, "uid": ref.uid, "apiVersion": ref.api_version,
            "fieldPath": ref.field_path,
        }  # fmt: skip

    @property
    def source(self) -> dict[str, str]:
        return {"component": self.source_component, "host": self.fields.source.host}

    @property
    def reporting_instance(self) -> str:
        return self.fields.reporting_instance

    @property
    def resource_version(self) -> str:
        return self.fields.metadata.resource_version

    @property
    def first_timestamp(self) -> datetime | None:
        return self.fields.first_timestamp

    @property
    def last_timestamp(self) -> datetime | None:
        return self.fields.last_timestamp

    def occurrence(self) -> Occurrence:
        """The ``Occurrence`` that was stored (for the export document of ``-o json``)."""
        return Occurrence(
            id=self.id, uid=self.uid, count=self.count, time=self.time,
            filing_time=self.filing_time, event=self.fields,
            raw=self.event_json.encode(), cluster=self.cluster,
            resource_version=self.resource_version, enrichment=self.enrichment,
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


_TEXT_COLUMNS = (
    "namespace", "involved_kind", "involved_name", "involved_namespace", "type", "reason",
    "source_component", "reporting_controller", "cluster",
)  # fmt: skip
# NULL in these stands for the value of the other (a version 2 store's space saving).
_SAME_AS = {"involved_namespace": "namespace", "reporting_controller": "source_component"}


def stored_occurrence(row: tuple[Any, ...], codec: EventCodec | None) -> StoredOccurrence:
    """A row of ``select(version)`` as a ``StoredOccurrence``; ``StoreError`` for a row a
    writer never made.

    SQLite columns are loosely typed, so a damaged or hand-edited file can hold anything.
    """
    try:
        (seq, uid, count, filed, own, namespace, kind, name, _, type_, reason, component, _,
         cluster, inserted_at, event) = row[:16]  # fmt: skip
        # One column from schema 4 on, four in schema 3, none before (``select``).
        extra = row[16:]
        if len(extra) == 4:
            enrichment = stored_v3_enrichment(*extra)
        else:
            enrichment = stored_enrichment(extra[0]) if extra else None
        for column, value in (("seq", seq), ("count", count), ("time", filed),
                              ("inserted_at", inserted_at)):  # fmt: skip
            if type(value) is not int:
                raise TypeError(f"column {column} holds {type(value).__name__}")
        texts = dict(zip(_TEXT_COLUMNS, row[5:14], strict=True))
        for column, value in texts.items():
            if value is None and column in _SAME_AS:
                texts[column] = texts[_SAME_AS[column]]
            elif type(value) is not str:
                raise TypeError(f"column {column} holds {type(value).__name__}")
        if type(event) not in (bytes, str):
            raise TypeError(f"column event holds {type(event).__name__}")
        filing_time = from_micros(filed)
        if own is None:
            when = filing_time
        elif type(own) is int:
            when = from_micros(own)
        elif type(own) is str:
            when = parse_rfc3339(own)
        else:
            raise TypeError(f"column own_time holds {type(own).__name__}")
        return StoredOccurrence(
            seq=seq, uid=uid_text(uid), count=count, time=when, filing_time=filing_time,
            namespace=namespace, involved_kind=kind, involved_name=name,
            involved_namespace=texts["involved_namespace"], type=type_, reason=reason,
            source_component=component, reporting_controller=texts["reporting_controller"],
            cluster=cluster, inserted_at=from_micros(inserted_at), stored_event=event,
            codec=codec, enrichment=enrichment,
        )  # fmt: skip
    except (TypeError, ValueError, OverflowError) as exc:
        raise StoreError(f"stored row with seq {row[0]!r} is malformed: {exc}") from None


def micros_or_none(value: Any) -> datetime | None:
    if value is None:
        return None
    try:
        return from_micros(value)
    except (TypeError, OverflowError) as exc:
        raise StoreError(f"stored time {value!r} is malformed: {exc}") from None

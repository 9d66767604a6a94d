"""Occurrences as rows of the store, in ``COLUMNS`` order."""

from __future__ import annotations

from collections.abc import Sequence

from kubevents.export._document import document_times
from kubevents.export._occurrence import Occurrence
from kubevents.export.sinks._base import Rejected
from kubevents.export.sinks.sqlite._schema import to_micros

__all__ = ["Row", "encode_rows"]

Row = tuple[object, ...]


def encode_rows(batch: Sequence[Occurrence], inserted_at: int) -> tuple[list[Row], list[Rejected]]:
    """The rows of ``batch``, and the occurrences no row can hold (rejected for good)."""
    rows: list[Row] = []
    rejected: list[Rejected] = []
    for occ in batch:
        try:
            event_json = occ.raw.decode()
        except UnicodeDecodeError:
            # A TEXT column must hold UTF-8; retrying could never fix these bytes.
            rejected.append(Rejected(occ, "invalid_utf8"))
            continue
        ev, ref = occ.event, occ.event.involved_object
        time_text, first_text, last_text, _ = document_times(occ)
        rows.append((
            occ.id, occ.uid, occ.count, to_micros(occ.filing_time), time_text,
            ev.metadata.namespace, ev.metadata.name, ref.kind, ref.name, ref.namespace,
            ref.uid, ref.api_version, ref.field_path, ev.type, ev.reason, ev.message,
            ev.source.component, ev.source.host, ev.reporting_controller,
            ev.reporting_instance, occ.cluster, occ.resource_version,
            first_text, last_text, event_json,
            inserted_at,
        ))  # fmt: skip
    return rows, rejected

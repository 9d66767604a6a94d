"""Occurrences as rows of the store, in ``COLUMNS`` order."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache

from kubevents.export._occurrence import Occurrence
from kubevents.export.sinks._base import Rejected
from kubevents.export.sinks.sqlite._codec import EventCodec, shipped_codec, strip_managed_fields
from kubevents.export.sinks.sqlite._enriched import enrichment_value
from kubevents.export.sinks.sqlite._schema import stored_type, stored_uid, to_micros

__all__ = ["Row", "encode_rows"]

Row = tuple[object, ...]


@cache
def _default_codec() -> EventCodec:
    return shipped_codec()


def encode_rows(
    batch: Sequence[Occurrence], inserted_at: int, codec: EventCodec | None = None
) -> tuple[list[Row], list[Rejected]]:
    """The rows of ``batch``, and the occurrences no row can hold (rejected for good).

    ``codec`` is the store's (``None``: the shipped dictionary as id 1, for measuring).
    """
    codec = codec or _default_codec()
    rows: list[Row] = []
    rejected: list[Rejected] = []
    compress = codec.compress
    for occ in batch:
        raw = occ.raw
        try:
            if not raw.isascii():  # most Events are: then they are UTF-8 too
                raw.decode()
        except UnicodeDecodeError:
            # Readers give the Event back as text; retrying could never fix these bytes.
            rejected.append(Rejected(occ, "invalid_utf8"))
            continue
        ev, ref = occ.event, occ.event.involved_object
        namespace, component = ev.metadata.namespace, ev.source.component
        when, filing = occ.time, occ.filing_time
        # Unmoved, the filing time is the very object: no comparison of two datetimes.
        own = None if when is filing or when == filing else to_micros(when)
        rows.append((
            stored_uid(occ.uid), occ.count, to_micros(filing), own, namespace,
            ref.kind, ref.name, None if ref.namespace == namespace else ref.namespace,
            stored_type(ev.type), ev.reason, component,
            None if ev.reporting_controller == component else ev.reporting_controller,
            occ.cluster, inserted_at,
            compress(strip_managed_fields(raw, ev.metadata.managed_fields)),
            enrichment_value(occ.enrichment),
        ))  # fmt: skip
    return rows, rejected

"""What a spool record holds: one occurrence, with what the live path chose for it.

A replay after a restart must file and enrich the occurrence as the live path did, so the
record keeps the transforms' filing time (when it differs from the occurrence's own) and the
enrichment next to the Event's raw JSON.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import msgspec

from kubevents.export._enrichment import Enrichment
from kubevents.export._fields import event_fields_decoder
from kubevents.export._occurrence import Occurrence

__all__ = ["decode_occurrence", "encode_occurrence"]


class _Spooled(msgspec.Struct, array_like=True, gc=False):
    cluster: str
    raw: bytes
    # The filing time the transforms chose (time_window), in µs since the epoch, when it is
    # not the occurrence's own time: a replay must file it where the live path would have.
    filed_us: int | None = None
    # What the enricher attached (``_enrich``): a replay of the spool cannot look it up again.
    enrichment: Enrichment | None = None


_encoder = msgspec.msgpack.Encoder()
_payload_decoder = msgspec.msgpack.Decoder(_Spooled)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_event_decoder = event_fields_decoder()


def encode_occurrence(occurrence: Occurrence) -> bytes:
    filed = occurrence.filing_time
    filed_us = None if filed == occurrence.time else (filed - _EPOCH) // _MICROSECOND
    return _encoder.encode(
        _Spooled(occurrence.cluster, occurrence.raw, filed_us, occurrence.enrichment)
    )


def decode_occurrence(payload: bytes) -> Occurrence:
    """The occurrence a spool record holds; raises ``ValueError`` for a record that is not one."""
    try:
        spooled = _payload_decoder.decode(payload)
        event = _event_decoder.decode(spooled.raw)
    except (msgspec.MsgspecError, ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise ValueError(f"not a spooled occurrence: {exc}") from None
    if not event.metadata.uid:
        raise ValueError("not a spooled occurrence: the Event has no uid")
    occurrence = Occurrence.of(event, spooled.raw, spooled.cluster)
    if spooled.enrichment is not None:
        occurrence = msgspec.structs.replace(occurrence, enrichment=spooled.enrichment)
    if spooled.filed_us is None:
        return occurrence
    try:
        filed = _EPOCH + timedelta(microseconds=spooled.filed_us)
    except OverflowError:
        raise ValueError("not a spooled occurrence: its filing time is out of range") from None
    return msgspec.structs.replace(occurrence, filing_time=filed)

"""The enrichment as the store keeps it (docs/sinks/sqlite.md), and back.

From schema 4, one column: a JSON array ``[status, reason, workload kind, workload name,
labels, annotations]`` without its trailing defaults (``""`` for the reason, null for the
rest), the maps with sorted keys; NULL for an occurrence stored without enrichment. The
schema reads the workload and the labels out of it as generated columns (``--workload``,
indexed, and ``-l``). Schema 3 kept four columns: ``workload_kind``, ``workload_name``,
``labels`` (a JSON object) and ``enrichment`` (the rest as a JSON object); a reader still reads
them, and the migration folds them into the one.
"""

from __future__ import annotations

import msgspec

from kubevents.export._enrichment import Enrichment, Workload

__all__ = ["enrichment_value", "folded_v3_enrichment", "stored_enrichment", "stored_v3_enrichment"]


class _Stored(msgspec.Struct, array_like=True, gc=False):
    status: str
    reason: str = ""
    workload_kind: str | None = None
    workload_name: str | None = None
    labels: dict[str, str] | None = None
    annotations: dict[str, str] | None = None


class _V3Rest(msgspec.Struct, omit_defaults=True, gc=False):
    status: str
    reason: str = ""
    annotations: dict[str, str] | None = None


_encoder = msgspec.json.Encoder(order="sorted")
_decoder = msgspec.json.Decoder(_Stored)
_v3_rest_decoder = msgspec.json.Decoder(_V3Rest)
_labels_decoder = msgspec.json.Decoder(dict[str, str])
_DEFAULTS = (None, "", None, None, None, None)


def enrichment_value(found: Enrichment | None) -> str | None:
    """The ``enrichment`` column of an occurrence's enrichment."""
    if found is None:
        return None
    workload = found.workload
    fields: list[object] = [
        found.status,
        found.reason,
        None if workload is None else workload.kind,
        None if workload is None else workload.name,
        # As schema 3 kept them: no labels and empty labels read back alike, as None.
        found.labels or None,
        found.annotations,
    ]
    while len(fields) > 1 and fields[-1] == _DEFAULTS[len(fields) - 1]:
        fields.pop()
    return _encoder.encode(fields).decode()


def _enrichment(
    status: str, reason: str, kind: object, name: object, labels: dict[str, str] | None,
    annotations: dict[str, str] | None,
) -> Enrichment:  # fmt: skip
    workload = None
    if kind is not None or name is not None:
        if not isinstance(kind, str) or not isinstance(name, str):
            raise TypeError("the stored workload has no kind or no name")
        workload = Workload(kind, name)
    return Enrichment(status, reason, workload, labels, annotations)


def stored_enrichment(value: object) -> Enrichment | None:
    """The enrichment an ``enrichment`` column holds; ``ValueError`` / ``TypeError`` if damaged."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise TypeError(f"column enrichment holds {type(value).__name__}")
    try:
        found = _decoder.decode(value)
    except msgspec.MsgspecError as exc:
        raise ValueError(f"unreadable enrichment: {exc}") from None
    return _enrichment(
        found.status, found.reason, found.workload_kind, found.workload_name, found.labels,
        found.annotations,
    )  # fmt: skip


def stored_v3_enrichment(
    kind: object, name: object, labels: object, rest: object
) -> Enrichment | None:
    """The enrichment schema 3's four columns hold; ``ValueError`` / ``TypeError`` if damaged."""
    if rest is None:
        return None
    if not isinstance(rest, str) or not isinstance(labels, str | None):
        raise TypeError("column enrichment or labels holds no text")
    try:
        found = _v3_rest_decoder.decode(rest)
        decoded = None if labels is None else _labels_decoder.decode(labels)
    except msgspec.MsgspecError as exc:
        raise ValueError(f"unreadable enrichment: {exc}") from None
    return _enrichment(found.status, found.reason, kind, name, decoded, found.annotations)


def folded_v3_enrichment(kind: object, name: object, labels: object, rest: object) -> str | None:
    """Schema 3's four columns as schema 4's one (the migration's SQL function).

    Never raises: a migration that stopped at one damaged row would keep the exporter from
    starting. Such a row keeps what it held as a JSON string, which readers report as damaged,
    as they did before.
    """
    try:
        return enrichment_value(stored_v3_enrichment(kind, name, labels, rest))
    except Exception:
        return _encoder.encode(rest if isinstance(rest, str) else repr(rest)).decode()

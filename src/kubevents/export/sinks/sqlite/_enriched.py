"""The enrichment as the store keeps it: four columns (schema 3), and back.

``workload_kind`` and ``workload_name`` (``--workload``, indexed), ``labels`` as a JSON object
with sorted keys (``-l``, read with SQLite's ``json_extract``), and ``enrichment``: the rest
(status, a miss's reason, annotations) as JSON. All four are NULL for an occurrence stored
without enrichment.
"""

from __future__ import annotations

import msgspec

from kubevents.export._enrichment import Enrichment, Workload

__all__ = ["enrichment_columns", "stored_enrichment"]


class _Rest(msgspec.Struct, omit_defaults=True, gc=False):
    status: str
    reason: str = ""
    annotations: dict[str, str] | None = None


_encoder = msgspec.json.Encoder(order="sorted")
_rest_decoder = msgspec.json.Decoder(_Rest)
_labels_decoder = msgspec.json.Decoder(dict[str, str])
_NONE = (None, None, None, None)


def enrichment_columns(found: Enrichment | None) -> tuple[str | None, ...]:
    """``workload_kind, workload_name, labels, enrichment`` of an occurrence's enrichment."""
    if found is None:
        return _NONE
    workload = found.workload
    return (
        None if workload is None else workload.kind,
        None if workload is None else workload.name,
        None if not found.labels else _encoder.encode(found.labels).decode(),
        _encoder.encode(_Rest(found.status, found.reason, found.annotations)).decode(),
    )


def stored_enrichment(
    kind: object, name: object, labels: object, rest: object
) -> Enrichment | None:
    """The enrichment the four columns hold; ``ValueError`` / ``TypeError`` if damaged."""
    if rest is None:
        return None
    if not isinstance(rest, str) or not isinstance(labels, str | None):
        raise TypeError("column enrichment or labels holds no text")
    try:
        found = _rest_decoder.decode(rest)
        decoded = None if labels is None else _labels_decoder.decode(labels)
    except msgspec.MsgspecError as exc:
        raise ValueError(f"unreadable enrichment: {exc}") from None
    workload = None
    if kind is not None or name is not None:
        if not isinstance(kind, str) or not isinstance(name, str):
            raise TypeError("column workload_kind or workload_name holds no text")
        workload = Workload(kind, name)
    return Enrichment(found.status, found.reason, workload, decoded, found.annotations)

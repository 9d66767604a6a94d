"""What enrichment attaches to an occurrence: its object's owning workload, labels, annotations.

Built by the enricher (``_enrich``) from metadata caches; carried by the occurrence through the
buffers and the spool, written by every sink (the document's ``enrichment`` key, the store's
columns). ``status`` is ``hit`` when the involved object was in its cache, else ``miss`` with
the ``reason``: ``gone`` (not in the cache, or replaced by another object of the same name),
``not_synced`` (its cache has not finished its first LIST), ``kind_not_cached`` (the kind is
not in ``enrich.kinds``).
"""

from __future__ import annotations

import msgspec

__all__ = ["MISS_REASONS", "Enrichment", "Workload"]

MISS_REASONS = ("gone", "not_synced", "kind_not_cached")


class Workload(msgspec.Struct, frozen=True, gc=False):
    """The top of the involved object's chain of controllers (the object itself if none)."""

    kind: str
    name: str


class Enrichment(msgspec.Struct, frozen=True, omit_defaults=True, gc=False):
    status: str  # "hit" or "miss"
    reason: str = ""  # a miss's: one of MISS_REASONS
    workload: Workload | None = None
    labels: dict[str, str] | None = None  # the selected ones the object has
    annotations: dict[str, str] | None = None

"""Enrichment: each occurrence gets its object's selected labels and owning workload.

Resolved from metadata-only caches of the allowed kinds (``_metacache`` keeps them current by
list-watch), never by a GET per event. The owning workload is found by walking the
``controller: true`` owner references from the involved object upwards (Pod -> ReplicaSet ->
Deployment, Pod -> Job -> CronJob, Pod -> StatefulSet) through the caches; the walk stops at an
object with no controller, at a kind not cached (its name is still known from the reference),
or at an owner that is gone. A miss is recorded on the occurrence, counted, and never waits.

A cache entry is compact: the uid, the selected labels and annotations as one flat tuple of
interned strings, and the controller reference; the key is ``namespace/name``.
"""

from __future__ import annotations

import sys
import weakref
from collections.abc import Iterator

import msgspec
from prometheus_client import Counter, Gauge
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.registry import Collector

from kubevents.export._enrichconfig import KindInfo
from kubevents.export._enrichment import MISS_REASONS, Enrichment, Workload
from kubevents.export._fields import DocumentInvolvedObject
from kubevents.export._metrics import ExportMetrics
from kubevents.export._occurrence import Occurrence
from kubevents.kube import ObjectMetadata

__all__ = [
    "CachedObject",
    "Changes",
    "EnrichMetrics",
    "Enricher",
    "ObjectCache",
    "Owner",
]

# Controller chains are short (Pod -> ReplicaSet -> Deployment is the longest built in): a
# longer walk can only be a reference loop someone wrote by hand.
MAX_OWNER_DEPTH = 8


class Owner(msgspec.Struct, frozen=True, array_like=True, gc=False):
    kind: str
    name: str
    uid: str
    group: str


class CachedObject(msgspec.Struct, frozen=True, array_like=True, gc=False):
    uid: str
    labels: tuple[str, ...] | None  # key, value, key, value, ...
    annotations: tuple[str, ...] | None
    owner: Owner | None


def _selected(values: dict[str, str] | None, keys: tuple[str, ...]) -> tuple[str, ...] | None:
    if not values or not keys:
        return None
    flat: list[str] = []
    for key in keys:
        value = values.get(key)
        if value is not None:
            flat += (key, sys.intern(value))
    return tuple(flat) if flat else None


def _as_dict(flat: tuple[str, ...] | None) -> dict[str, str] | None:
    if not flat:
        return None
    return dict(zip(flat[::2], flat[1::2], strict=True))


class Changes:
    """Counts changes of what the caches hold, so that memoised answers know when to go."""

    def __init__(self) -> None:
        self.count = 0


class ObjectCache:
    """The objects of one kind by ``namespace/name`` (cluster-scoped: ``/name``)."""

    def __init__(
        self,
        info: KindInfo,
        labels: tuple[str, ...],
        annotations: tuple[str, ...],
        changes: Changes | None = None,
    ) -> None:
        self.info = info
        self.group = info.group
        self.namespaced = info.namespaced
        self.changes = changes if changes is not None else Changes()
        self._labels = tuple(sys.intern(k) for k in labels)
        self._annotations = tuple(sys.intern(k) for k in annotations)
        self.objects: dict[str, CachedObject] = {}
        self._synced = False

    @property
    def synced(self) -> bool:
        """Whether the first LIST is in (before it, an object not found may yet come)."""
        return self._synced

    @synced.setter
    def synced(self, value: bool) -> None:
        self._synced = value
        self.changes.count += 1

    def key(self, namespace: str, name: str) -> str:
        return f"{namespace}/{name}" if self.namespaced else f"/{name}"

    def entry(self, meta: ObjectMetadata) -> CachedObject:
        """What the cache keeps of an object's metadata."""
        ref = meta.controller()
        owner = None
        if ref is not None:
            owner = Owner(
                sys.intern(ref.kind), sys.intern(ref.name), ref.uid,
                sys.intern(ref.api_version.rpartition("/")[0]),
            )  # fmt: skip
        return CachedObject(
            meta.uid,
            _selected(meta.labels, self._labels),
            _selected(meta.annotations, self._annotations),
            owner,
        )

    def replace(self, objects: dict[str, CachedObject]) -> None:
        """Everything at once (a relist)."""
        self.objects = objects
        self.changes.count += 1

    def put(self, meta: ObjectMetadata) -> None:
        key = self.key(meta.namespace, meta.name)
        entry = self.entry(meta)
        # Most updates (a Pod's status) change nothing the cache keeps: they keep the entry
        # and what was worked out from it.
        if self.objects.get(key) != entry:
            self.objects[key] = entry
            self.changes.count += 1

    def remove(self, meta: ObjectMetadata) -> None:
        key = self.key(meta.namespace, meta.name)
        found = self.objects.get(key)
        # A delete of an older object of the same name must not evict its successor.
        if found is not None and (not meta.uid or found.uid == meta.uid):
            del self.objects[key]
            self.changes.count += 1

    def get(self, namespace: str, name: str) -> CachedObject | None:
        return self.objects.get(f"{namespace}/{name}" if self.namespaced else f"/{name}")


class _Outcomes(Collector):
    """Hits and misses as counters, kept as plain integers: a Counter's ``inc`` takes a lock
    and costs twice the enrichment itself, once per occurrence."""

    def __init__(self) -> None:
        self.hits = 0
        self.misses = dict.fromkeys(MISS_REASONS, 0)

    def collect(self) -> Iterator[Metric]:
        p = "kubevents_enrichment_"
        hits = CounterMetricFamily(p + "hits", "Occurrences enriched from the caches")
        hits.add_metric([], self.hits)
        misses = CounterMetricFamily(
            p + "misses",
            "Occurrences whose object was not in the caches, by reason: gone, not_synced, "
            "kind_not_cached",
            labels=["reason"],
        )
        for reason, count in self.misses.items():
            misses.add_metric([reason], count)
        yield hits
        yield misses


class EnrichMetrics:
    """The enrichment's metrics, in the exporter's registry (``of``: one set per registry)."""

    @classmethod
    def of(cls, metrics: ExportMetrics) -> EnrichMetrics:
        """The set registered with ``metrics``, made on first use: a leader-elected replica
        builds an exporter (and its caches) per term, on one registry."""
        found = _BY_METRICS.get(metrics)
        if found is None:
            found = _BY_METRICS[metrics] = cls(metrics)
        return found

    def __init__(self, metrics: ExportMetrics) -> None:
        r, p = metrics.registry, "kubevents_enrichment_"
        self.registry = r
        self.outcomes = _Outcomes()
        r.register(self.outcomes)
        self.objects = Gauge(
            p + "cached_objects", "Objects held by a metadata cache", ["kind"], registry=r
        )
        self.synced = Gauge(
            p + "synced", "1 once a metadata cache has finished its first LIST", ["kind"],
            registry=r,
        )  # fmt: skip
        self.relists = Counter(
            p + "relists_total",
            "Full LISTs of a metadata cache, by reason: start, gone, expired",
            ["kind", "reason"],
            registry=r,
        )
        self.watch_errors = Counter(
            p + "watch_errors_total", "Failed LISTs and watches of a metadata cache (retried)",
            ["kind"], registry=r,
        )  # fmt: skip
        self.malformed = Counter(
            p + "malformed_total", "Metadata objects that did not decode (skipped)", ["kind"],
            registry=r,
        )  # fmt: skip


_BY_METRICS: weakref.WeakKeyDictionary[ExportMetrics, EnrichMetrics] = weakref.WeakKeyDictionary()


# Answers remembered between changes of the caches: Events come in bursts about the same
# objects (a crash loop, a rollout), and most cache updates change nothing kept.
MEMO_SIZE = 65_536


class Enricher:
    """The transform: an occurrence in, the same occurrence with its ``enrichment`` out."""

    def __init__(self, caches: dict[str, ObjectCache], metrics: EnrichMetrics) -> None:
        self._caches = caches
        changes = {id(cache.changes) for cache in caches.values()}
        if len(changes) > 1:
            raise ValueError("the caches of one enricher must share one Changes")
        self._changes = next(iter(caches.values())).changes if caches else Changes()
        # key -> (the caches' change count it was worked out at, the answer)
        self._memo: dict[tuple[str, str, str, str, str], tuple[int, Enrichment]] = {}
        self._outcomes = metrics.outcomes

    def __call__(self, occurrence: Occurrence) -> Occurrence:
        found = self.resolve(occurrence.event.involved_object)
        if found.status == "hit":
            self._outcomes.hits += 1
        else:
            self._outcomes.misses[found.reason] += 1
        return msgspec.structs.replace(occurrence, enrichment=found)

    def resolve(self, ref: DocumentInvolvedObject) -> Enrichment:
        """The enrichment of an object reference, from the caches alone."""
        memo, count = self._memo, self._changes.count
        key = (ref.kind, ref.api_version, ref.namespace, ref.name, ref.uid)
        known = memo.get(key)
        if known is not None and known[0] == count:
            return known[1]
        if len(memo) >= MEMO_SIZE:
            memo.clear()
        found = self._resolve(ref)
        memo[key] = (count, found)
        return found

    def _resolve(self, ref: DocumentInvolvedObject) -> Enrichment:
        caches = self._caches
        cache = caches.get(ref.kind)
        # A reference without apiVersion (some reporters leave it out) is taken at its kind.
        api_version = ref.api_version
        if cache is None or (api_version and cache.group != api_version.rpartition("/")[0]):
            return _MISS_KIND
        namespace = ref.namespace
        found = cache.get(namespace, ref.name)
        # kubelet names a Node's Events with the node name as its uid.
        if found is None or (ref.uid and ref.uid != found.uid and ref.uid != ref.name):
            return _MISS_GONE if cache.synced else _MISS_UNSYNCED
        kind, name, node = ref.kind, ref.name, found
        for _ in range(MAX_OWNER_DEPTH):
            owner = node.owner
            if owner is None:
                break
            kind, name = owner.kind, owner.name
            parent = caches.get(kind)
            if parent is None or parent.group != owner.group:
                break
            up = parent.get(namespace, name)
            if up is None or up.uid != owner.uid:
                break
            node = up
        return Enrichment(
            "hit", "", Workload(kind, name), _as_dict(found.labels), _as_dict(found.annotations)
        )


_MISS_KIND = Enrichment("miss", "kind_not_cached")
_MISS_GONE = Enrichment("miss", "gone")
_MISS_UNSYNCED = Enrichment("miss", "not_synced")

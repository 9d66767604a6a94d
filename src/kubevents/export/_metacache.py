"""The metadata caches' list-watches: one loop per enabled kind, like the Event source's.

Each loop LISTs its kind page by page (metadata only, ``kube.MetadataReader``), builds a fresh
map and swaps it in whole (readers never see half a list; a relist holds both maps for a
moment), then WATCHes from the list's resourceVersion with bookmarks: ADDED and MODIFIED
replace an entry, DELETED removes it. A watch that ends resumes from the last resourceVersion;
``410 Gone`` (or a watch that closes at once with nothing) relists. Errors back off with jitter
(1 s to 30 s); nothing ends a loop but cancellation.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time

from kubevents.errors import GoneError, KubeError
from kubevents.export._enrich import CachedObject, Changes, Enricher, EnrichMetrics, ObjectCache
from kubevents.export._enrichconfig import KINDS, EnrichConfig
from kubevents.export._metrics import ExportMetrics
from kubevents.kube import ADDED, DELETED, MODIFIED, KubeClient, MetadataReader, excerpt

__all__ = ["MetadataCaches"]

log = logging.getLogger(__name__)

BACKOFF_INITIAL = 1.0
BACKOFF_MAX = 30.0
EXPIRED_WATCH_SECONDS = 2.0


class MetadataCaches:
    """Every enabled kind's cache and the task that keeps it current."""

    def __init__(
        self,
        client: KubeClient,
        config: EnrichConfig,
        metrics: ExportMetrics,
        *,
        namespace: str | None = None,
        watch_timeout: int | None = None,
    ) -> None:
        self._client = client
        self._config = config
        self._namespace = namespace
        self._watch_timeout = watch_timeout
        self.metrics = EnrichMetrics.of(metrics)
        labels, annotations = tuple(config.labels), tuple(config.annotations)
        changes = Changes()
        self.caches = {
            kind: ObjectCache(KINDS[kind], labels, annotations, changes) for kind in config.kinds
        }
        self.enricher = Enricher(self.caches, self.metrics)
        self._synced = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def synced(self) -> bool:
        return all(cache.synced for cache in self.caches.values())

    async def wait_synced(self, within: float) -> bool:
        """Wait until every cache has listed once, at most ``within`` seconds."""
        try:
            await asyncio.wait_for(self._synced.wait(), within)
        except TimeoutError:
            return False
        return True

    async def run(self) -> None:
        """Run every kind's loop until cancelled."""
        self._tasks = [
            asyncio.create_task(self._loop(cache), name=f"metadata-{cache.info.resource}")
            for cache in self.caches.values()
        ]
        try:
            await asyncio.gather(*self._tasks)
        finally:
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _loop(self, cache: ObjectCache) -> None:
        kind = cache.info.kind
        reader = self._client.metadata(cache.info.group_version, cache.info.resource)
        namespace = self._namespace if cache.info.namespaced else None
        resource_version: str | None = None
        reason = "start"
        backoff = BACKOFF_INITIAL
        while True:
            try:
                if resource_version is None:
                    self.metrics.relists.labels(kind, reason).inc()
                    resource_version = await self._list(cache, reader, namespace)
                opened = time.monotonic()
                resource_version, delivered = await self._watch(
                    cache, reader, namespace, resource_version
                )
                backoff = BACKOFF_INITIAL
                if not delivered and time.monotonic() - opened < EXPIRED_WATCH_SECONDS:
                    resource_version, reason = None, "expired"
            except GoneError:
                resource_version, reason = None, "gone"
            except Exception as exc:
                # A KubeError is the API's; anything else a bug or an input nobody foresaw.
                # Either way the loop goes on: the other kinds and the export do not wait.
                self.metrics.watch_errors.labels(kind).inc()
                delay = backoff * (0.5 + random.random())
                if isinstance(exc, KubeError):
                    log.warning(
                        "%s metadata cache: %s; retrying in %.1fs", kind, excerpt(exc), delay
                    )
                else:
                    log.error("%s metadata cache: unexpected error", kind, exc_info=exc)
                await asyncio.sleep(delay)
                backoff = min(backoff * 2, BACKOFF_MAX)

    async def _list(self, cache: ObjectCache, reader: MetadataReader, namespace: str | None) -> str:
        fresh: dict[str, CachedObject] = {}
        list_rv = ""
        malformed = self.metrics.malformed.labels(cache.info.kind)
        async for page in reader.list_pages(namespace, limit=self._config.page_size):
            if page.malformed:
                malformed.inc(page.malformed)
            for item in page.items:
                meta = item.metadata
                fresh[cache.key(meta.namespace, meta.name)] = cache.entry(meta)
            list_rv = page.resource_version
            await asyncio.sleep(0)  # a 50 000-object list must not hold up the export
        cache.replace(fresh)
        self.metrics.objects.labels(cache.info.kind).set(len(fresh))
        if not cache.synced:
            cache.synced = True
            self.metrics.synced.labels(cache.info.kind).set(1)
            log.info("%s metadata cache synced: %d objects", cache.info.kind, len(fresh))
            if self.synced():
                self._synced.set()
        return list_rv

    async def _watch(
        self,
        cache: ObjectCache,
        reader: MetadataReader,
        namespace: str | None,
        resource_version: str,
    ) -> tuple[str, int]:
        stream = await reader.watch(
            namespace, resource_version=resource_version, timeout_seconds=self._watch_timeout
        )
        delivered = 0
        gauge = self.metrics.objects.labels(cache.info.kind)
        async with stream:
            async for change in stream:
                delivered += 1
                obj = change.object
                if obj is not None and change.type in (ADDED, MODIFIED):
                    cache.put(obj.metadata)
                elif obj is not None and change.type == DELETED:
                    cache.remove(obj.metadata)
                gauge.set(len(cache.objects))
        if stream.malformed:
            self.metrics.malformed.labels(cache.info.kind).inc(stream.malformed)
        return stream.resource_version or resource_version, delivered

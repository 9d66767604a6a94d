"""The source: the list-watch of every core/v1 Event change, in order, without gaps.

Paged LIST, then WATCH from the list's resourceVersion with bookmarks; on a clean end, resume
from the last resourceVersion seen; on 410 Gone (or a watch that closes at once with nothing,
which is how an expired resourceVersion can look) relist and reconcile against what was already
exported, so only changes are sent. Errors back off with jitter. One watch, no per-event GETs.
DELETED notifications (TTL expiry) are not occurrences and only move the resume point.

It hands every Event object and every resume mark to its ``downstream`` (the transforms) and
decides nothing about them. Bad input never stops the loop: an object that does not decode is
logged, counted in ``malformed_total{stage}`` and skipped (its resourceVersion still moves the
resume point), and any other unexpected error is logged with its traceback, counted, and
retried with backoff like an API error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncGenerator, AsyncIterator
from typing import TypeVar

from kubevents.errors import GoneError, KubeError, StatusError
from kubevents.export._fields import EventFields
from kubevents.export._metrics import ExportMetrics
from kubevents.export._transforms import Transforms
from kubevents.kube import ADDED, MODIFIED, KubeClient, excerpt

__all__ = ["ListWatchSettings", "ListWatchSource"]

log = logging.getLogger(__name__)

_P = TypeVar("_P")

# Twice client-go's 500: measured (bench/listing.py), a relist at 1 000 per page runs 1.3x as
# fast for the same apiserver CPU; larger pages gained nothing steady and hold more at once.
DEFAULT_PAGE_SIZE = 1_000
# LIST pages fetched ahead of the one being exported: the apiserver prepares the next page
# while this process decodes and files the current one. One is enough for that overlap, and
# each page held costs memory (a backfill's peak RSS is a target).
PREFETCH_PAGES = 1
# A watch that ends this quickly with nothing delivered is treated as expired (GKE and some
# proxies close a stale watch without a 410).
EXPIRED_WATCH_SECONDS = 2.0
BACKOFF_INITIAL = 1.0
BACKOFF_MAX = 30.0


def _revision(resource_version: str) -> int | None:
    """An etcd revision, if ``resource_version`` looks like one (it is opaque to clients)."""
    # Not int() of anything isdigit() accepts: "²" is a digit to isdigit(), and a string of
    # more than 4 300 digits is refused by int(); both come from the server or a file.
    digits = 0 < len(resource_version) <= 20 and resource_version.isascii()
    return int(resource_version) if digits and resource_version.isdigit() else None


def _too_large_resource_version(exc: StatusError) -> bool:
    return exc.code == 504 and "too large resource version" in exc.message.lower()


async def prefetched(pages: AsyncIterator[_P], depth: int) -> AsyncGenerator[_P, None]:
    """``pages``, with up to ``depth`` of them fetched ahead by a task of their own.

    The fetch's error (a 410 on a ``continue`` token, a dropped connection) is raised where
    the page it failed to fetch would have been; leaving the loop early cancels the fetch.
    """
    queue: asyncio.Queue[tuple[_P | None, BaseException | None]] = asyncio.Queue(depth)

    async def fetch() -> None:
        try:
            async for page in pages:
                await queue.put((page, None))
        except Exception as exc:
            await queue.put((None, exc))
        else:
            await queue.put((None, None))

    fetcher = asyncio.create_task(fetch(), name="list-prefetch")
    try:
        while True:
            page, error = await queue.get()
            if error is not None:
                raise error
            if page is None:
                return
            yield page
    finally:
        fetcher.cancel()
        await asyncio.gather(fetcher, return_exceptions=True)


class ListWatchSettings:
    """What the source lists and watches: the ``namespace`` (None: all), the selectors, the
    LIST page size, and a fixed watch timeout in seconds (None: a random 5-10 minutes per watch,
    as client-go's reflector spreads its re-watches)."""

    def __init__(
        self,
        *,
        namespace: str | None = None,
        field_selector: str | None = None,
        label_selector: str | None = None,
        page_size: int = DEFAULT_PAGE_SIZE,
        watch_timeout: int | None = None,
    ) -> None:
        self.namespace = namespace
        self.field_selector = field_selector
        self.label_selector = label_selector
        self.page_size = page_size
        self.watch_timeout = watch_timeout  # None: random 5-10 min per watch


class ListWatchSource:
    """The exporter's source: client-go's reflector ``ListAndWatch`` over core/v1 Events, feeding
    ``downstream`` instead of a store (see the module docstring).

    ``await run(resource_version)`` runs until cancelled, from ``resource_version`` (None: a
    fresh LIST). ``watching``, ``synced``, ``resource_version``, ``last_progress`` and the
    initial-list counters are read by the health checks and progress reports.
    """

    def __init__(
        self,
        client: KubeClient,
        downstream: Transforms,
        metrics: ExportMetrics,
        *,
        settings: ListWatchSettings | None = None,
    ) -> None:
        # Only the fields the exporter reads are decoded; each Event's exact JSON travels along.
        self._events = client.events.decoding(EventFields)
        self._downstream = downstream
        self._metrics = metrics
        self._settings = settings or ListWatchSettings()
        self._malformed = {stage: metrics.malformed.labels(stage) for stage in ("watch", "list")}
        self.resource_version: str | None = None
        self.synced = False
        self.watching = False
        self.last_progress = time.monotonic()
        self.initial_list_total: int | None = None
        self.initial_list_done = 0

    async def run(self, resource_version: str | None = None) -> None:
        """Run until cancelled. ``resource_version``: a saved resume point, if any."""
        self.resource_version = resource_version
        reason = "checkpoint" if resource_version else "start"
        if resource_version:
            try:
                await self._check_resume_point()
            except Exception as exc:
                log.error("cannot check the checkpoint's resourceVersion; relisting", exc_info=exc)
                self.resource_version = None
        backoff = BACKOFF_INITIAL
        while True:
            try:
                if self.resource_version is None:
                    self._metrics.relists.labels(reason).inc()
                    await self._relist()
                    reason = "expired"
                expired = await self._watch_once()
                backoff = BACKOFF_INITIAL
                if expired:
                    log.info(
                        "watch from %s closed at once: treating it as expired",
                        self.resource_version,
                    )
                    self.resource_version = None
                    reason = "expired"
            except GoneError as exc:
                log.info("resourceVersion %s is gone (%s): relisting", self.resource_version, exc)
                self._metrics.watch_restarts.labels("gone").inc()
                self.resource_version = None
                reason = "gone"
            except StatusError as exc:
                if not _too_large_resource_version(exc):
                    await self._backoff(exc, backoff)
                    backoff = min(backoff * 2, BACKOFF_MAX)
                    continue
                # The resume point is ahead of this server (a restored or a new cluster with an
                # old checkpoint): like client-go's reflector, relist.
                log.info(
                    "resourceVersion %s is ahead of the server: relisting", self.resource_version
                )
                self._metrics.watch_restarts.labels("too_large").inc()
                self.resource_version = None
                reason = "too_large"
            except KubeError as exc:
                await self._backoff(exc, backoff)
                backoff = min(backoff * 2, BACKOFF_MAX)
            except Exception as exc:
                # A bug or an input nobody foresaw: exiting would stop the export for good, and
                # a restart would meet the same input. Retrying keeps everything else flowing.
                log.error("unexpected error in the list-watch loop", exc_info=exc)
                await self._backoff(exc, backoff, "unexpected")
                backoff = min(backoff * 2, BACKOFF_MAX)

    async def _check_resume_point(self) -> None:
        """Relist instead of resuming from a resourceVersion this server has not reached yet.

        Without the watch cache, etcd happily watches from a future revision and stays silent
        until the new cluster catches up, so a checkpoint from a rebuilt cluster would lose
        events. resourceVersions are opaque, but comparing etcd revisions is the last resort
        client-go also falls back on.
        """
        s = self._settings
        try:
            current = (await self._events.list(s.namespace, limit=1)).resource_version
        except KubeError as exc:
            log.warning("cannot check the checkpoint's resourceVersion (%s); relisting", exc)
            self.resource_version = None
            return
        saved = _revision(self.resource_version or "")
        server = _revision(current)
        if saved is not None and server is not None and saved > server:
            log.warning(
                "checkpoint resourceVersion %s is ahead of the server (%s): relisting",
                saved, excerpt(current),
            )  # fmt: skip
            self.resource_version = None

    async def _backoff(self, exc: Exception, backoff: float, reason: str = "error") -> None:
        self.watching = False
        self._metrics.watch_restarts.labels(reason).inc()
        delay = backoff * (0.5 + random.random())
        log.warning("watch error (%s); retrying in %.1fs", excerpt(exc), delay)
        await asyncio.sleep(delay)

    async def _relist(self) -> None:
        s = self._settings
        total = 0
        list_rv = ""
        self.initial_list_done = 0
        pages = self._events.list_pages(
            s.namespace, field_selector=s.field_selector, label_selector=s.label_selector,
            limit=s.page_size,
        )  # fmt: skip
        async with contextlib.aclosing(prefetched(pages, PREFETCH_PAGES)) as ahead:
            async for page in ahead:
                if page.malformed:
                    self._malformed["list"].inc(page.malformed)
                if self.initial_list_total is None and page.remaining_item_count is not None:
                    self.initial_list_total = len(page.items) + page.remaining_item_count
                self._metrics.received.labels("list").inc(len(page.items))
                for event, raw in zip(page.items, page.raw_items, strict=True):
                    await self._downstream.event(event, raw, None)
                total += len(page.items)
                self.initial_list_done = total
                self.last_progress = time.monotonic()
                list_rv = page.resource_version
        # The list's resourceVersion is a valid resume point only once all its items are stored.
        await self._downstream.mark(list_rv)
        self.resource_version = list_rv
        self.synced = True
        log.info("listed %d events at resourceVersion %s", total, list_rv)

    async def _watch_once(self) -> bool:
        """Watch until the stream ends; True if it ended at once with nothing (expired)."""
        s = self._settings
        opened = time.monotonic()
        stream = await self._events.watch(
            s.namespace, resource_version=self.resource_version, allow_bookmarks=True,
            timeout_seconds=s.watch_timeout, field_selector=s.field_selector,
            label_selector=s.label_selector,
        )  # fmt: skip
        self._metrics.watch_restarts.labels("opened").inc()
        self.watching = True
        self.last_progress = time.monotonic()
        delivered = 0
        malformed_before = 0
        stream.on_received = self._metrics.received.labels("watch").inc
        downstream = self._downstream
        try:
            async with stream:
                async for change in stream:
                    delivered += 1
                    self.last_progress = time.monotonic()
                    if stream.malformed != malformed_before:
                        self._malformed["watch"].inc(stream.malformed - malformed_before)
                        malformed_before = stream.malformed
                    if change.type in (ADDED, MODIFIED) and change.object is not None:
                        await downstream.event(change.object, change.raw, change.resource_version)
                    else:  # BOOKMARK, or DELETED (TTL expiry, not an occurrence)
                        await downstream.mark(change.resource_version)
                    self.resource_version = stream.resource_version or self.resource_version
        finally:
            self.watching = False
            if stream.malformed != malformed_before:
                self._malformed["watch"].inc(stream.malformed - malformed_before)
        if stream.resource_version:
            self.resource_version = stream.resource_version
        return (
            delivered == 0
            and stream.malformed == 0
            and (time.monotonic() - opened < EXPIRED_WATCH_SECONDS)
        )

"""The list-watch loop: every core/v1 Event change, in order, without gaps.

Paged LIST, then WATCH from the list's resourceVersion with bookmarks; on a clean end, resume
from the last resourceVersion seen; on 410 Gone (or a watch that closes at once with nothing,
which is how an expired resourceVersion can look) relist and reconcile against what was already
exported, so only changes are sent. Errors back off with jitter. One watch, no per-event GETs.
DELETED notifications (TTL expiry) are not occurrences and only move the resume point.

Bad input never stops the loop: an object that does not decode, or that cannot be made into
an occurrence, is logged, counted in ``malformed_total{stage}`` and skipped (its resourceVersion
still moves the resume point), and any other unexpected error is logged with its traceback,
counted, and retried with backoff like an API error.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable

from kubevents.errors import GoneError, KubeError, StatusError
from kubevents.export._metrics import ExportMetrics
from kubevents.export._occurrence import Occurrence, TimeWindow
from kubevents.export._pipeline import Pipeline
from kubevents.kube import ADDED, BOOKMARK, MODIFIED, KubeClient, excerpt
from kubevents.model import Event

__all__ = ["EventWatcher", "WatchSettings"]

log = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 500
# A watch that ends this quickly with nothing delivered is treated as expired (GKE and some
# proxies close a stale watch without a 410).
EXPIRED_WATCH_SECONDS = 2.0
BACKOFF_INITIAL = 1.0
BACKOFF_MAX = 30.0

Filter = Callable[[Event], str | None]  # returns the name of the rule that drops it, or None


def _revision(resource_version: str) -> int | None:
    """An etcd revision, if ``resource_version`` looks like one (it is opaque to clients)."""
    # Not int() of anything isdigit() accepts: "²" is a digit to isdigit(), and a string of
    # more than 4 300 digits is refused by int(); both come from the server or a file.
    digits = 0 < len(resource_version) <= 20 and resource_version.isascii()
    return int(resource_version) if digits and resource_version.isdigit() else None


def _too_large_resource_version(exc: StatusError) -> bool:
    return exc.code == 504 and "too large resource version" in exc.message.lower()


class WatchSettings:
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


class EventWatcher:
    def __init__(
        self,
        client: KubeClient,
        pipeline: Pipeline,
        metrics: ExportMetrics,
        *,
        cluster: str,
        settings: WatchSettings | None = None,
        drop: Filter | None = None,
        time_window: TimeWindow | None = None,
    ) -> None:
        self._client = client
        self._pipeline = pipeline
        self._metrics = metrics
        self._cluster = cluster
        self._settings = settings or WatchSettings()
        self._drop = drop
        self._window = time_window if time_window is not None else TimeWindow()
        self._malformed = {
            stage: metrics.malformed.labels(stage) for stage in ("watch", "list", "occurrence")
        }
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
            current = (await self._client.events.list(s.namespace, limit=1)).resource_version
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
        async for page in self._client.events.list_pages(
            s.namespace, field_selector=s.field_selector, label_selector=s.label_selector,
            limit=s.page_size,
        ):  # fmt: skip
            if page.malformed:
                self._malformed["list"].inc(page.malformed)
            if self.initial_list_total is None and page.remaining_item_count is not None:
                self.initial_list_total = len(page.items) + page.remaining_item_count
            self._metrics.received.labels("list").inc(len(page.items))
            for event, raw in zip(page.items, page.raw_items, strict=True):
                await self._process(event, raw, None)
            total += len(page.items)
            self.initial_list_done = total
            self.last_progress = time.monotonic()
            list_rv = page.resource_version
        # The list's resourceVersion is a valid resume point only once all its items are stored.
        await self._pipeline.submit(None, list_rv)
        self.resource_version = list_rv
        self.synced = True
        log.info("listed %d events at resourceVersion %s", total, list_rv)

    async def _watch_once(self) -> bool:
        """Watch until the stream ends; True if it ended at once with nothing (expired)."""
        s = self._settings
        opened = time.monotonic()
        stream = await self._client.events.watch(
            s.namespace, resource_version=self.resource_version, allow_bookmarks=True,
            timeout_seconds=s.watch_timeout, field_selector=s.field_selector,
            label_selector=s.label_selector,
        )  # fmt: skip
        self._metrics.watch_restarts.labels("opened").inc()
        self.watching = True
        self.last_progress = time.monotonic()
        delivered = 0
        malformed_before = 0
        received = self._metrics.received.labels("watch")  # looked up once, not per event
        try:
            async with stream:
                async for change in stream:
                    delivered += 1
                    self.last_progress = time.monotonic()
                    if stream.malformed != malformed_before:
                        self._malformed["watch"].inc(stream.malformed - malformed_before)
                        malformed_before = stream.malformed
                    if change.type == BOOKMARK:
                        await self._pipeline.submit(None, change.resource_version)
                    elif change.type in (ADDED, MODIFIED) and change.object is not None:
                        received.inc()
                        await self._process(change.object, change.raw, change.resource_version)
                    else:  # DELETED: TTL expiry, not an occurrence
                        await self._pipeline.submit(None, change.resource_version)
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

    async def _process(self, event: Event, raw: bytes, resource_version: str | None) -> None:
        try:
            occurrence = self._route(event, raw)
        except Exception as exc:
            # One object the exporter cannot handle must not stop the others: skip it, and let
            # its resourceVersion move the resume point so no relist meets it again.
            log.error(
                "skipping an Event that cannot be exported (%s): %.200r", excerpt(exc), raw,
                exc_info=exc,
            )  # fmt: skip
            self._malformed["occurrence"].inc()
            occurrence = None
        await self._pipeline.submit(occurrence, resource_version)

    def _route(self, event: Event, raw: bytes) -> Occurrence | None:
        """The occurrence to export, or None when there is none (a duplicate, dropped, bad)."""
        if not event.metadata.uid:
            self._malformed["occurrence"].inc()
            log.warning("skipping an Event without uid: %.200r", raw)
            return None
        occurrence = Occurrence.of(event, raw, self._cluster, self._window)
        tracker = self._pipeline.tracker
        decision = tracker.decide(occurrence.uid, occurrence.count)
        if not decision.export:
            self._metrics.duplicates.inc()
            return None
        if decision.missed:
            self._metrics.count_gaps.inc(decision.missed)
        rule = self._drop(event) if self._drop is not None else None
        if rule is not None:
            self._metrics.filtered.labels(rule).inc()
            # A dropped occurrence is handled: remember it so a relist does not re-evaluate it.
            tracker.stored(occurrence.uid, occurrence.count)
            return None
        if occurrence.clamped is not None:
            self._metrics.clamped.labels(occurrence.clamped).inc()
            log.debug(
                "filing %s under %s, not its own time %s", occurrence.id,
                occurrence.filing_time, occurrence.time,
            )  # fmt: skip
        return occurrence

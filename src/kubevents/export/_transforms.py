"""The transforms between the source and the sinks: an occurrence, deduplicated, then filtered.

The source (``_source``) hands over every Event object it receives and every resume mark;
here each object becomes an ``Occurrence`` (its identity, its filing time), the tracker drops
what was already exported (``Dedup``), the rules drop what the configuration excludes
(``RuleFilter``), the enricher (``_enrich``, when configured) attaches the object's workload
and labels from its caches, and what is left goes to the fan-out. Whatever the outcome, the object's
resourceVersion goes along, so the resume point moves past skipped objects too.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from kubevents.export._capture import CaptureWriter
from kubevents.export._fields import EventFields
from kubevents.export._metrics import ExportMetrics, LabelledCounters
from kubevents.export._occurrence import Occurrence, TimeWindow
from kubevents.export._rules import Filter
from kubevents.export._state import EventTracker
from kubevents.kube import excerpt

__all__ = ["Dedup", "Filter", "RuleFilter", "Submit", "Transforms"]

log = logging.getLogger(__name__)

# How long the time window's bounds stand once worked out: the window spans days (an hour
# ahead at the least), a second of staleness moves no occurrence that matters.
_BOUNDS_SECONDS = 1.0

Submit = Callable[[Occurrence | None, str | None], Awaitable[None]]


class Dedup:
    """Passes an occurrence only if its (uid, count) is new; counts the counts never seen."""

    def __init__(self, tracker: EventTracker, metrics: ExportMetrics) -> None:
        self._tracker = tracker
        self._duplicates = metrics.duplicates
        self._gaps = metrics.count_gaps

    def __call__(self, occurrence: Occurrence) -> bool:
        decision = self._tracker.decide(occurrence.uid, occurrence.count)
        if not decision.export:
            self._duplicates.inc()
            return False
        if decision.missed:
            self._gaps.inc(decision.missed)
        return True


class RuleFilter:
    """Drops what the drop/match rules exclude, counting each rule's drops."""

    def __init__(self, rules: Filter, tracker: EventTracker, metrics: ExportMetrics) -> None:
        self._rules = rules
        self._tracker = tracker
        self._filtered = LabelledCounters(metrics.filtered)

    def __call__(self, occurrence: Occurrence) -> bool:
        rule = self._rules(occurrence.event)
        if rule is None:
            return True
        self._filtered[rule].inc()
        # A dropped occurrence is handled: remembered, so a relist does not evaluate it again.
        self._tracker.stored(occurrence.uid, occurrence.count)
        return False


class Transforms:
    """What the source feeds: objects become occurrences, then pass each stage, or not."""

    def __init__(
        self,
        submit: Submit,
        tracker: EventTracker,
        metrics: ExportMetrics,
        *,
        cluster: str,
        rules: Filter | None = None,
        time_window: TimeWindow | None = None,
        capture: CaptureWriter | None = None,
        enrich: Callable[[Occurrence], Occurrence] | None = None,
    ) -> None:
        self._submit = submit
        self._enrich = enrich
        self._capture = capture
        self._cluster = cluster
        self._window = time_window if time_window is not None else TimeWindow()
        self._bounds = self._window.bounds(datetime.now(UTC))
        self._bounds_until = time.monotonic() + _BOUNDS_SECONDS
        self._malformed = metrics.malformed.labels("occurrence")
        self._clamped = LabelledCounters(metrics.clamped)
        # Bound methods: a call through an instance's ``__call__`` costs more, once per stage
        # and occurrence.
        self._dedup = Dedup(tracker, metrics).__call__
        self._filter = RuleFilter(rules, tracker, metrics).__call__ if rules is not None else None

    async def mark(self, resource_version: str | None) -> None:
        """A resume point with no occurrence (a bookmark, a deletion, a list's end)."""
        if self._capture is not None:
            self._capture.mark(resource_version)
        await self._submit(None, resource_version)

    def received_at(self, when: datetime) -> None:
        """Work out filing times as of ``when`` from now on, not the clock (a replay)."""
        self._bounds = self._window.bounds(when)
        self._bounds_until = float("inf")

    def event(
        self, event: EventFields, raw: bytes, resource_version: str | None
    ) -> Awaitable[None]:
        """Hand ``event`` on as an occurrence, or its resume point alone; await the result.

        Not a coroutine itself: it returns the downstream's, one coroutine per notification
        instead of two.
        """
        if self._capture is not None:
            self._capture.object(raw, resource_version)
        try:
            occurrence = self._occurrence(event, raw)
        except Exception as exc:
            # One object the exporter cannot handle must not stop the others: skip it, and let
            # its resourceVersion move the resume point so no relist meets it again.
            log.error(
                "skipping an Event that cannot be exported (%s): %.200r", excerpt(exc), raw,
                exc_info=exc,
            )  # fmt: skip
            self._malformed.inc()
            occurrence = None
        return self._submit(occurrence, resource_version)

    def _occurrence(self, event: EventFields, raw: bytes) -> Occurrence | None:
        """The occurrence to export, or None when there is none (a duplicate, dropped, bad)."""
        if not event.metadata.uid:
            self._malformed.inc()
            log.warning("skipping an Event without uid: %.200r", raw)
            return None
        if time.monotonic() >= self._bounds_until:
            self._bounds = self._window.bounds(datetime.now(UTC))
            self._bounds_until = time.monotonic() + _BOUNDS_SECONDS
        occurrence = Occurrence.filed_between(event, raw, self._cluster, self._bounds)
        if not self._dedup(occurrence):
            return None
        if self._filter is not None and not self._filter(occurrence):
            return None
        if self._enrich is not None:
            occurrence = self._enrich(occurrence)
        # An unmoved occurrence files under its own time, the very object: no property call.
        clamped = None if occurrence.filing_time is occurrence.time else occurrence.clamped
        if clamped is not None:
            self._clamped[clamped].inc()
            log.debug(
                "filing %s under %s, not its own time %s", occurrence.id,
                occurrence.filing_time, occurrence.time,
            )  # fmt: skip
        return occurrence

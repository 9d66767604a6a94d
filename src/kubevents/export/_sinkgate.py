"""A sink's gate: which occurrences reach its buffer, and when (its rules, its throttle).

The top-level rules (``_transforms.RuleFilter``) decide what is exported; a sink's own
``rules`` then decide which of those it gets (Warnings to a webhook, everything to SQLite).
An occurrence a sink's rules exclude is acknowledged for that sink at once, as if stored, so
it never holds the checkpoint; it is counted in ``kubevents_sink_filtered_total{sink,rule}``.
What passes goes through the sink's count-bump throttle (``_throttle``), if it has one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from kubevents.export._buffer import Buffer, Entry
from kubevents.export._metrics import ExportMetrics
from kubevents.export._rules import Filter
from kubevents.export._throttle import Throttle

__all__ = ["SinkGate"]

Offer = Callable[[Entry], Awaitable[None]]


class SinkGate:
    """In front of one sink's buffer: ``offer`` hands an entry on, holds it, or settles it."""

    def __init__(
        self,
        sink: str,
        buffer: Buffer,
        settle: Callable[[Entry], None],
        metrics: ExportMetrics,
        rules: Filter | None = None,
        min_interval: float | None = None,
    ) -> None:
        self._settle = settle
        self._rules = rules
        self._filtered_total = metrics.sink_filtered
        self._sink = sink
        self._filtered: dict[str, Callable[[], None]] = {}
        self.throttle = (
            Throttle(min_interval, buffer.put, settle, metrics.throttled.labels(sink).inc)
            if min_interval
            else None
        )
        self._put = buffer.put
        self._pass: Offer = buffer.put if self.throttle is None else self.throttle.offer
        # Called for every occurrence and every sink: without rules, the next stage's own.
        self.offer: Offer = self._pass if rules is None else self._filter

    async def _filter(self, entry: Entry) -> None:
        assert self._rules is not None
        rule = self._rules(entry.occurrence.event)
        if rule is None:
            await self._pass(entry)
            return
        self._exclude(entry, rule)

    def _exclude(self, entry: Entry, rule: str) -> None:
        count = self._filtered.get(rule)
        if count is None:
            count = self._filtered[rule] = self._filtered_total.labels(self._sink, rule).inc
        count()
        self._settle(entry)

    async def offer_unthrottled(self, entry: Entry) -> None:
        """``offer`` past the throttle: the sink's rules still decide (the heartbeat's way)."""
        rule = None if self._rules is None else self._rules(entry.occurrence.event)
        if rule is None:
            await self._put(entry)
        else:
            self._exclude(entry, rule)

    def holding(self) -> int:
        """Occurrences the throttle holds back (not in the buffer, not acknowledged)."""
        return 0 if self.throttle is None else self.throttle.holding()

    async def flush(self) -> None:
        """Hand on what the throttle holds back (a drain)."""
        if self.throttle is not None:
            await self.throttle.flush()

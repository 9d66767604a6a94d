"""A sink's gate: which occurrences reach its buffer at all (its own rules).

The top-level rules (``_transforms.RuleFilter``) decide what is exported; a sink's own
``rules`` then decide which of those it gets (Warnings to a webhook, everything to SQLite).
An occurrence a sink's rules exclude is acknowledged for that sink at once, as if stored, so
it never holds the checkpoint; it is counted in ``kubevents_sink_filtered_total{sink,rule}``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from kubevents.export._buffer import Buffer, Entry
from kubevents.export._metrics import ExportMetrics
from kubevents.export._rules import Filter

__all__ = ["SinkGate"]

Offer = Callable[[Entry], Awaitable[None]]


class SinkGate:
    """In front of one sink's buffer: ``offer`` hands an entry on, or settles it there."""

    def __init__(
        self,
        sink: str,
        buffer: Buffer,
        settle: Callable[[Entry], None],
        metrics: ExportMetrics,
        rules: Filter | None = None,
    ) -> None:
        self._buffer = buffer
        self._settle = settle
        self._rules = rules
        self._filtered_total = metrics.sink_filtered
        self._sink = sink
        self._filtered: dict[str, Callable[[], None]] = {}
        # Called for every occurrence and every sink: a sink without rules is its buffer's put.
        self.offer: Offer = buffer.put if rules is None else self._filter

    async def _filter(self, entry: Entry) -> None:
        assert self._rules is not None
        rule = self._rules(entry.occurrence.event)
        if rule is None:
            await self._buffer.put(entry)
            return
        count = self._filtered.get(rule)
        if count is None:
            count = self._filtered[rule] = self._filtered_total.labels(self._sink, rule).inc
        count()
        self._settle(entry)

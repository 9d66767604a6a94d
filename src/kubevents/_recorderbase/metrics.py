"""``BroadcasterCollector``: Prometheus metrics over the broadcasters' ``stats()``.

Either recorder's broadcaster works (both report ``BroadcasterStats``). The collector reads the
counters when it is scraped, so recording pays nothing for it; nothing is registered until the
user registers the collector on a registry of their choice.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Protocol

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector, CollectorRegistry

from kubevents._recorderbase.reports import BroadcasterStats

__all__ = ["BroadcasterCollector", "StatsSource"]

_PREFIX = "kubevents_recorder"


class StatsSource(Protocol):
    """What the collector reads: a broadcaster of either recorder."""

    def stats(self) -> BroadcasterStats: ...


class BroadcasterCollector(Collector):
    """Prometheus metrics for one or more broadcasters, labelled ``broadcaster=<name>``.

    ``BroadcasterCollector(broadcaster, registry=registry)`` registers at once; ``add`` and
    ``remove`` change what later scrapes report. Thread-safe.
    """

    def __init__(
        self,
        broadcaster: StatsSource | None = None,
        *,
        name: str = "default",
        registry: CollectorRegistry | None = None,
    ) -> None:
        self._lock = threading.Lock()
        self._sources: dict[str, StatsSource] = {}
        if broadcaster is not None:
            self.add(broadcaster, name)
        if registry is not None:
            registry.register(self)

    def add(self, broadcaster: StatsSource, name: str) -> None:
        """Report ``broadcaster`` under ``name`` (a second broadcaster needs its own name)."""
        with self._lock:
            if name in self._sources:
                raise ValueError(f"a broadcaster named {name!r} is already collected")
            self._sources[name] = broadcaster

    def remove(self, name: str) -> None:
        with self._lock:
            self._sources.pop(name, None)

    def describe(self) -> list[Metric]:
        # Lets registries check name clashes at register() time without calling stats().
        return list(self._families())

    def collect(self) -> Iterator[Metric]:
        with self._lock:
            sources = list(self._sources.items())
        return self._families([(name, source.stats()) for name, source in sources])

    @staticmethod
    def _families(
        measured: list[tuple[str, BroadcasterStats]] | None = None,
    ) -> Iterator[Metric]:
        recorded = CounterMetricFamily(
            f"{_PREFIX}_events_recorded", "Events recorders queued.", labels=["broadcaster"]
        )
        invalid = CounterMetricFamily(
            f"{_PREFIX}_events_invalid",
            "Record calls refused: object not referenceable, or a type other than Normal/Warning.",
            labels=["broadcaster"],
        )
        dropped = CounterMetricFamily(
            f"{_PREFIX}_events_dropped",
            "Events dropped before a sink saw them, by reason.",
            labels=["broadcaster", "reason"],
        )
        outcomes = CounterMetricFamily(
            f"{_PREFIX}_sink_events",
            "Events handled by the sinks, by outcome (written; skipped by the spam filter; "
            "rejected, retry-limit and shut-down are failures; series: counted in memory).",
            labels=["broadcaster", "outcome"],
        )
        writes = CounterMetricFamily(
            f"{_PREFIX}_api_writes",
            "Successful Event API calls of the API sinks, by verb (create, patch).",
            labels=["broadcaster", "verb"],
        )
        queued = GaugeMetricFamily(
            f"{_PREFIX}_queued_events",
            "Events waiting in the incoming queue and the watchers' queues.",
            labels=["broadcaster"],
        )
        for name, stats in measured or ():
            recorded.add_metric([name], stats.accepted)
            invalid.add_metric([name], stats.invalid)
            for reason, n in (
                ("queue_full", stats.dropped_queue_full),
                ("after_shutdown", stats.dropped_after_shutdown),
                ("watcher_full", stats.dropped_watcher_full),
                ("at_shutdown", stats.dropped_at_shutdown),
            ):
                dropped.add_metric([name, reason], n)
            for outcome, n in sorted(stats.sink_outcomes.items()):
                outcomes.add_metric([name, outcome], n)
            for verb, n in sorted(stats.api_writes.items()):
                writes.add_metric([name, verb], n)
            queued.add_metric([name], stats.queued)
        yield from (recorded, invalid, dropped, outcomes, writes, queued)

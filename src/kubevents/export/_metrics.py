"""Prometheus metrics of the exporter. Labels are bounded: sink names and fixed reasons only."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from kubevents import __version__

__all__ = ["ExportMetrics", "HeartbeatAges", "LabelledCounters"]

_PREFIX = "kubevents_"
_BATCH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class LabelledCounters(dict[str, Counter]):
    """The children of a one-label counter by label value, each looked up on first use.

    For counters bumped per occurrence: ``labels()`` takes a lock and validates its argument on
    every call, and a child is created only when first counted, as ``labels()`` would.
    """

    def __init__(self, counter: Counter) -> None:
        super().__init__()
        self._counter = counter

    def __missing__(self, value: str) -> Counter:
        child: Counter = self._counter.labels(value)
        self[value] = child
        return child


class HeartbeatAges(Collector):
    """``kubevents_heartbeat_age_seconds{sink}``, worked out when scraped (it grows by itself
    between acknowledgements). No samples until a heartbeat runs (``source`` set)."""

    NAME = _PREFIX + "heartbeat_age_seconds"
    HELP = (
        "Seconds since the newest heartbeat Event a sink has stored was recorded (since the "
        "heartbeat started, before the first): API server -> watch -> pipeline -> sink freshness"
    )

    def __init__(self) -> None:
        self.source: Callable[[], Mapping[str, float]] | None = None

    def _family(self) -> GaugeMetricFamily:
        return GaugeMetricFamily(self.NAME, self.HELP, labels=["sink"])

    def describe(self) -> Iterator[Metric]:
        yield self._family()

    def collect(self) -> Iterator[Metric]:
        family = self._family()
        source = self.source
        if source is not None:
            for sink, age in source().items():
                family.add_metric([sink], age)
        yield family


class ExportMetrics:
    """One registry per exporter, so tests (and embedders) can run several side by side."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        Info(_PREFIX + "build", "kubevents build information", registry=r).info(
            {"version": __version__}
        )
        self.received = Counter(
            _PREFIX + "events_received_total",
            "Event notifications received from the API (list items and watch events)",
            ["source"],
            registry=r,
        )
        self.occurrences = Counter(
            _PREFIX + "occurrences_total",
            "Occurrences dispatched to the sinks (new uid:count pairs)",
            registry=r,
        )
        self.duplicates = Counter(
            _PREFIX + "duplicates_skipped_total",
            "Notifications skipped because that uid:count was already exported",
            registry=r,
        )
        self.filtered = Counter(
            _PREFIX + "events_filtered_total", "Occurrences dropped by a rule", ["rule"], registry=r
        )
        self.sink_filtered = Counter(
            _PREFIX + "sink_filtered_total",
            "Occurrences a sink's own rules kept from that sink (acknowledged for it at once)",
            ["sink", "rule"],
            registry=r,
        )
        self.throttled = Counter(
            _PREFIX + "throttled_total",
            "Occurrences a sink's throttle skipped: a newer count of the same Event came within "
            "min_interval (acknowledged for that sink at once)",
            ["sink"],
            registry=r,
        )
        self.capture_records = Counter(
            _PREFIX + "capture_records_total",
            "Notifications written to the capture file (export --capture)",
            registry=r,
        )
        self.capture_failures = Counter(
            _PREFIX + "capture_failures_total",
            "Capture file writes that failed (the capture then stops; exporting goes on)",
            registry=r,
        )
        self.malformed = Counter(
            _PREFIX + "malformed_total",
            "Objects skipped as malformed (logged), by stage: watch, list, occurrence, capture",
            ["stage"],
            registry=r,
        )
        self.clamped = Counter(
            _PREFIX + "clamped_time_total",
            "Occurrences filed under a time other than their own (outside time_window), by side",
            ["direction"],
            registry=r,
        )
        self.count_gaps = Counter(
            _PREFIX + "count_gap_occurrences_total",
            "Occurrences the exporter never saw (count jumped across a gap, e.g. 3 -> 7 adds 3)",
            registry=r,
        )
        self.exported = Counter(
            _PREFIX + "exported_total", "Occurrences stored by a sink", ["sink"], registry=r
        )
        self.sink_errors = Counter(
            _PREFIX + "sink_errors_total", "Failed sink writes", ["sink", "reason"], registry=r
        )
        self.permanent_failures = Counter(
            _PREFIX + "permanent_failures_total",
            "Occurrences a sink failed for good (a permanent error, retried permanent_attempts "
            "times), sent to its dead letters",
            ["sink"],
            registry=r,
        )
        self.rejected = Counter(
            _PREFIX + "dead_letters_total",
            "Occurrences a sink rejected for good (sent to the dead-letter target)",
            ["sink"],
            registry=r,
        )
        self.batch_seconds = Histogram(
            _PREFIX + "batch_write_seconds",
            "Duration of successful batch writes",
            ["sink"],
            buckets=_BATCH_BUCKETS,
            registry=r,
        )
        self.buffer_depth = Gauge(
            _PREFIX + "buffer_depth",
            "Occurrences in a sink's buffer, not yet stored by the sink (memory or spool)",
            ["sink"],
            registry=r,
        )
        self.buffer_bytes = Gauge(
            _PREFIX + "buffer_bytes", "Bytes a sink's spool takes on disk", ["sink"], registry=r
        )
        self.buffer_max_bytes = Gauge(
            _PREFIX + "buffer_max_bytes",
            "A sink's spool size cap (spool.max_bytes); alerts divide buffer_bytes by it",
            ["sink"],
            registry=r,
        )
        self.buffer_oldest = Gauge(
            _PREFIX + "buffer_oldest_age_seconds",
            "How long the oldest occurrence in a sink's buffer has waited",
            ["sink"],
            registry=r,
        )
        self.buffer_dropped = Counter(
            _PREFIX + "buffer_dropped_total",
            "Occurrences a full buffer dropped (when_full: drop_newest, or a spool's "
            "overflow: drop_oldest)",
            ["sink", "reason"],
            registry=r,
        )
        self.spool_full_waits = Counter(
            _PREFIX + "spool_full_waits_total",
            "Times a full spool (overflow: block) made the watch wait",
            ["sink"],
            registry=r,
        )
        self.spool_spills = Counter(
            _PREFIX + "spool_spills_total",
            "Times a sink had not stored an occurrence within spill_after, so that what its "
            "spool held in memory was written to disk",
            ["sink"],
            registry=r,
        )
        self.spool_damaged = Counter(
            _PREFIX + "spool_damaged_total",
            "Damaged stretches of a spool found at start (their records are skipped)",
            ["sink"],
            registry=r,
        )
        self.export_lag = Gauge(
            _PREFIX + "export_lag_seconds",
            "Seconds between the last stored occurrence's time and its storage",
            ["sink"],
            registry=r,
        )
        self.watch_restarts = Counter(
            _PREFIX + "watch_restarts_total", "Watches (re)opened", ["reason"], registry=r
        )
        self.relists = Counter(
            _PREFIX + "relists_total", "Full LISTs of Events", ["reason"], registry=r
        )
        self.last_success = Gauge(
            _PREFIX + "last_export_success_timestamp_seconds",
            "Unix time of the last successful write, per sink",
            ["sink"],
            registry=r,
        )
        self.checkpoints = Counter(
            _PREFIX + "checkpoint_saves_total", "Checkpoints written", registry=r
        )
        self.checkpoint_failures = Counter(
            _PREFIX + "checkpoint_save_failures_total",
            "Checkpoint writes that failed (retried with backoff)",
            ["reason"],
            registry=r,
        )
        self.last_checkpoint = Gauge(
            _PREFIX + "last_checkpoint_timestamp_seconds",
            "Unix time of the last checkpoint written",
            registry=r,
        )
        self.dead_letter_failures = Counter(
            _PREFIX + "dead_letter_failures_total",
            "Failed writes of rejected occurrences to the dead-letter target (retried)",
            ["sink"],
            registry=r,
        )
        self.task_failures = Counter(
            _PREFIX + "task_failures_total",
            "Background tasks that died; the exporter drains and exits non-zero after one",
            ["task"],
            registry=r,
        )
        self.tracked_events = Gauge(
            _PREFIX + "tracked_events", "Events whose exported count is remembered", registry=r
        )
        self.heartbeat_ages = HeartbeatAges()
        r.register(self.heartbeat_ages)
        self.heartbeats_sent = Counter(
            _PREFIX + "heartbeats_sent_total",
            "Heartbeat Events the API server accepted (the first created, then count bumps)",
            registry=r,
        )
        self.heartbeat_failures = Counter(
            _PREFIX + "heartbeat_failures_total",
            "Heartbeats not recorded, by reason: forbidden (no events create/patch in the "
            "exporter's namespace: the heartbeat turns off), failed (the API server refused it "
            "or could not be reached after the recorder's retries)",
            ["reason"],
            registry=r,
        )
        self.heartbeat_enabled = Gauge(
            _PREFIX + "heartbeat_enabled",
            "1 while this exporter records heartbeats; 0 when it does not (not configured, "
            "forbidden, a standby)",
            registry=r,
        )

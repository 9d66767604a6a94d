"""Record core/v1 Events exactly as client-go's ``tools/record`` does (v0.34.4, the release the
parity harness in ``tests/xcheck`` builds; the same behaviour through v0.38.0-beta.0).

    broadcaster = EventBroadcaster()
    broadcaster.start_recording_to_sink(KubeEventSink.from_kubeconfig())
    recorder = broadcaster.new_recorder(EventSource(component="my-controller"))
    recorder.eventf(pod, "Normal", "Scaled", "scaled to %d replicas", 3)
    ...
    broadcaster.shutdown(timeout=10)

The public names are those a user of client-go's ``record`` package reaches for: the
broadcaster, recorders and fake, sinks and ``record_to_sink``, the correlator and its options
(with the documented defaults), and the reports. The mux underneath is ``kubevents.mux``. See
``docs/recorder.md`` for usage from threads, asyncio and kopf.
"""

from kubevents._recorderbase.lifecycle import DEFAULT_SHUTDOWN_TIMEOUT, MAX_QUEUED_EVENTS
from kubevents._recorderbase.metrics import BroadcasterCollector
from kubevents._recorderbase.reports import BroadcasterStats, ShutdownReport
from kubevents._recorderbase.sinks import RecordOutcome
from kubevents.model import EVENT_TYPE_NORMAL, EVENT_TYPE_WARNING, EventSource
from kubevents.record._broadcaster import EventBroadcaster
from kubevents.record._correlator import (
    AGGREGATE_MESSAGE_PREFIX,
    DEFAULT_AGGREGATE_INTERVAL_SECONDS,
    DEFAULT_AGGREGATE_MAX_EVENTS,
    DEFAULT_SPAM_BURST,
    DEFAULT_SPAM_QPS,
    MAX_LRU_CACHE_ENTRIES,
    CorrelateResult,
    CorrelatorOptions,
    EventAggregator,
    EventAggregatorKeyFunc,
    EventAggregatorMessageFunc,
    EventCorrelator,
    EventSourceObjectSpamFilter,
    EventSpamKeyFunc,
    event_aggregator_by_reason,
    event_aggregator_by_reason_message,
    get_spam_key,
)
from kubevents.record._eventwatcher import EventHandler, EventWatcher
from kubevents.record._fake import FakeRecorder
from kubevents.record._recorder import EventRecorder, Recorder
from kubevents.record._sink import (
    DEFAULT_SLEEP_DURATION,
    MAX_TRIES_PER_EVENT,
    EventSink,
    KubeEventSink,
    record_to_sink,
)

__all__ = [
    "AGGREGATE_MESSAGE_PREFIX",
    "DEFAULT_AGGREGATE_INTERVAL_SECONDS",
    "DEFAULT_AGGREGATE_MAX_EVENTS",
    "DEFAULT_SHUTDOWN_TIMEOUT",
    "DEFAULT_SLEEP_DURATION",
    "DEFAULT_SPAM_BURST",
    "DEFAULT_SPAM_QPS",
    "EVENT_TYPE_NORMAL",
    "EVENT_TYPE_WARNING",
    "MAX_LRU_CACHE_ENTRIES",
    "MAX_QUEUED_EVENTS",
    "MAX_TRIES_PER_EVENT",
    "BroadcasterCollector",
    "BroadcasterStats",
    "CorrelateResult",
    "CorrelatorOptions",
    "EventAggregator",
    "EventAggregatorKeyFunc",
    "EventAggregatorMessageFunc",
    "EventBroadcaster",
    "EventCorrelator",
    "EventHandler",
    "EventRecorder",
    "EventSink",
    "EventSource",
    "EventSourceObjectSpamFilter",
    "EventSpamKeyFunc",
    "EventWatcher",
    "FakeRecorder",
    "KubeEventSink",
    "RecordOutcome",
    "Recorder",
    "ShutdownReport",
    "event_aggregator_by_reason",
    "event_aggregator_by_reason_message",
    "get_spam_key",
    "record_to_sink",
]

"""Record core/v1 Events exactly as client-go's ``tools/record`` does.

    broadcaster = EventBroadcaster()
    broadcaster.start_recording_to_sink(KubeEventSink.from_kubeconfig())
    recorder = broadcaster.new_recorder(EventSource(component="my-controller"))
    recorder.eventf(pod, "Normal", "Scaled", "scaled to %d replicas", 3)
    ...
    broadcaster.shutdown(timeout=10)

See ``docs/recorder.md`` for usage from threads, asyncio and kopf.
"""

from kubevents.model import EVENT_TYPE_NORMAL, EVENT_TYPE_WARNING, EventSource
from kubevents.record._broadcaster import (
    DEFAULT_SHUTDOWN_TIMEOUT,
    MAX_QUEUED_EVENTS,
    EventBroadcaster,
)
from kubevents.record._channel import ChannelClosedError
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
    EventLogger,
    EventSourceObjectSpamFilter,
    EventSpamKeyFunc,
    event_aggregator_by_reason,
    event_aggregator_by_reason_message,
    get_event_key,
    get_spam_key,
)
from kubevents.record._fake import FakeRecorder
from kubevents.record._mux import (
    INCOMING_QUEUE_LENGTH,
    Broadcaster,
    BroadcasterStoppedError,
    FullChannelBehavior,
    MuxEvent,
    Watcher,
)
from kubevents.record._ratelimit import TokenBucket
from kubevents.record._recorder import NAMESPACE_DEFAULT, EventRecorder, Recorder
from kubevents.record._sink import (
    DEFAULT_SLEEP_DURATION,
    MAX_TRIES_PER_EVENT,
    NAMESPACE_TERMINATING_CAUSE,
    EventSink,
    KubeEventSink,
    RecordOutcome,
    SleepFunc,
    record_to_sink,
)
from kubevents.record._util import generate_event_name, is_key_not_found_error, validate_event_type
from kubevents.record._watch import BroadcasterStats, EventHandler, ShutdownReport, Watch

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
    "INCOMING_QUEUE_LENGTH",
    "MAX_LRU_CACHE_ENTRIES",
    "MAX_QUEUED_EVENTS",
    "MAX_TRIES_PER_EVENT",
    "NAMESPACE_DEFAULT",
    "NAMESPACE_TERMINATING_CAUSE",
    "Broadcaster",
    "BroadcasterStats",
    "BroadcasterStoppedError",
    "ChannelClosedError",
    "CorrelateResult",
    "CorrelatorOptions",
    "EventAggregator",
    "EventAggregatorKeyFunc",
    "EventAggregatorMessageFunc",
    "EventBroadcaster",
    "EventCorrelator",
    "EventHandler",
    "EventLogger",
    "EventRecorder",
    "EventSink",
    "EventSource",
    "EventSourceObjectSpamFilter",
    "EventSpamKeyFunc",
    "FakeRecorder",
    "FullChannelBehavior",
    "KubeEventSink",
    "MuxEvent",
    "RecordOutcome",
    "Recorder",
    "ShutdownReport",
    "SleepFunc",
    "TokenBucket",
    "Watch",
    "Watcher",
    "event_aggregator_by_reason",
    "event_aggregator_by_reason_message",
    "generate_event_name",
    "get_event_key",
    "get_spam_key",
    "is_key_not_found_error",
    "record_to_sink",
    "validate_event_type",
]

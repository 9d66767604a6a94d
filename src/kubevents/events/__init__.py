"""Record events.k8s.io/v1 Events exactly as client-go's ``tools/events`` does.

    async with await KubeClient.connect() as kube:
        async with EventBroadcaster(KubeEventSink(kube)) as broadcaster:
            broadcaster.start_recording_to_sink()
            recorder = broadcaster.new_recorder("example.com/my-controller")
            recorder.eventf(pod, None, "Warning", "FailedMount", "Mounting", "volume %s", "data")

Repeats of an event (same type, action, reason, reporting controller/instance, regarding and
related) become an EventSeries, written by client-go's rules. ``new_event_broadcaster_adapter``
picks this API or the legacy core/v1 recorder (``kubevents.record``) by what the server serves.
See ``docs/recorder.md``.

This package follows client-go v0.38.0-beta.0 on purpose, newer than the v0.34.4 that
``kubevents.record`` and its parity harness pin: the bounded recording path
(kubernetes#140868) and the series passes (kubernetes#141654) exist in no earlier release.
Comments here that name v0.38 describe that newer behaviour.
"""

from kubevents._recorderbase.lifecycle import DEFAULT_SHUTDOWN_TIMEOUT, MAX_QUEUED_EVENTS
from kubevents._recorderbase.metrics import BroadcasterCollector
from kubevents._recorderbase.reports import BroadcasterStats, ShutdownReport
from kubevents._recorderbase.sinks import RecordOutcome
from kubevents.events._adapter import (
    EVENTS_V1_GROUP_VERSION,
    EventBroadcasterAdapter,
    EventRecorderAdapter,
    new_event_broadcaster_adapter,
)
from kubevents.events._broadcaster import EventBroadcaster
from kubevents.events._eventwatcher import EventHandler, EventWatcher
from kubevents.events._fake import FakeRecorder
from kubevents.events._fieldselector import (
    FieldSelector,
    GroupVersion,
    GroupVersionKind,
    get_field_selector,
)
from kubevents.events._recorder import EventRecorder, Recorder, reporting_instance_for
from kubevents.events._recording import SERIES_OUTCOME
from kubevents.events._series import EventKey, EventSeriesCache, get_key
from kubevents.events._sink import (
    DEFAULT_SLEEP_DURATION,
    MAX_TRIES_PER_EVENT,
    EventSink,
    KubeEventSink,
)
from kubevents.model import EVENT_TYPE_NORMAL, EVENT_TYPE_WARNING
from kubevents.mux import BroadcasterStoppedError

__all__ = [
    "DEFAULT_SHUTDOWN_TIMEOUT",
    "DEFAULT_SLEEP_DURATION",
    "EVENTS_V1_GROUP_VERSION",
    "EVENT_TYPE_NORMAL",
    "EVENT_TYPE_WARNING",
    "MAX_QUEUED_EVENTS",
    "MAX_TRIES_PER_EVENT",
    "SERIES_OUTCOME",
    "BroadcasterCollector",
    "BroadcasterStats",
    "BroadcasterStoppedError",
    "EventBroadcaster",
    "EventBroadcasterAdapter",
    "EventHandler",
    "EventKey",
    "EventRecorder",
    "EventRecorderAdapter",
    "EventSeriesCache",
    "EventSink",
    "EventWatcher",
    "FakeRecorder",
    "FieldSelector",
    "GroupVersion",
    "GroupVersionKind",
    "KubeEventSink",
    "RecordOutcome",
    "Recorder",
    "ShutdownReport",
    "get_field_selector",
    "get_key",
    "new_event_broadcaster_adapter",
    "reporting_instance_for",
]

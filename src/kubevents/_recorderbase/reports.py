"""What a broadcaster reports: its counters, its shutdown report, its log lines for events."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from kubevents._recorderbase.gocompat import klog_pairs
from kubevents.model import Event, EventsV1Event

__all__ = ["BroadcasterStats", "DropLog", "ShutdownReport", "structured_logger"]

_E = TypeVar("_E", Event, EventsV1Event)


@dataclass(frozen=True)
class ShutdownReport:
    """What ``shutdown`` achieved, counted per watcher (an event two watchers had counts twice).

    ``delivered``: events handled during shutdown (each got its one attempt at the sink).
    ``dropped``: events still queued, or in flight, when the timeout expired.
    """

    delivered: int
    dropped: int
    timed_out: bool = False


@dataclass(frozen=True)
class BroadcasterStats:
    """Counters since the broadcaster was made (a snapshot)."""

    accepted: int
    """Events queued by recorders."""
    dropped_queue_full: int
    """Events recorders dropped because the incoming queue was full."""
    dropped_after_shutdown: int
    """Events recorded after shutdown (dropped)."""
    invalid: int
    """Calls not recorded: object not referenceable, type not Normal/Warning."""
    dropped_watcher_full: int
    """Events a watcher missed because its own queue was full (summed over watchers)."""
    dropped_at_shutdown: int
    """Events still queued for a watcher when shutdown timed out."""
    sink_outcomes: dict[str, int]
    """``RecordOutcome`` value -> events, over all sinks."""
    api_writes: dict[str, int] = field(default_factory=dict)
    """``"create"`` / ``"patch"`` -> successful API calls of the broadcaster's API sinks (those
    that count them: ``KubeEventSink``); a patch answered 404 and then created counts as a
    create."""
    queued: int = 0
    """Events waiting now: in the incoming queue, and in the watchers' queues (summed)."""

    @property
    def dropped(self) -> int:
        """Events recorders could not queue: ``accepted + dropped`` is every valid call."""
        return self.dropped_queue_full + self.dropped_after_shutdown


class DropLog:
    """Logs dropped events at most once per ``interval`` seconds, with a count of the rest.

    Under overload every drop would otherwise be a log line, making ``event()`` slow exactly
    when it must be cheap.
    """

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._next = 0.0
        self._suppressed = 0

    def log(self, logger: logging.Logger, reason: str, event: Event | EventsV1Event) -> None:
        now = time.monotonic()
        # Unlocked on purpose: racing callers may log twice or miscount the suppressed lines;
        # the exact numbers are in the broadcaster's counters.
        if now < self._next:
            self._suppressed += 1
            return
        self._next = now + self._interval
        suppressed, self._suppressed = self._suppressed, 0
        ref = event.regarding if isinstance(event, EventsV1Event) else event.involved_object
        logger.error(
            "Unable to record event: %s: %s %s %s about %s %s/%s%s",
            reason,
            event.type,
            event.reason,
            event.metadata.name,
            ref.kind,
            ref.namespace,
            ref.name,
            f" ({suppressed} more dropped since)" if suppressed else "",
        )


def structured_logger(
    target: logging.Logger, level: int, fields_of: Callable[[_E], dict[str, str]]
) -> Callable[[_E], None]:
    """A handler logging client-go's structured ``Event occurred key="value" ...`` entry.

    The key/values (``fields_of(event)``, in client-go's order) are rendered as klog does, and
    are also on the record as the ``k8s_event`` attribute (a dict).
    """

    def handle(event: _E) -> None:
        if target.isEnabledFor(level):
            fields = fields_of(event)
            target.log(level, "Event occurred %s", klog_pairs(fields), extra={"k8s_event": fields})

    return handle

"""client-go's ``NewEventBroadcasterAdapter`` and ``record.NewEventRecorderAdapter``.

For components migrating to the events.k8s.io/v1 API: one object that records with the new API
when the server serves it and with the legacy core/v1 recorder otherwise, behind the one
``EventRecorder`` interface of the new API.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from kubevents import record
from kubevents._recorderbase.aio import SleepFunc
from kubevents._recorderbase.lifecycle import AsyncShutdownOnExit
from kubevents._recorderbase.reports import ShutdownReport
from kubevents.clock import Clock
from kubevents.events._broadcaster import EventBroadcaster
from kubevents.events._recorder import EventRecorder
from kubevents.events._sink import DEFAULT_SLEEP_DURATION, KubeEventSink
from kubevents.kube import KubeClient
from kubevents.model import EventSource

__all__ = [
    "EVENTS_V1_GROUP_VERSION",
    "EventBroadcasterAdapter",
    "EventRecorderAdapter",
    "new_event_broadcaster_adapter",
]

log = logging.getLogger("kubevents.events")

EVENTS_V1_GROUP_VERSION = "events.k8s.io/v1"


class EventRecorderAdapter:
    """``record.NewEventRecorderAdapter``: the new ``eventf`` over a legacy recorder.

    ``eventf(regarding, related, type, reason, action, note, *args)`` becomes the legacy
    ``eventf(regarding, type, reason, note, *args)``: **related and action are dropped**.
    """

    def __init__(self, recorder: record.EventRecorder) -> None:
        self.legacy = recorder

    def eventf(
        self,
        regarding: Any,
        related: Any,
        type: str,
        reason: str,
        action: str,
        note: str,
        *args: Any,
    ) -> None:
        self.legacy.eventf(regarding, type, reason, note, *args)

    def with_logger(self, logger: logging.Logger) -> EventRecorderAdapter:
        return EventRecorderAdapter(self.legacy.with_logger(logger))


class EventBroadcasterAdapter(AsyncShutdownOnExit):
    """A new-API broadcaster when the server serves events.k8s.io/v1, and always a legacy one.

    Made by ``new_event_broadcaster_adapter``. ``events_v1_broadcaster`` is None when the
    server does not serve events.k8s.io/v1; ``legacy_broadcaster`` always exists. ``async with``
    shuts both down on exit.
    """

    def __init__(
        self,
        client: KubeClient,
        *,
        events_v1: bool,
        clock: Clock | None = None,
        sleep_duration: float = DEFAULT_SLEEP_DURATION,
        sleep: SleepFunc | None = None,
    ) -> None:
        self.client = client
        self.events_v1_broadcaster: EventBroadcaster | None = None
        if events_v1:
            self.events_v1_broadcaster = EventBroadcaster(
                KubeEventSink(client), sleep_duration=sleep_duration, clock=clock, sleep=sleep
            )
        # Made even when unused, as client-go does: deprecated_new_legacy_recorder needs it.
        self.legacy_broadcaster = record.EventBroadcaster(
            sleep_duration=sleep_duration, clock=clock, sleep=sleep
        )

    @property
    def uses_events_v1(self) -> bool:
        """True when ``new_recorder`` records events.k8s.io/v1 Events."""
        return self.events_v1_broadcaster is not None

    def start_recording_to_sink(self) -> None:
        """Start both broadcasters: the new one to its sink, the legacy one to core/v1 Events
        in all namespaces."""
        if self.events_v1_broadcaster is not None:
            self.events_v1_broadcaster.start_recording_to_sink()
        self.legacy_broadcaster.start_recording_to_sink(record.KubeEventSink(self.client))

    def new_recorder(self, name: str) -> EventRecorder:
        """The new API's recorder with reportingController ``name``; without the new API, the
        legacy recorder of component ``name`` behind ``EventRecorderAdapter``."""
        if self.events_v1_broadcaster is not None:
            return self.events_v1_broadcaster.new_recorder(name)
        return EventRecorderAdapter(self.deprecated_new_legacy_recorder(name))

    def deprecated_new_legacy_recorder(self, name: str) -> record.Recorder:
        """Always the legacy core/v1 recorder, with source component ``name``."""
        return self.legacy_broadcaster.new_recorder(EventSource(component=name))

    async def aflush(self, timeout: float | None = None) -> bool:  # noqa: ASYNC109 - as flush()
        """Flush both broadcasters (see ``EventBroadcaster.aflush``)."""
        flushes = [self.legacy_broadcaster.aflush(timeout)]
        if self.events_v1_broadcaster is not None:
            flushes.append(self.events_v1_broadcaster.aflush(timeout))
        return all(await asyncio.gather(*flushes))

    async def ashutdown(self, timeout: float | None = None) -> ShutdownReport:  # noqa: ASYNC109
        """Shut both down, side by side; the report adds up theirs."""
        shutdowns = [self.legacy_broadcaster.ashutdown(timeout)]
        if self.events_v1_broadcaster is not None:
            shutdowns.append(self.events_v1_broadcaster.ashutdown(timeout))
        return _combine(await asyncio.gather(*shutdowns))

    def shutdown(self, timeout: float | None = None) -> ShutdownReport:
        """``ashutdown`` for another thread than the one running the broadcasters' loop."""
        reports = [self.legacy_broadcaster.shutdown(timeout)]
        if self.events_v1_broadcaster is not None:
            reports.append(self.events_v1_broadcaster.shutdown(timeout))
        return _combine(reports)


def _combine(reports: list[ShutdownReport]) -> ShutdownReport:
    return ShutdownReport(
        delivered=sum(r.delivered for r in reports),
        dropped=sum(r.dropped for r in reports),
        timed_out=any(r.timed_out for r in reports),
    )


async def new_event_broadcaster_adapter(
    client: KubeClient,
    *,
    clock: Clock | None = None,
    sleep_duration: float = DEFAULT_SLEEP_DURATION,
    sleep: SleepFunc | None = None,
) -> EventBroadcasterAdapter:
    """``NewEventBroadcasterAdapter``: asks the server whether it serves events.k8s.io/v1.

    Any discovery failure means no, as in client-go. Call it inside the event loop that will
    run the broadcasters (they use the running loop, like ``client``).
    """
    try:
        events_v1 = await client.has_api(EVENTS_V1_GROUP_VERSION)
    except Exception as exc:
        log.info("Discovery of %s failed, using core/v1 Events: %s", EVENTS_V1_GROUP_VERSION, exc)
        events_v1 = False
    return EventBroadcasterAdapter(
        client, events_v1=events_v1, clock=clock, sleep_duration=sleep_duration, sleep=sleep
    )

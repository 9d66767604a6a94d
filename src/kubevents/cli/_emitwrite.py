"""The one write of ``kubevents emit``: the Event made by the recorders' own code, counted
against the state file as the recorders count against memory, then created or patched.

core/v1 goes through client-go's correlator and ``record_to_sink`` (its retries included), with
the dedup cache filled from the state. events.k8s.io/v1 goes through the EventSeries cache: the
2nd occurrence patches the series as client-go does at once; a recorder would write later
counts at its next heartbeat or finish pass, which a one-shot process never reaches, so each
later run patches the count it observed, as a finish pass would.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from kubevents import events, record
from kubevents.cli._emitstate import EmitState
from kubevents.clock import RealClock
from kubevents.errors import KubeError, StatusError
from kubevents.kube import KubeClient
from kubevents.model import Event, EventSource, EventsV1Event, go_json

__all__ = ["write_core", "write_events_v1"]

# record_to_sink's waits between retries of a transport failure: 12 tries within ~15 s, not the
# recorder's 2 minutes, since a job is waiting.
_RETRY_SLEEP = 1.0
# The recorders' log lines would repeat the one-line error on stderr: emit's own logger keeps
# them (a user who wants them can attach a handler).
_quiet = logging.getLogger("kubevents.cli.emit")
_quiet.addHandler(logging.NullHandler())
_quiet.propagate = False

_E = TypeVar("_E", Event, EventsV1Event)


class _Writes(Generic[_E]):
    """A sink that remembers its last verb, reply and error (the recorders keep neither)."""

    def __init__(self, sink: Any) -> None:
        self._sink = sink
        self.verb = ""
        self.written: _E | None = None
        self.error: Exception | None = None

    async def _call(self, verb: str, call: Awaitable[_E]) -> _E:
        try:
            result = await call
        except Exception as exc:
            self.error = exc
            raise
        self.verb, self.written, self.error = verb, result, None
        return result

    async def create(self, event: _E) -> _E:
        return await self._call("created", self._sink.create(event))

    async def update(self, event: _E) -> _E:
        return await self._call("updated", self._sink.update(event))

    async def patch(self, event: _E, patch: bytes) -> _E:
        return await self._call("patched", self._sink.patch(event, patch))


class _Made(Generic[_E]):
    """The recorder's submit function: keeps the event the recorder made."""

    def __init__(self) -> None:
        self.events: list[_E] = []

    def __call__(self, event: _E, logger: logging.Logger) -> bool:
        self.events.append(event)
        return True


def _one(made: list[_E]) -> _E:
    if not made:  # the recorder logged why (an unreferenceable object)
        raise KubeError("the event could not be made")
    return made[0]


async def write_core(
    kube: KubeClient, state: EmitState, obj: Any, options: dict[str, Any]
) -> tuple[str, Event]:
    made: _Made[Event] = _Made()
    source = EventSource(component=options["component"], host=options["instance"] or "")
    recorder = record.Recorder(source, RealClock(), made, lambda: None, _quiet)
    recorder.event(obj, options["event_type"], options["reason"], options["message"])
    correlator = record.EventCorrelator()
    for earlier in state.core:
        correlator.update_state(earlier)
    sink: _Writes[Event] = _Writes(record.KubeEventSink(kube))
    outcome = await record.record_to_sink(
        sink, _one(made.events), correlator, _RETRY_SLEEP, logger=_quiet
    )
    if outcome is not record.RecordOutcome.WRITTEN or sink.written is None:
        raise sink.error or KubeError(f"the event was not written ({outcome.value})")
    return sink.verb, sink.written


async def write_events_v1(
    kube: KubeClient, state: EmitState, obj: Any, options: dict[str, Any]
) -> tuple[str, EventsV1Event]:
    made: _Made[EventsV1Event] = _Made()
    controller = options["component"]
    recorder = events.Recorder(
        controller,
        options["instance"] or events.reporting_instance_for(controller),
        RealClock(),
        made,
        lambda: None,
        _quiet,
    )
    reason = options["reason"]
    recorder.eventf(
        obj, None, options["event_type"], reason, options["action"] or reason, options["message"]
    )
    event = _one(made.events)
    cache = events.EventSeriesCache({events.get_key(e): e for e in state.events_v1})
    to_send = cache.observe(event, datetime.now(UTC)) or cache.get(events.get_key(event))
    assert to_send is not None  # observe() stored it
    sink: _Writes[EventsV1Event] = _Writes(events.KubeEventSink(kube))
    if to_send.series is None:
        await sink.create(to_send)
    else:
        series = to_send.series
        patch = go_json(
            {"series": {"count": series.count, "lastObservedTime": series.last_observed_time}}
        )
        try:
            await sink.patch(to_send, patch)
        except StatusError as exc:
            if exc.code != 404:
                raise
            # Forgotten by the server (the Events' TTL): created again, series included.
            to_send.metadata.resource_version = ""
            await sink.create(to_send)
    assert sink.written is not None
    return sink.verb, sink.written

"""Writing events.k8s.io/v1 Events: client-go ``tools/events``' ``recordEvent``,
``attemptRecording`` and ``EventSinkImpl``.

The error classes decide, as in client-go: ``RequestConstructionError`` and a ``StatusError`` are
final, except AlreadyExists for an event with a series (its patch found nothing, and the create
then raced with the original create: trying again patches it); ``UnexpectedObjectError`` and
every other error are retried, at most ``MAX_TRIES_PER_EVENT`` times, every wait jittered.
"""

from __future__ import annotations

import asyncio
import copy
import logging
import os
import random
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from kubevents._recorderbase.aio import SleepFunc
from kubevents._recorderbase.sinks import (
    MAX_TRIES_PER_EVENT,
    ApiSinkBase,
    Attempt,
    RecordOutcome,
    classify_failure,
    patch_or_create,
    retry_writes,
)
from kubevents.errors import StatusError
from kubevents.kube import EventsAPI, KubeClient
from kubevents.model import EventsV1Event, go_json

__all__ = [
    "DEFAULT_SLEEP_DURATION",
    "MAX_TRIES_PER_EVENT",
    "RETRY_JITTER_FACTOR",
    "EventSink",
    "KubeEventSink",
    "attempt_recording",
    "create_patch_bytes_for_series",
    "deep_copy_event",
    "describe",
    "jitter",
    "record_event",
]

log = logging.getLogger("kubevents.events")

DEFAULT_SLEEP_DURATION = 10.0
# wait.Jitter(sleepDuration, 0.25): every wait is in [sleep, 1.25 * sleep).
RETRY_JITTER_FACTOR = 0.25
_STATUS_REASON_ALREADY_EXISTS = "AlreadyExists"


@runtime_checkable
class EventSink(Protocol):
    """Where events.k8s.io/v1 Events are stored (client-go's ``events.EventSink``).

    It must honour the event's namespace. Errors should be ``kubevents.errors`` classes: they
    decide whether an event is retried.
    """

    async def create(self, event: EventsV1Event) -> EventsV1Event: ...

    async def update(self, event: EventsV1Event) -> EventsV1Event: ...

    async def patch(self, event: EventsV1Event, patch: bytes) -> EventsV1Event: ...


def deep_copy_event(event: EventsV1Event) -> EventsV1Event:
    """Go's ``event.DeepCopy()``."""
    return copy.deepcopy(event)


def describe(event: EventsV1Event) -> str:
    ref = event.regarding
    series = f", series count {event.series.count}" if event.series is not None else ""
    return (
        f"{event.metadata.namespace}/{event.metadata.name} ({event.type} {event.reason} "
        f"{event.action!r} about {ref.kind} {ref.namespace}/{ref.name}{series})"
    )


def create_patch_bytes_for_series(event: EventsV1Event) -> bytes:
    """The two-way strategic merge patch from ``event`` without its series to ``event``.

    Only ``series`` differs, and it is a plain struct, so the patch is always
    ``{"series":{"count":N,"lastObservedTime":"<MicroTime>"}}`` (``null`` for a zero time).
    """
    series = event.series
    if series is None:
        # Both sides equal: strategic merge's empty patch.
        return b"{}"
    return go_json(
        {"series": {"count": series.count, "lastObservedTime": series.last_observed_time}}
    )


async def record_event(
    sink: EventSink, event: EventsV1Event, logger: logging.Logger | None = None
) -> tuple[EventsV1Event | None, bool]:
    """One attempt: patch a series (create if the server has none), create a singleton.

    Returns ``(the server's event, or None on failure; retry)``, client-go's pair. Like
    client-go it clears ``event``'s resourceVersion before a create.
    """
    recorded, attempt = await _record(sink, event, logger or log)
    return recorded, attempt is Attempt.RETRY


async def _record(
    sink: EventSink, event: EventsV1Event, logger: logging.Logger
) -> tuple[EventsV1Event | None, Attempt]:
    is_series = event.series is not None
    patch: bytes | None = None
    if is_series:
        try:
            patch = create_patch_bytes_for_series(event)
        except Exception:
            logger.exception("Unable to calculate diff, no merge is possible: %s", describe(event))
            return None, Attempt.REJECTED
    # An event with a series whose event expired (its TTL) is created, series included.
    new_event, err = await patch_or_create(sink, event, patch)
    if err is None:
        return new_event, Attempt.WRITTEN

    def status(err: StatusError) -> Attempt:
        if err.reason == _STATUS_REASON_ALREADY_EXISTS:
            if is_series:
                # The patch found no event and our create lost the race with the original
                # one: the event exists now, so the next attempt's patch will work.
                logger.info("Event exists now, will patch it after sleeping: %s", describe(event))
                return Attempt.RETRY
            logger.debug("Server rejected event (will not retry!): %s: %s", describe(event), err)
        else:
            logger.error("Server rejected event (will not retry!): %s: %s", describe(event), err)
        return Attempt.REJECTED

    return None, classify_failure(err, status, describe(event), logger)


def jitter(duration: float, max_factor: float, rand: Callable[[], float] = random.random) -> float:
    """apimachinery's ``wait.Jitter``: ``duration`` plus up to ``max_factor`` of it."""
    if max_factor <= 0.0:
        max_factor = 1.0
    return duration + rand() * max_factor * duration


async def attempt_recording(
    sink: EventSink,
    event: EventsV1Event,
    sleep_duration: float = DEFAULT_SLEEP_DURATION,
    *,
    stopping: asyncio.Event | None = None,
    sleep: SleepFunc = asyncio.sleep,
    rand: Callable[[], float] = random.random,
    logger: logging.Logger | None = None,
) -> RecordOutcome:
    """client-go's ``attemptRecording``: ``record_event`` until done, at most 12 times.

    Every wait is ``jitter(sleep_duration, 0.25)``. Once ``stopping`` is set, a failed attempt
    is not retried (the first attempt is always made).
    """
    log_to = logger or log

    async def write() -> Attempt:
        _, attempt = await _record(sink, event, log_to)
        return attempt

    return await retry_writes(
        write,
        lambda tries: jitter(sleep_duration, RETRY_JITTER_FACTOR, rand),
        stopping=stopping,
        sleep=sleep,
        describe=lambda: describe(event),
        logger=log_to,
    )


class KubeEventSink(ApiSinkBase[EventsV1Event]):
    """The API sink: events.k8s.io/v1 Events through ``KubeClient.events_v1``.

    Like client-go's ``events.EventSinkImpl``: each call goes to the event's namespace, an event
    without one fails with a plain (so retried) error, and patches are strategic-merge.
    """

    @classmethod
    def from_kubeconfig(
        cls,
        kubeconfig: str | os.PathLike[str] | None = None,
        context: str | None = None,
        **connect_kwargs: Any,
    ) -> KubeEventSink:
        """A sink that connects on first use, on whichever event loop writes the events.

        For code without an event loop: the broadcaster's own loop thread then creates (and at
        shutdown closes) the client. Arguments are ``KubeClient.connect``'s.
        """
        return cls._connecting(kubeconfig, context, connect_kwargs)

    def _api(self, client: KubeClient) -> EventsAPI[EventsV1Event]:
        return client.events_v1

    def _check_namespace(self, event: EventsV1Event, verb: str) -> None:
        if not event.metadata.namespace:
            # Deliberately not a kubevents error: client-go returns a plain error here, which
            # the recorder retries.
            raise ValueError(f"can't {verb} an event with empty namespace")

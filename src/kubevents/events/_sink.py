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
import enum
import logging
import os
import random
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, runtime_checkable

from kubevents.errors import RequestConstructionError, StatusError
from kubevents.kube import CONTENT_TYPE_STRATEGIC_MERGE_PATCH, KubeClient
from kubevents.model import EventsV1Event, go_json
from kubevents.record import RecordOutcome, SleepFunc
from kubevents.record._util import is_key_not_found_error

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

MAX_TRIES_PER_EVENT = 12
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


class _Attempt(enum.Enum):
    WRITTEN = 0
    REJECTED = 1
    RETRY = 2


async def record_event(
    sink: EventSink, event: EventsV1Event, logger: logging.Logger | None = None
) -> tuple[EventsV1Event | None, bool]:
    """One attempt: patch a series (create if the server has none), create a singleton.

    Returns ``(the server's event, or None on failure; retry)``, client-go's pair. Like
    client-go it clears ``event``'s resourceVersion before a create.
    """
    recorded, attempt = await _record(sink, event, logger or log)
    return recorded, attempt is _Attempt.RETRY


async def _record(
    sink: EventSink, event: EventsV1Event, logger: logging.Logger
) -> tuple[EventsV1Event | None, _Attempt]:
    new_event: EventsV1Event | None = None
    err: Exception | None = None
    is_series = event.series is not None
    if is_series:
        try:
            patch = create_patch_bytes_for_series(event)
        except Exception:
            logger.exception("Unable to calculate diff, no merge is possible: %s", describe(event))
            return None, _Attempt.REJECTED
        try:
            new_event = await sink.patch(event, patch)
        except Exception as exc:
            err = exc
    # The event may have been deleted (its TTL expired) since: create it, series included.
    if not is_series or is_key_not_found_error(err):
        event.metadata.resource_version = ""
        try:
            new_event = await sink.create(event)
            err = None
        except Exception as exc:
            err = exc
    if err is None:
        return new_event, _Attempt.WRITTEN

    # The concrete class decides, as in client-go; a wrapped error is not unwrapped.
    if isinstance(err, RequestConstructionError):
        logger.error("Unable to construct event (will not retry!): %s: %s", describe(event), err)
        return None, _Attempt.REJECTED
    if isinstance(err, StatusError):
        if err.reason == _STATUS_REASON_ALREADY_EXISTS:
            if is_series:
                # The patch found no event and our create lost the race with the original
                # one: the event exists now, so the next attempt's patch will work.
                logger.info("Event exists now, will patch it after sleeping: %s", describe(event))
                return None, _Attempt.RETRY
            logger.debug("Server rejected event (will not retry!): %s: %s", describe(event), err)
        else:
            logger.error("Server rejected event (will not retry!): %s: %s", describe(event), err)
        return None, _Attempt.REJECTED
    # UnexpectedObjectError (a reply matching no known pattern) and everything else, transport
    # failures included, are worth another try.
    logger.error(
        "Unable to write event (may retry after sleeping): %s: %s: %s",
        describe(event), type(err).__name__, err,
    )  # fmt: skip
    return None, _Attempt.RETRY


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
    logger = logger or log
    tries = 0
    while True:
        _, attempt = await _record(sink, event, logger)
        if attempt is _Attempt.WRITTEN:
            return RecordOutcome.WRITTEN
        if attempt is _Attempt.REJECTED:
            return RecordOutcome.REJECTED
        tries += 1
        if tries >= MAX_TRIES_PER_EVENT:
            logger.error("Unable to write event (retry limit exceeded!): %s", describe(event))
            return RecordOutcome.RETRY_LIMIT
        delay = jitter(sleep_duration, RETRY_JITTER_FACTOR, rand)
        if await _interrupted_sleep(delay, stopping, sleep):
            logger.error("Unable to write event (broadcaster is shut down): %s", describe(event))
            return RecordOutcome.SHUT_DOWN


async def _interrupted_sleep(
    delay: float, stopping: asyncio.Event | None, sleep: SleepFunc
) -> bool:
    """Sleep ``delay``; True (give up) if ``stopping`` is or becomes set first."""
    if stopping is None:
        await sleep(delay)
        return False
    if stopping.is_set():
        return True
    sleeper = asyncio.ensure_future(sleep(delay))
    stopper = asyncio.ensure_future(stopping.wait())
    try:
        await asyncio.wait((sleeper, stopper), return_when=asyncio.FIRST_COMPLETED)
    finally:
        sleeper.cancel()
        stopper.cancel()
    return stopping.is_set()


class KubeEventSink:
    """The API sink: events.k8s.io/v1 Events through ``KubeClient.events_v1``.

    Like client-go's ``events.EventSinkImpl``: each call goes to the event's namespace, an event
    without one fails with a plain (so retried) error, and patches are strategic-merge.
    """

    def __init__(self, client: KubeClient) -> None:
        self._setup(client, None)

    def _setup(
        self, client: KubeClient | None, connect: Callable[[], Awaitable[KubeClient]] | None
    ) -> None:
        self._client = client
        self._connect = connect
        # Only a client this sink made itself is closed by aclose().
        self._owns_client = client is None
        self._lock: asyncio.Lock | None = None

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

        async def connect() -> KubeClient:
            return await KubeClient.connect(kubeconfig, context, **connect_kwargs)

        sink = cls.__new__(cls)
        sink._setup(None, connect)
        return sink

    async def client(self) -> KubeClient:
        if self._client is not None:
            return self._client
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._client is None:
                assert self._connect is not None
                self._client = await self._connect()
        return self._client

    @staticmethod
    def _check_namespace(event: EventsV1Event, verb: str) -> None:
        if not event.metadata.namespace:
            # Deliberately not a kubevents error: client-go returns a plain error here, which
            # the recorder retries.
            raise ValueError(f"can't {verb} an event with empty namespace")

    async def create(self, event: EventsV1Event) -> EventsV1Event:
        self._check_namespace(event, "create")
        client = await self.client()
        return await client.events_v1.create(event)

    async def update(self, event: EventsV1Event) -> EventsV1Event:
        self._check_namespace(event, "update")
        client = await self.client()
        return await client.events_v1.update(event)

    async def patch(self, event: EventsV1Event, patch: bytes) -> EventsV1Event:
        self._check_namespace(event, "patch")
        client = await self.client()
        return await client.events_v1.patch(
            event.metadata.namespace,
            event.metadata.name,
            patch,
            content_type=CONTENT_TYPE_STRATEGIC_MERGE_PATCH,
        )

    async def aclose(self) -> None:
        """Close the client if this sink created it (``from_kubeconfig``); else do nothing."""
        if self._owns_client and self._client is not None:
            client, self._client = self._client, None
            await client.close()

"""Writing correlated events to a sink: client-go's ``recordToSink`` and the API sink.

The retry policy is client-go's, class by class: a ``StatusError`` of any code and a
``RequestConstructionError`` are final; an ``UnexpectedObjectError`` and every other error
(transport failures, plain exceptions, errors that merely wrap a ``StatusError``) are retried,
for at most ``MAX_TRIES_PER_EVENT`` attempts. Only the first wait is jittered.
"""

from __future__ import annotations

import asyncio
import enum
import inspect
import logging
import os
import random
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, cast, runtime_checkable

import msgspec

from kubevents.errors import RequestConstructionError, StatusError
from kubevents.kube import CONTENT_TYPE_STRATEGIC_MERGE_PATCH, KubeClient
from kubevents.model import Event
from kubevents.record._correlator import EventCorrelator
from kubevents.record._util import is_key_not_found_error

__all__ = [
    "DEFAULT_SLEEP_DURATION",
    "MAX_TRIES_PER_EVENT",
    "NAMESPACE_TERMINATING_CAUSE",
    "EventSink",
    "KubeEventSink",
    "RecordOutcome",
    "SleepFunc",
    "close_sink",
    "record_to_sink",
]

log = logging.getLogger("kubevents.record")

MAX_TRIES_PER_EVENT = 12
DEFAULT_SLEEP_DURATION = 10.0
NAMESPACE_TERMINATING_CAUSE = "NamespaceTerminating"
_STATUS_REASON_ALREADY_EXISTS = "AlreadyExists"
_HTTP_TOO_MANY_REQUESTS = 429

SleepFunc = Callable[[float], Awaitable[None]]


@runtime_checkable
class EventSink(Protocol):
    """Where events are stored (client-go's ``EventSink``); must honour the event's namespace.

    Errors should be ``kubevents.errors`` classes: they decide whether an event is retried.
    """

    async def create(self, event: Event) -> Event: ...

    async def update(self, event: Event) -> Event: ...

    async def patch(self, event: Event, patch: bytes) -> Event: ...


class RecordOutcome(enum.Enum):
    """How ``record_to_sink`` finished with one event."""

    WRITTEN = "written"
    """Created or patched; the correlator now holds the server's copy."""
    SKIPPED = "skipped"
    """Dropped by the spam filter (or the correlator failed); no API call."""
    REJECTED = "rejected"
    """A final error (status or request construction): dropped without retry."""
    RETRY_LIMIT = "retry-limit"
    """Every one of the ``MAX_TRIES_PER_EVENT`` attempts failed with a retryable error."""
    SHUT_DOWN = "shut-down"
    """An attempt failed after the broadcaster shut down, so no retry was made."""


class _Attempt(enum.Enum):
    WRITTEN = 0
    REJECTED = 1
    RETRY = 2


async def record_to_sink(
    sink: EventSink,
    event: Event,
    correlator: EventCorrelator,
    sleep_duration: float = DEFAULT_SLEEP_DURATION,
    *,
    retry_server_errors: bool = False,
    stopping: asyncio.Event | None = None,
    sleep: SleepFunc = asyncio.sleep,
    rand: Callable[[], float] = random.random,
    logger: logging.Logger | None = None,
) -> RecordOutcome:
    """Correlate ``event`` and write it to ``sink`` with client-go's create/patch/retry rules.

    ``stopping`` is the broadcaster's shutdown signal: once set, a failed attempt is not retried
    (the first attempt is always made). ``retry_server_errors`` additionally retries 429 and 5xx
    status errors (client-go drops them). ``sleep`` and ``rand`` exist for tests.
    """
    logger = logger or log
    # Every watcher gets the same object; the correlator and the sink must not change it.
    event = _copy_event(event)
    try:
        result = correlator.correlate(event)
    except Exception:
        logger.exception("Event correlation failed")
        return RecordOutcome.SKIPPED
    if result.skip or result.event is None:
        return RecordOutcome.SKIPPED
    correlated = result.event

    tries = 0
    while True:
        attempt = await _record_event(
            sink, correlated, result.patch, correlated.count > 1, correlator,
            retry_server_errors, logger,
        )  # fmt: skip
        if attempt is _Attempt.WRITTEN:
            return RecordOutcome.WRITTEN
        if attempt is _Attempt.REJECTED:
            return RecordOutcome.REJECTED
        tries += 1
        if tries >= MAX_TRIES_PER_EVENT:
            logger.error("Unable to write event (retry limit exceeded!): %s", _describe(event))
            return RecordOutcome.RETRY_LIMIT
        # Only the first wait is random, so that clients cut off together do not come back
        # together; later waits are the full duration.
        delay = sleep_duration * rand() if tries == 1 else sleep_duration
        if await _interrupted_sleep(delay, stopping, sleep):
            logger.error("Unable to write event (broadcaster is shut down): %s", _describe(event))
            return RecordOutcome.SHUT_DOWN


async def _record_event(
    sink: EventSink,
    event: Event,
    patch: bytes | None,
    update_existing: bool,
    correlator: EventCorrelator,
    retry_server_errors: bool,
    logger: logging.Logger,
) -> _Attempt:
    new_event: Event | None = None
    err: Exception | None = None
    if update_existing:
        try:
            new_event = await sink.patch(event, patch or b"")
        except Exception as exc:
            err = exc
    # The event may have been deleted (or expired) on the server since: create it again, with
    # the accumulated count and the original name.
    if not update_existing or is_key_not_found_error(err):
        event.metadata.resource_version = ""
        try:
            new_event = await sink.create(event)
            err = None
        except Exception as exc:
            err = exc
    if err is None:
        if new_event is not None:
            correlator.update_state(new_event)
        return _Attempt.WRITTEN

    # The concrete class decides, as in client-go; a wrapped error is not unwrapped.
    if isinstance(err, RequestConstructionError):
        logger.error("Unable to construct event (will not retry!): %s: %s", _describe(event), err)
        return _Attempt.REJECTED
    if isinstance(err, StatusError):
        if retry_server_errors and (err.code == _HTTP_TOO_MANY_REQUESTS or 500 <= err.code <= 599):
            logger.error("Server error writing event (may retry after sleeping): %s", err)
            return _Attempt.RETRY
        if err.reason == _STATUS_REASON_ALREADY_EXISTS or err.has_cause(
            NAMESPACE_TERMINATING_CAUSE
        ):
            logger.debug("Server rejected event (will not retry!): %s: %s", _describe(event), err)
        else:
            logger.error("Server rejected event (will not retry!): %s: %s", _describe(event), err)
        return _Attempt.REJECTED
    # UnexpectedObjectError (a reply matching no known pattern: the write may well have worked)
    # and everything else, transport failures included, are worth another try.
    logger.error(
        "Unable to write event (may retry after sleeping): %s: %s: %s",
        _describe(event), type(err).__name__, err,
    )  # fmt: skip
    return _Attempt.RETRY


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


def _copy_event(event: Event) -> Event:
    """Go's ``eventCopy := *event``: embedded structs by value, maps and pointers shared."""
    return msgspec.structs.replace(
        event,
        metadata=msgspec.structs.replace(event.metadata),
        involved_object=msgspec.structs.replace(event.involved_object),
        source=msgspec.structs.replace(event.source),
    )


def _describe(event: Event) -> str:
    ref = event.involved_object
    return (
        f"{event.metadata.namespace}/{event.metadata.name} ({event.type} {event.reason} "
        f"about {ref.kind} {ref.namespace}/{ref.name}, count {event.count})"
    )


class KubeEventSink:
    """The API sink: core/v1 Events through ``KubeClient.events``, in the event's namespace.

    Patches are strategic-merge, as client-go sends them. ``namespace`` restricts the sink to
    one namespace like a namespaced client-go ``EventSinkImpl``: an event elsewhere fails with a
    plain (so retried) error, exactly as there.
    """

    def __init__(self, client: KubeClient, *, namespace: str | None = None) -> None:
        self._setup(client, None, namespace)

    def _setup(
        self,
        client: KubeClient | None,
        connect: Callable[[], Awaitable[KubeClient]] | None,
        namespace: str | None,
    ) -> None:
        self._client = client
        self._connect = connect
        # Only a client this sink made itself is closed by aclose().
        self._owns_client = client is None
        self._namespace = namespace or None
        self._lock: asyncio.Lock | None = None

    @classmethod
    def from_kubeconfig(
        cls,
        kubeconfig: str | os.PathLike[str] | None = None,
        context: str | None = None,
        *,
        namespace: str | None = None,
        **connect_kwargs: Any,
    ) -> KubeEventSink:
        """A sink that connects on first use, on whichever event loop writes the events.

        This is what code without an event loop needs: the broadcaster's own loop thread then
        creates (and at shutdown closes) the client. Arguments are ``KubeClient.connect``'s.
        """

        async def connect() -> KubeClient:
            return await KubeClient.connect(kubeconfig, context, **connect_kwargs)

        sink = cls.__new__(cls)
        sink._setup(None, connect, namespace)
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

    def _check_namespace(self, event: Event, verb: str) -> None:
        if self._namespace is not None and event.metadata.namespace != self._namespace:
            # Deliberately not a kubevents error: client-go returns a plain error here, which
            # the recorder retries.
            raise ValueError(
                f"can't {verb} an event with namespace {event.metadata.namespace!r} "
                f"in namespace {self._namespace!r}"
            )

    async def create(self, event: Event) -> Event:
        self._check_namespace(event, "create")
        client = await self.client()
        return await client.events.create(event)

    async def update(self, event: Event) -> Event:
        self._check_namespace(event, "update")
        client = await self.client()
        return await client.events.update(event)

    async def patch(self, event: Event, patch: bytes) -> Event:
        self._check_namespace(event, "patch")
        client = await self.client()
        # client-go sends an empty body as is (the server then answers 404 for a missing event,
        # which the recorder turns into a create); the adapter sends no body for None.
        body = patch if patch else cast(bytes, None)
        return await client.events.patch(
            event.metadata.namespace,
            event.metadata.name,
            body,
            content_type=CONTENT_TYPE_STRATEGIC_MERGE_PATCH,
        )

    async def aclose(self) -> None:
        """Close the client if this sink created it (``from_kubeconfig``); else do nothing."""
        if self._owns_client and self._client is not None:
            client, self._client = self._client, None
            await client.close()


async def close_sink(sink: EventSink) -> None:
    """Await ``sink.aclose()`` if the sink has one; a failure is only logged."""
    aclose = getattr(sink, "aclose", None)
    if aclose is None:
        return
    try:
        result = aclose()
        if inspect.isawaitable(result):
            await result
    except Exception:
        log.exception("Closing event sink %r failed", sink)

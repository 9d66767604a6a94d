"""What both recorders' sinks share: the write and its retries, the API sink, closing sinks.

client-go's ``tools/record`` (``recordToSink``) and ``tools/events`` (``attemptRecording``)
write an event the same way, and differ only in which ``StatusError`` they retry and in their
waits:

* ``patch_or_create``: patch when there is a patch, else create; a patch that finds no event
  (404) turns into a create in the same attempt, with the resourceVersion cleared;
* ``classify_failure``: the concrete error class decides, a wrapped error is not unwrapped:
  ``RequestConstructionError`` is final, a ``StatusError`` is the recorder's to judge, and
  everything else (``UnexpectedObjectError``, transport failures) is retried;
* ``retry_writes``: at most ``MAX_TRIES_PER_EVENT`` attempts; once the broadcaster is stopping,
  a failed attempt is not retried (the first attempt is always made).
"""

from __future__ import annotations

import asyncio
import enum
import inspect
import logging
import os
from collections.abc import Awaitable, Callable
from typing import Any, Generic, Protocol, Self, TypeVar

from kubevents._recorderbase.aio import SleepFunc, interruptible_sleep
from kubevents._recorderbase.util import is_key_not_found_error
from kubevents.errors import RequestConstructionError, StatusError
from kubevents.kube import CONTENT_TYPE_STRATEGIC_MERGE_PATCH, EventsAPI, KubeClient
from kubevents.model import Event, EventsV1Event

__all__ = [
    "MAX_TRIES_PER_EVENT",
    "ApiSinkBase",
    "Attempt",
    "RecordOutcome",
    "classify_failure",
    "close_sink",
    "patch_or_create",
    "retry_writes",
]

_E = TypeVar("_E", Event, EventsV1Event)

# client-go's maxTriesPerEvent, in both tools/record and tools/events.
MAX_TRIES_PER_EVENT = 12


class RecordOutcome(enum.Enum):
    """How a sink write of one event finished (``record_to_sink``, ``attempt_recording``)."""

    WRITTEN = "written"
    """Created or patched; the correlator (or the series cache) now holds the server's copy."""
    SKIPPED = "skipped"
    """Dropped by the spam filter (or the correlator failed); no API call."""
    REJECTED = "rejected"
    """A final error (status or request construction): dropped without retry."""
    RETRY_LIMIT = "retry-limit"
    """Every one of the ``MAX_TRIES_PER_EVENT`` attempts failed with a retryable error."""
    SHUT_DOWN = "shut-down"
    """An attempt failed after the broadcaster shut down, so no retry was made."""


class Attempt(enum.Enum):
    """How one write attempt ended."""

    WRITTEN = 0
    REJECTED = 1
    RETRY = 2


class EventWriter(Protocol[_E]):
    """What ``patch_or_create`` needs of a sink."""

    async def create(self, event: _E) -> _E: ...

    async def patch(self, event: _E, patch: bytes) -> _E: ...


async def patch_or_create(
    sink: EventWriter[_E], event: _E, patch: bytes | None
) -> tuple[_E | None, Exception | None]:
    """One write: ``(the server's event, None)`` or ``(None, the error)``; see the module doc.

    The event may have been deleted (or expired) on the server since it was first written: a
    404 on the patch creates it again, under its name and with what it accumulated.
    """
    new_event: _E | None = None
    err: Exception | None = None
    if patch is not None:
        try:
            new_event = await sink.patch(event, patch)
        except Exception as exc:
            err = exc
    if patch is None or is_key_not_found_error(err):
        event.metadata.resource_version = ""
        try:
            new_event = await sink.create(event)
            err = None
        except Exception as exc:
            err = exc
    return new_event, err


def classify_failure(
    err: Exception,
    status: Callable[[StatusError], Attempt],
    described: str,
    logger: logging.Logger,
) -> Attempt:
    """client-go's rule for a failed write; ``status`` judges a ``StatusError``."""
    if isinstance(err, RequestConstructionError):
        logger.error("Unable to construct event (will not retry!): %s: %s", described, err)
        return Attempt.REJECTED
    if isinstance(err, StatusError):
        return status(err)
    # UnexpectedObjectError (a reply matching no known pattern: the write may well have worked)
    # and everything else, transport failures included, are worth another try.
    logger.error(
        "Unable to write event (may retry after sleeping): %s: %s: %s",
        described,
        type(err).__name__,
        err,
    )
    return Attempt.RETRY


async def retry_writes(
    write: Callable[[], Awaitable[Attempt]],
    delay: Callable[[int], float],
    *,
    stopping: asyncio.Event | None,
    sleep: SleepFunc,
    describe: Callable[[], str],
    logger: logging.Logger,
) -> RecordOutcome:
    """``write`` until written or rejected: at most ``MAX_TRIES_PER_EVENT`` attempts.

    ``delay(tries)`` is the wait after the ``tries``-th failure. Once ``stopping`` is set a
    failed attempt is not retried; ``describe()`` names the event in the give-up lines.
    """
    tries = 0
    while True:
        attempt = await write()
        if attempt is Attempt.WRITTEN:
            return RecordOutcome.WRITTEN
        if attempt is Attempt.REJECTED:
            return RecordOutcome.REJECTED
        tries += 1
        if tries >= MAX_TRIES_PER_EVENT:
            logger.error("Unable to write event (retry limit exceeded!): %s", describe())
            return RecordOutcome.RETRY_LIMIT
        if await interruptible_sleep(delay(tries), stopping, sleep):
            logger.error("Unable to write event (broadcaster is shut down): %s", describe())
            return RecordOutcome.SHUT_DOWN


class ApiSinkBase(Generic[_E]):
    """An API sink (client-go's ``EventSinkImpl``): create, update and strategic-merge patch.

    The client is the ``KubeClient`` given, or one connected on first use: a client this sink
    connected itself (``_connecting``, behind ``from_kubeconfig``) is made on whichever event
    loop writes the events, and ``aclose()`` closes it; a client given to the constructor
    belongs to the caller and is never closed here. A subclass picks the API (``_api``) and
    may refuse events (``_check_namespace``, with a plain error, which the recorders retry).
    """

    def __init__(self, client: KubeClient) -> None:
        self._init_client(client, None)

    @classmethod
    def _connecting(
        cls,
        kubeconfig: str | os.PathLike[str] | None,
        context: str | None,
        connect_kwargs: dict[str, Any],
    ) -> Self:
        async def connect() -> KubeClient:
            return await KubeClient.connect(kubeconfig, context, **connect_kwargs)

        sink = cls.__new__(cls)
        sink._init_client(None, connect)
        return sink

    def _init_client(
        self, client: KubeClient | None, connect: Callable[[], Awaitable[KubeClient]] | None
    ) -> None:
        self._client = client
        self._connect = connect
        # Only a client this sink made itself is closed by aclose().
        self._owns_client = client is None
        self._lock: asyncio.Lock | None = None
        # Successful writes by verb, for the broadcaster's stats (read from any thread).
        self.api_writes = {"create": 0, "patch": 0}

    async def client(self) -> KubeClient:
        """The client, connecting it on first use (``from_kubeconfig``)."""
        if self._client is not None:
            return self._client
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._client is None:
                assert self._connect is not None
                self._client = await self._connect()
        return self._client

    def _api(self, client: KubeClient) -> EventsAPI[_E]:
        raise NotImplementedError

    def _check_namespace(self, event: _E, verb: str) -> None:
        """Raise a plain error if this sink may not ``verb`` ``event`` (its namespace)."""

    def _patch_body(self, patch: bytes) -> bytes:
        return patch

    async def create(self, event: _E) -> _E:
        self._check_namespace(event, "create")
        client = await self.client()
        created = await self._api(client).create(event)
        self.api_writes["create"] += 1
        return created

    async def update(self, event: _E) -> _E:
        self._check_namespace(event, "update")
        client = await self.client()
        return await self._api(client).update(event)

    async def patch(self, event: _E, patch: bytes) -> _E:
        self._check_namespace(event, "patch")
        client = await self.client()
        patched = await self._api(client).patch(
            event.metadata.namespace,
            event.metadata.name,
            self._patch_body(patch),
            content_type=CONTENT_TYPE_STRATEGIC_MERGE_PATCH,
        )
        self.api_writes["patch"] += 1
        return patched

    async def aclose(self) -> None:
        """Close the client if this sink created it (``from_kubeconfig``); else do nothing."""
        if self._owns_client and self._client is not None:
            client, self._client = self._client, None
            await client.close()


async def close_sink(sink: object, log: logging.Logger) -> None:
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

"""Writing correlated events to a sink: client-go's ``recordToSink`` and the API sink.

The retry policy is client-go's, class by class: a ``StatusError`` of any code and a
``RequestConstructionError`` are final; an ``UnexpectedObjectError`` and every other error
(transport failures, plain exceptions, errors that merely wrap a ``StatusError``) are retried,
for at most ``MAX_TRIES_PER_EVENT`` attempts. Only the first wait is jittered.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
from collections.abc import Callable
from typing import Any, Protocol, cast, runtime_checkable

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
from kubevents.model import Event
from kubevents.record._correlator import EventCorrelator
from kubevents.record._dedup import shallow_copy

__all__ = [
    "DEFAULT_SLEEP_DURATION",
    "MAX_TRIES_PER_EVENT",
    "NAMESPACE_TERMINATING_CAUSE",
    "EventSink",
    "KubeEventSink",
    "record_to_sink",
]

log = logging.getLogger("kubevents.record")

DEFAULT_SLEEP_DURATION = 10.0
NAMESPACE_TERMINATING_CAUSE = "NamespaceTerminating"
_STATUS_REASON_ALREADY_EXISTS = "AlreadyExists"
_HTTP_TOO_MANY_REQUESTS = 429


@runtime_checkable
class EventSink(Protocol):
    """Where events are stored (client-go's ``EventSink``); must honour the event's namespace.

    Errors should be ``kubevents.errors`` classes: they decide whether an event is retried.
    """

    async def create(self, event: Event) -> Event: ...

    async def update(self, event: Event) -> Event: ...

    async def patch(self, event: Event, patch: bytes) -> Event: ...


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
    log_to = logger or log
    # Every watcher gets the same object; the correlator and the sink must not change it.
    event = shallow_copy(event)
    try:
        result = correlator.correlate(event)
    except Exception:
        log_to.exception("Event correlation failed")
        return RecordOutcome.SKIPPED
    if result.skip or result.event is None:
        return RecordOutcome.SKIPPED
    correlated = result.event
    # A repeat (count > 1) is patched; the first occurrence is created.
    patch = (result.patch or b"") if correlated.count > 1 else None

    def status(err: StatusError) -> Attempt:
        if retry_server_errors and (err.code == _HTTP_TOO_MANY_REQUESTS or 500 <= err.code <= 599):
            log_to.error("Server error writing event (may retry after sleeping): %s", err)
            return Attempt.RETRY
        if err.reason == _STATUS_REASON_ALREADY_EXISTS or err.has_cause(
            NAMESPACE_TERMINATING_CAUSE
        ):
            log_to.debug(
                "Server rejected event (will not retry!): %s: %s", _describe(correlated), err
            )
        else:
            log_to.error(
                "Server rejected event (will not retry!): %s: %s", _describe(correlated), err
            )
        return Attempt.REJECTED

    async def write() -> Attempt:
        new_event, err = await patch_or_create(sink, correlated, patch)
        if err is None:
            if new_event is not None:
                correlator.update_state(new_event)
            return Attempt.WRITTEN
        return classify_failure(err, status, _describe(correlated), log_to)

    def delay(tries: int) -> float:
        # Only the first wait is random, so that clients cut off together do not come back
        # together; later waits are the full duration.
        return sleep_duration * rand() if tries == 1 else sleep_duration

    return await retry_writes(
        write,
        delay,
        stopping=stopping,
        sleep=sleep,
        describe=lambda: _describe(event),
        logger=log_to,
    )


def _describe(event: Event) -> str:
    ref = event.involved_object
    return (
        f"{event.metadata.namespace}/{event.metadata.name} ({event.type} {event.reason} "
        f"about {ref.kind} {ref.namespace}/{ref.name}, count {event.count})"
    )


class KubeEventSink(ApiSinkBase[Event]):
    """The API sink: core/v1 Events through ``KubeClient.events``, in the event's namespace.

    Patches are strategic-merge, as client-go sends them. ``namespace`` restricts the sink to
    one namespace like a namespaced client-go ``EventSinkImpl``: an event elsewhere fails with a
    plain (so retried) error, exactly as there.
    """

    def __init__(self, client: KubeClient, *, namespace: str | None = None) -> None:
        super().__init__(client)
        self._namespace = namespace or None

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
        sink = cls._connecting(kubeconfig, context, connect_kwargs)
        sink._namespace = namespace or None
        return sink

    def _check_namespace(self, event: Event, verb: str) -> None:
        if self._namespace is not None and event.metadata.namespace != self._namespace:
            # Deliberately not a kubevents error: client-go returns a plain error here, which
            # the recorder retries.
            raise ValueError(
                f"can't {verb} an event with namespace {event.metadata.namespace!r} "
                f"in namespace {self._namespace!r}"
            )

    def _api(self, client: KubeClient) -> EventsAPI[Event]:
        return client.events

    def _patch_body(self, patch: bytes) -> bytes:
        # client-go sends an empty body as is (the server then answers 404 for a missing event,
        # which the recorder turns into a create); the adapter sends no body for None.
        return patch if patch else cast(bytes, None)

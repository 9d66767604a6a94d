"""``record_to_sink``: client-go's TestWriteEventError, TestUpdateExpiredEvent, TestCancelEvent
and the create/patch/error-class rules of recordEvent."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import msgspec
import pytest

from kubevents.clock import FakeClock
from kubevents.errors import (
    GoneError,
    RequestConstructionError,
    StatusError,
    TransportError,
    UnexpectedObjectError,
)
from kubevents.model import Event, EventSource, ObjectMeta, ObjectReference, Time
from kubevents.record import (
    MAX_TRIES_PER_EVENT,
    CorrelatorOptions,
    EventCorrelator,
    KubeEventSink,
    RecordOutcome,
    record_to_sink,
)

if TYPE_CHECKING:
    from record.conftest import FakeSink

SLEEP_DURATION = 10.0
START = datetime(2024, 1, 1, tzinfo=UTC)


class Sleeps:
    """An injected sleep: records the requested delays and returns at once."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def correlator() -> EventCorrelator:
    return EventCorrelator(CorrelatorOptions(clock=FakeClock(START)))


def failing(err: Exception, times: int) -> Callable[[Event], Awaitable[Event]]:
    """An ``on_create`` that fails ``times`` times, then succeeds."""
    attempts = 0

    async def create(event: Event) -> Event:
        nonlocal attempts
        attempts += 1
        if attempts <= times:
            raise err
        return event

    return create


def make_event(count: int = 1, message: str = "m") -> Event:
    now = Time.of(START)
    return Event(
        metadata=ObjectMeta(name="foo.17a", namespace="ns"),
        involved_object=ObjectReference(kind="Pod", namespace="ns", name="foo", api_version="v1"),
        reason="Started",
        message=message,
        source=EventSource(component="eventTest"),
        first_timestamp=now,
        last_timestamp=now,
        count=count,
        type="Normal",
        reporting_controller="eventTest",
    )


@pytest.mark.parametrize(
    ("err", "times", "attempts"),
    [
        pytest.param(RequestConstructionError("bad"), 1000, 1, id="giveUp1"),
        pytest.param(StatusError(0), 1000, 1, id="giveUp2"),
        pytest.param(UnexpectedObjectError("odd"), 1000, MAX_TRIES_PER_EVENT, id="retry1"),
        pytest.param(ValueError("A weird error"), 1000, MAX_TRIES_PER_EVENT, id="retry2"),
        pytest.param(ValueError("A weird error"), 1, 2, id="succeedEventually"),
    ],
)
async def test_write_event_error(
    err: Exception, times: int, attempts: int, make_sink: type[FakeSink]
) -> None:
    sink = make_sink(on_create=failing(err, times))
    sleeps = Sleeps()
    await record_to_sink(sink, Event(), correlator(), SLEEP_DURATION, sleep=sleeps)
    assert sink.verbs() == ["create"] * attempts
    assert len(sleeps.delays) == attempts - 1


async def test_retry_waits_first_jittered_then_full(make_sink: type[FakeSink]) -> None:
    sink = make_sink(on_create=failing(TransportError("refused"), 1000))
    sleeps = Sleeps()
    outcome = await record_to_sink(
        sink, make_event(), correlator(), SLEEP_DURATION, sleep=sleeps, rand=lambda: 0.25
    )
    assert outcome is RecordOutcome.RETRY_LIMIT
    # 12 attempts, 11 waits: only the first is randomised (sleep_duration * U[0,1)).
    assert sleeps.delays == [2.5] + [SLEEP_DURATION] * (MAX_TRIES_PER_EVENT - 2)


async def test_update_expired_event(make_sink: type[FakeSink]) -> None:
    # A Count >= 2 event that the correlator has never seen is patched (with an empty patch);
    # the 404 makes it a create, with the resourceVersion cleared.
    async def not_found(event: Event, patch: bytes) -> Event:
        raise StatusError(404, "NotFound")

    sink = make_sink(on_patch=not_found)
    event = Event(metadata=ObjectMeta(resource_version="updated-resource-version"), count=2)
    outcome = await record_to_sink(sink, event, correlator(), SLEEP_DURATION, sleep=Sleeps())
    assert outcome is RecordOutcome.WRITTEN
    assert sink.verbs() == ["patch", "create"]
    assert sink.calls[0].patch == b""
    created = sink.calls[1].event
    assert created.metadata.resource_version == ""
    assert created.count == 2


async def test_cancel_event(make_sink: type[FakeSink]) -> None:
    # Shut down before recording: the first attempt is still made, then no retry.
    sink = make_sink(on_create=failing(UnexpectedObjectError("odd"), 1000))
    stopping = asyncio.Event()
    stopping.set()
    sleeps = Sleeps()
    outcome = await record_to_sink(
        sink, Event(), correlator(), 1.0, stopping=stopping, sleep=sleeps
    )
    assert outcome is RecordOutcome.SHUT_DOWN
    assert sink.verbs() == ["create"]
    assert sleeps.delays == []


async def test_shutdown_during_retry_wait_gives_up(make_sink: type[FakeSink]) -> None:
    sink = make_sink(on_create=failing(TransportError("refused"), 1000))
    stopping = asyncio.Event()
    entered = asyncio.Event()

    async def sleep_forever(delay: float) -> None:
        entered.set()
        await asyncio.Event().wait()

    task = asyncio.create_task(
        record_to_sink(sink, Event(), correlator(), 1.0, stopping=stopping, sleep=sleep_forever)
    )
    await entered.wait()
    stopping.set()
    assert await task is RecordOutcome.SHUT_DOWN
    assert sink.verbs() == ["create"]


async def test_patch_not_found_recreates_in_the_same_attempt(make_sink: type[FakeSink]) -> None:
    async def not_found(event: Event, patch: bytes) -> Event:
        raise StatusError(404, "NotFound", 'events "foo.17a" not found')

    sink = make_sink(on_patch=not_found)
    corr = correlator()
    sleeps = Sleeps()
    first = make_event()
    assert await record_to_sink(sink, first, corr, sleep=sleeps) is RecordOutcome.WRITTEN
    # The server's copy has a resourceVersion; the repeat carries it into the patch.
    corr.update_state(
        msgspec.structs.replace(
            first, metadata=ObjectMeta(name="foo.17a", namespace="ns", resource_version="7")
        )
    )
    assert await record_to_sink(sink, make_event(), corr, sleep=sleeps) is RecordOutcome.WRITTEN
    assert sink.verbs() == ["create", "patch", "create"]
    patched, recreated = sink.calls[1].event, sink.calls[2].event
    assert patched.metadata.resource_version == "7"
    assert recreated.metadata.resource_version == ""
    assert (recreated.metadata.name, recreated.count) == ("foo.17a", 2)
    assert sleeps.delays == []


async def test_not_found_is_code_404_only(make_sink: type[FakeSink]) -> None:
    # Reason NotFound with another code is just a status error: dropped, no create.
    async def odd_not_found(event: Event, patch: bytes) -> Event:
        raise StatusError(500, "NotFound")

    sink = make_sink(on_patch=odd_not_found)
    outcome = await record_to_sink(sink, make_event(count=2), correlator(), sleep=Sleeps())
    assert outcome is RecordOutcome.REJECTED
    assert sink.verbs() == ["patch"]


async def test_patch_404_and_create_failing_retries_both_twelve_times(
    make_sink: type[FakeSink],
) -> None:
    async def not_found(event: Event, patch: bytes) -> Event:
        raise StatusError(404, "NotFound")

    sink = make_sink(on_create=failing(TransportError("reset"), 1000), on_patch=not_found)
    outcome = await record_to_sink(sink, make_event(count=3), correlator(), sleep=Sleeps())
    assert outcome is RecordOutcome.RETRY_LIMIT
    assert sink.verbs() == ["patch", "create"] * MAX_TRIES_PER_EVENT


@pytest.mark.parametrize(
    ("err", "retry_server_errors", "attempts"),
    [
        (StatusError(500, "InternalError"), False, 1),
        (StatusError(503, "ServiceUnavailable"), False, 1),
        (StatusError(429, "TooManyRequests"), False, 1),
        (StatusError(500, "InternalError"), True, MAX_TRIES_PER_EVENT),
        (StatusError(429, "TooManyRequests"), True, MAX_TRIES_PER_EVENT),
        (StatusError(403, "Forbidden"), True, 1),
        (StatusError(422, "Invalid"), True, 1),
        (GoneError(410, "Gone"), False, 1),
        (StatusError(409, "AlreadyExists"), False, 1),
    ],
)
async def test_status_errors(
    err: StatusError, retry_server_errors: bool, attempts: int, make_sink: type[FakeSink]
) -> None:
    sink = make_sink(on_create=failing(err, 1000))
    await record_to_sink(
        sink, make_event(), correlator(), retry_server_errors=retry_server_errors, sleep=Sleeps()
    )
    assert len(sink.calls) == attempts


async def test_wrapped_status_error_is_retried(make_sink: type[FakeSink]) -> None:
    # client-go switches on the concrete type: an error wrapping a StatusError is "other".
    class WrappedError(Exception):
        pass

    wrapped = WrappedError("write failed")
    wrapped.__cause__ = StatusError(400, "BadRequest")
    sink = make_sink(on_create=failing(wrapped, 1000))
    await record_to_sink(sink, make_event(), correlator(), sleep=Sleeps())
    assert len(sink.calls) == MAX_TRIES_PER_EVENT


@pytest.mark.parametrize(
    ("err", "level"),
    [
        (StatusError(409, "AlreadyExists", "exists"), logging.DEBUG),
        (
            StatusError(
                403,
                "Forbidden",
                "terminating",
                details={"causes": [{"reason": "NamespaceTerminating"}]},
            ),
            logging.DEBUG,
        ),
        (StatusError(403, "Forbidden", "no"), logging.ERROR),
        (RequestConstructionError("bad"), logging.ERROR),
    ],
)
async def test_rejection_logging(
    err: Exception, level: int, caplog: pytest.LogCaptureFixture, make_sink: type[FakeSink]
) -> None:
    caplog.set_level(logging.DEBUG, logger="kubevents.record")
    sink = make_sink(on_create=failing(err, 1000))
    assert await record_to_sink(sink, make_event(), correlator()) is RecordOutcome.REJECTED
    levels = [r.levelno for r in caplog.records if "will not retry" in r.getMessage()]
    assert levels == [level]


async def test_update_state_uses_the_servers_copy(make_sink: type[FakeSink]) -> None:
    async def server_create(event: Event) -> Event:
        return msgspec.structs.replace(
            event,
            metadata=ObjectMeta(name="server-name", namespace="ns", resource_version="42"),
            count=7,
        )

    sink = make_sink(on_create=server_create)

    async def server_patch(event: Event, patch: bytes) -> Event:
        return event

    sink._on_patch = server_patch
    corr = correlator()
    await record_to_sink(sink, make_event(), corr, sleep=Sleeps())
    await record_to_sink(sink, make_event(), corr, sleep=Sleeps())
    patched = sink.calls[1]
    assert patched.verb == "patch"
    assert (patched.event.metadata.name, patched.event.metadata.resource_version) == (
        "server-name",
        "42",
    )
    assert patched.event.count == 8
    assert msgspec.json.decode(patched.patch or b"")["count"] == 8


async def test_spam_filtered_event_makes_no_call(make_sink: type[FakeSink]) -> None:
    sink = make_sink()
    corr = EventCorrelator(CorrelatorOptions(clock=FakeClock(START), burst_size=1))
    assert await record_to_sink(sink, make_event(message="a"), corr) is RecordOutcome.WRITTEN
    assert await record_to_sink(sink, make_event(message="b"), corr) is RecordOutcome.SKIPPED
    assert sink.verbs() == ["create"]


async def test_input_event_is_not_modified(make_sink: type[FakeSink]) -> None:
    async def not_found(event: Event, patch: bytes) -> Event:
        raise StatusError(404, "NotFound")

    sink = make_sink(on_patch=not_found)
    event = make_event(count=2)
    event.metadata.resource_version = "5"
    before = event.to_json()
    await record_to_sink(sink, event, correlator(), sleep=Sleeps())
    assert event.to_json() == before


async def test_kube_event_sink_namespace_restriction_is_a_retried_plain_error(
    make_sink: type[FakeSink],
) -> None:
    # Like a namespaced client-go EventSinkImpl; the check happens before any client use.
    sink = KubeEventSink.from_kubeconfig("/nonexistent/kubeconfig", namespace="other")
    event = make_event()
    with pytest.raises(ValueError, match="can't create an event with namespace 'ns'"):
        await sink.create(event)
    with pytest.raises(ValueError, match="can't patch"):
        await sink.patch(event, b"{}")
    counting = make_sink(on_create=sink.create)
    await record_to_sink(counting, event, correlator(), sleep=Sleeps())
    assert len(counting.calls) == MAX_TRIES_PER_EVENT
    await sink.aclose()

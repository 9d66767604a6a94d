"""The events.k8s.io/v1 recorder: client-go's TestEventf, TestEventSeriesf and
TestEventSeriesWithEventSinkImplRace, and makeEvent's rules (names, eventTime, validation)."""

from __future__ import annotations

import logging
import socket
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import msgspec
import pytest
from kubernetes.client import V1Node, V1ObjectMeta, V1Pod

from kubevents._recorderbase.gocompat import go_unix_nano
from kubevents.clock import FakeClock, RealClock
from kubevents.events import EventBroadcaster, EventRecorder, Recorder
from kubevents.model import (
    EventsV1Event,
    EventsV1EventSeries,
    MicroTime,
    ObjectMeta,
    ObjectReference,
)

if TYPE_CHECKING:
    from events.conftest import ApiSink, SeriesSink

# client-go's TestEventf uses a fixed time for the generated names.
FIXED = datetime(2023, 1, 1, 12, tzinfo=UTC)
START = datetime(2024, 1, 1, tzinfo=UTC)
DNS1123_SUBDOMAIN_MAX_LENGTH = 253


class Captured:
    """A recorder's submit function that keeps what it is given."""

    def __init__(self) -> None:
        self.events: list[EventsV1Event] = []
        self.invalid = 0

    def submit(self, event: EventsV1Event, logger: logging.Logger) -> bool:
        self.events.append(event)
        return True

    def count_invalid(self) -> None:
        self.invalid += 1


def recorder(captured: Captured, clock: FakeClock | None = None) -> Recorder:
    return Recorder("c1", "i1", clock or FakeClock(FIXED), captured.submit, captured.count_invalid)


def is_uuid(name: str) -> bool:
    try:
        return str(uuid.UUID(name)) == name
    except ValueError:
        return False


POD1 = V1Pod(metadata=V1ObjectMeta(name="pod1", namespace="ns1", uid="12345"))
POD1_REF = ObjectReference(kind="Pod", name="pod1", namespace="ns1", uid="12345", api_version="v1")
NAME_AT_FIXED = f"pod1.{go_unix_nano(FIXED):x}"


# -- TestEventf -------------------------------------------------------------------------------


def expected(**fields: Any) -> EventsV1Event:
    base: dict[str, Any] = {
        "metadata": ObjectMeta(name=NAME_AT_FIXED, namespace="ns1"),
        "event_time": MicroTime.of(FIXED),
        "regarding": POD1_REF,
        "reporting_controller": "c1",
        "reporting_instance": "i1",
    }
    return EventsV1Event(**{**base, **fields})


EVENTF_CASES = [
    pytest.param(
        POD1, None, "Normal", "Started", "starting", "Pod started", (),
        expected(type="Normal", reason="Started", action="starting", note="Pod started"),
        id="normal event",
    ),
    pytest.param(
        POD1, V1Node(metadata=V1ObjectMeta(name="node1", uid="67890")),
        "Warning", "FailedScheduling", "scheduling", "Pod failed to schedule on %s: %s",
        ("node1", "not enough resources"),
        expected(
            type="Warning", reason="FailedScheduling", action="scheduling",
            note="Pod failed to schedule on node1: not enough resources",
            related=ObjectReference(kind="Node", name="node1", uid="67890", api_version="v1"),
        ),
        id="related object and format args",
    ),
    pytest.param(
        {"apiVersion": "networking.k8s.io/v1", "kind": "IPAddress",
         "metadata": {"name": "2001:db8::123", "uid": "12345"}},
        None, "Warning", "IPAddressNotAllocated", "IPAddressAllocation",
        "Service default/test appears to have leaked", (),
        expected(
            metadata=ObjectMeta(name="", namespace="default"),
            regarding=ObjectReference(
                kind="IPAddress", name="2001:db8::123", uid="12345",
                api_version="networking.k8s.io/v1",
            ),
            type="Warning", reason="IPAddressNotAllocated", action="IPAddressAllocation",
            note="Service default/test appears to have leaked",
        ),
        id="invalid event name",
    ),
    pytest.param(
        V1Pod(metadata=V1ObjectMeta(
            name="x" * (DNS1123_SUBDOMAIN_MAX_LENGTH * 4), namespace="ns1", uid="12345"
        )),
        None, "Normal", "Started", "starting", "Pod started", (),
        expected(
            metadata=ObjectMeta(name="", namespace="ns1"),
            regarding=msgspec.structs.replace(
                POD1_REF, name="x" * (DNS1123_SUBDOMAIN_MAX_LENGTH * 4)
            ),
            type="Normal", reason="Started", action="starting", note="Pod started",
        ),
        id="large event name",
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("regarding", "related", "type_", "reason", "action", "note", "args", "want"), EVENTF_CASES
)
def test_eventf(
    regarding: Any,
    related: Any,
    type_: str,
    reason: str,
    action: str,
    note: str,
    args: tuple[Any, ...],
    want: EventsV1Event,
) -> None:
    captured = Captured()
    recorder(captured).eventf(regarding, related, type_, reason, action, note, *args)
    (got,) = captured.events
    # An invalid name becomes a random UUID (always a valid DNS subdomain).
    if not want.metadata.name:
        assert is_uuid(got.metadata.name)
        got.metadata.name = ""
    assert got == want


def test_event_time_and_name_come_from_the_one_clock() -> None:
    # client-go reads the real clock for eventTime: kubevents takes both from the clock given.
    captured = Captured()
    clock = FakeClock(FIXED)
    rec = recorder(captured, clock)
    rec.eventf(POD1, None, "Normal", "A", "a", "n")
    clock.step(1.5)
    rec.eventf(POD1, None, "Normal", "A", "a", "n")
    first, second = captured.events
    assert first.event_time == FIXED
    assert second.event_time == FIXED + timedelta(seconds=1.5)
    assert second.metadata.name == f"pod1.{go_unix_nano(FIXED + timedelta(seconds=1.5)):x}"
    assert first.series is None


def test_real_clock_names_have_nanoseconds() -> None:
    captured = Captured()
    broadcaster_free = Recorder("c", "i", RealClock(), captured.submit, captured.count_invalid)
    before = time.time_ns()
    broadcaster_free.eventf(POD1, None, "Normal", "A", "a", "n")
    after = time.time_ns()
    (ev,) = captured.events
    nanos = int(ev.metadata.name.removeprefix("pod1."), 16)
    assert before <= nanos <= after
    assert ev.event_time is not None
    assert ev.event_time == datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=nanos // 1000)


def test_cluster_scoped_regarding_goes_to_default() -> None:
    captured = Captured()
    recorder(captured).eventf(
        V1Node(metadata=V1ObjectMeta(name="n1")), None, "Normal", "A", "a", ""
    )
    (ev,) = captured.events
    assert (ev.metadata.namespace, ev.regarding.namespace) == ("default", "")


@pytest.mark.parametrize("bad_type", ["normal", "Error", "", "WARNING"])
def test_unsupported_type_is_dropped(bad_type: str, caplog: pytest.LogCaptureFixture) -> None:
    captured = Captured()
    recorder(captured).eventf(POD1, None, bad_type, "R", "a", "n")
    assert captured.events == []
    assert captured.invalid == 1
    assert "Unsupported event type" in caplog.text


def test_unreferenceable_regarding_is_dropped(caplog: pytest.LogCaptureFixture) -> None:
    captured = Captured()
    rec = recorder(captured)
    rec.eventf(None, None, "Normal", "R", "a", "n")
    rec.eventf({"kind": "Pod"}, None, "Normal", "R", "a", "n")
    assert captured.events == []
    assert captured.invalid == 2
    assert "will not report event" in caplog.text


def test_unreferenceable_related_is_left_out() -> None:
    captured = Captured()
    recorder(captured).eventf(POD1, object(), "Normal", "R", "a", "n")
    (ev,) = captured.events
    assert ev.related is None
    assert captured.invalid == 0


def test_references_are_copied() -> None:
    captured = Captured()
    regarding = msgspec.structs.replace(POD1_REF)
    related = ObjectReference(kind="Node", name="n", api_version="v1")
    recorder(captured).eventf(regarding, related, "Normal", "R", "a", "n")
    regarding.name = related.name = "changed"
    (ev,) = captured.events
    assert ev.regarding == POD1_REF
    assert ev.related is not None and ev.related.name == "n"


def test_note_formatting_never_raises() -> None:
    captured = Captured()
    rec = recorder(captured)
    rec.eventf(POD1, None, "Normal", "R", "a", "100% done")
    rec.eventf(POD1, None, "Normal", "R", "a", "%d of %d", 1)
    plain, broken = captured.events
    assert plain.note == "100% done"
    assert broken.note.startswith("%d of %d %!(BADFORMAT")


def test_with_logger(caplog: pytest.LogCaptureFixture) -> None:
    captured = Captured()
    logger = logging.getLogger("my.controller")
    rec = recorder(captured).with_logger(logger)
    assert isinstance(rec, EventRecorder)
    rec.eventf(POD1, None, "Bogus", "R", "a", "n")
    assert [r.name for r in caplog.records] == ["my.controller"]


async def test_new_recorder_reports_controller_and_instance() -> None:
    async with EventBroadcaster() as broadcaster:
        rec = broadcaster.new_recorder("k8s.io/kube-foo")
        assert rec.reporting_controller == "k8s.io/kube-foo"
        assert rec.reporting_instance == f"k8s.io/kube-foo-{socket.gethostname()}"


async def test_invalid_calls_are_counted() -> None:
    async with EventBroadcaster() as broadcaster:
        rec = broadcaster.new_recorder("c")
        rec.eventf(POD1, None, "Bogus", "R", "a", "n")
        rec.eventf(None, None, "Normal", "R", "a", "n")
        assert broadcaster.stats().invalid == 2
        assert broadcaster.accepted == 0


# -- TestEventSeriesf -------------------------------------------------------------------------


async def test_event_seriesf(series_sink: SeriesSink) -> None:
    regarding = ObjectReference(
        kind="Pod",
        namespace="baz",
        name="foo",
        uid="bar",
        api_version="v1",
        field_path=".spec.containers[1]",
    )
    related = msgspec.structs.replace(regarding, field_path=".spec.containers[0]")
    clock = FakeClock(START)
    async with EventBroadcaster(series_sink, sleep_duration=0, clock=clock) as broadcaster:
        broadcaster.start_recording_to_sink()
        rec = broadcaster.new_recorder("eventTest")
        note = "some verbose message: %d"
        # The first one only fills the cache.
        rec.eventf(regarding, related, "Normal", "test", "started", note, 1)
        assert await broadcaster.aflush(10)
        assert series_sink.verbs() == ["create"]
        first = series_sink.calls[0].event

        clock.step(1)
        rec.eventf(regarding, related, "Normal", "test", "started", note, 1)
        assert await broadcaster.aflush(10)
        patch = series_sink.calls[-1]
        assert patch.verb == "patch"
        assert patch.event.series == EventsV1EventSeries(
            count=2, last_observed_time=MicroTime.of(clock.now())
        )
        assert patch.event.metadata.name == first.metadata.name
        assert patch.event.metadata.name.startswith("foo.")
        assert patch.event.event_time is not None

        rec.eventf(regarding, related, "Normal", "test", "stopped", note, 1)
        assert await broadcaster.aflush(10)
        create = series_sink.calls[-1]
        assert create.verb == "create"
        assert create.event.series is None
        assert create.event.action == "stopped"
        assert create.event.note == "some verbose message: 1"
    assert series_sink.verbs() == ["create", "patch", "create"]


async def test_event_series_with_event_sink_impl_race(api_sink: ApiSink) -> None:
    async with EventBroadcaster(api_sink) as broadcaster:
        broadcaster.start_recording_to_sink()
        rec = broadcaster.new_recorder("test")
        rec.eventf(ObjectReference(), None, "Normal", "reason", "action", "")
        rec.eventf(ObjectReference(), None, "Normal", "reason", "action", "")
        assert await broadcaster.aflush(10)
    (stored,) = api_sink.items()
    assert stored.metadata.namespace == "default"
    assert stored.series is not None
    assert stored.series.count == 2

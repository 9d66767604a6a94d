"""The recorder against a real kube-apiserver, as the admin and as the RBAC-limited user.

API calls are counted by a wrapper around ``KubeEventSink``; delivery is awaited with
``aflush`` (never by sleeping); a ``FakeClock`` drives names, timestamps and the correlator.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from kubevents.clock import FakeClock
from kubevents.errors import StatusError
from kubevents.kube import KubeClient
from kubevents.model import Event, EventSource, ObjectReference
from kubevents.record import (
    AGGREGATE_MESSAGE_PREFIX,
    DEFAULT_SPAM_BURST,
    EventBroadcaster,
    KubeEventSink,
    RecordOutcome,
)
from kubevents_testenv import LocalCluster

if TYPE_CHECKING:
    from record.conftest import CountingSink

pytestmark = pytest.mark.cluster

START = datetime(2024, 1, 1, tzinfo=UTC)
SOURCE = EventSource(component="kubevents-test", host="node-a")
FLUSH_TIMEOUT = 60.0


def pod(namespace: str, name: str = "web-0") -> ObjectReference:
    return ObjectReference(
        kind="Pod",
        namespace=namespace,
        name=name,
        uid=f"uid-{name}",
        api_version="v1",
        resource_version="12",
    )


async def stored(kube: KubeClient, namespace: str) -> list[Event]:
    page = await kube.events.list(namespace)
    return sorted(page.items, key=lambda e: e.metadata.name)


async def test_one_event_one_create(
    api_sink: CountingSink, kube: KubeClient, namespace: str
) -> None:
    clock = FakeClock(START)
    async with EventBroadcaster(clock=clock) as broadcaster:
        broadcaster.start_recording_to_sink(api_sink)
        recorder = broadcaster.new_recorder(SOURCE)
        recorder.eventf(pod(namespace), "Normal", "Scheduled", "assigned to %s", "node-a")
        assert await broadcaster.aflush(FLUSH_TIMEOUT)
    assert api_sink.verbs == ["create"]
    (event,) = await stored(kube, namespace)
    # What `kubectl get events -o json` shows, field by field, as a Go controller makes it.
    assert event.metadata.name.startswith("web-0.")
    assert event.involved_object == pod(namespace)
    assert (event.type, event.reason, event.message) == (
        "Normal",
        "Scheduled",
        "assigned to node-a",
    )
    assert (event.source.component, event.source.host) == ("kubevents-test", "node-a")
    assert (event.reporting_controller, event.reporting_instance) == ("kubevents-test", "node-a")
    assert event.count == 1
    assert event.first_timestamp == event.last_timestamp == START
    assert event.event_time is None


async def test_same_event_five_times(
    api_sink: CountingSink, kube: KubeClient, namespace: str
) -> None:
    clock = FakeClock(START)
    async with EventBroadcaster(clock=clock) as broadcaster:
        broadcaster.start_recording_to_sink(api_sink)
        recorder = broadcaster.new_recorder(SOURCE)
        for _ in range(5):
            clock.step(1)
            recorder.event(pod(namespace), "Warning", "BackOff", "Back-off restarting")
            # One at a time, so each repeat patches what the previous one stored.
            assert await broadcaster.aflush(FLUSH_TIMEOUT)
    assert api_sink.verbs == ["create", "patch", "patch", "patch", "patch"]
    (event,) = await stored(kube, namespace)
    assert event.count == 5
    assert event.first_timestamp == START.replace(second=1)
    assert event.last_timestamp == START.replace(second=5)


async def test_similar_events_are_combined(
    api_sink: CountingSink, kube: KubeClient, namespace: str
) -> None:
    clock = FakeClock(START)
    async with EventBroadcaster(clock=clock) as broadcaster:
        broadcaster.start_recording_to_sink(api_sink)
        recorder = broadcaster.new_recorder(SOURCE)
        for i in range(11):
            clock.step(1)
            recorder.eventf(pod(namespace), "Warning", "FailedMount", "volume %d not ready", i)
        assert await broadcaster.aflush(FLUSH_TIMEOUT)
    # 9 singles, then the 10th distinct message turns into a combined event (create) that the
    # 11th counts onto (patch).
    assert api_sink.verbs == ["create"] * 10 + ["patch"]
    events = await stored(kube, namespace)
    combined = [e for e in events if e.message.startswith(AGGREGATE_MESSAGE_PREFIX)]
    assert len(events) == 10
    assert len(combined) == 1
    assert combined[0].message == AGGREGATE_MESSAGE_PREFIX + "volume 10 not ready"
    assert combined[0].count == 2
    # Aggregates carry no reporting fields, exactly like client-go's.
    assert combined[0].reporting_controller == ""


async def test_spam_filter_lets_the_burst_through(
    api_sink: CountingSink, kube: KubeClient, namespace: str
) -> None:
    clock = FakeClock(START)
    async with EventBroadcaster(clock=clock) as broadcaster:
        broadcaster.start_recording_to_sink(api_sink)
        recorder = broadcaster.new_recorder(SOURCE)
        for i in range(30):
            clock.step(1)
            recorder.event(pod(namespace), "Normal", f"Reason{i}", "m")
        assert await broadcaster.aflush(FLUSH_TIMEOUT)
        outcomes = broadcaster.stats().sink_outcomes
    assert api_sink.verbs == ["create"] * DEFAULT_SPAM_BURST
    assert outcomes[RecordOutcome.SKIPPED.value] == 30 - DEFAULT_SPAM_BURST
    assert len(await stored(kube, namespace)) == DEFAULT_SPAM_BURST


async def test_deleted_event_is_recreated(
    api_sink: CountingSink, kube: KubeClient, namespace: str
) -> None:
    clock = FakeClock(START)
    async with EventBroadcaster(clock=clock) as broadcaster:
        broadcaster.start_recording_to_sink(api_sink)
        recorder = broadcaster.new_recorder(SOURCE)
        recorder.event(pod(namespace), "Normal", "Pulled", "image pulled")
        assert await broadcaster.aflush(FLUSH_TIMEOUT)
        (first,) = await stored(kube, namespace)
        # The limited identity may not delete; the admin plays the TTL controller here.
        await kube.events.delete(namespace, first.metadata.name)
        clock.step(1)
        recorder.event(pod(namespace), "Normal", "Pulled", "image pulled")
        assert await broadcaster.aflush(FLUSH_TIMEOUT)
    assert api_sink.verbs == ["create", "patch", "create"]
    (error,) = api_sink.errors
    assert isinstance(error, StatusError)
    assert error.code == 404
    (again,) = await stored(kube, namespace)
    # Re-created under the same name, keeping the count accumulated client-side.
    assert again.metadata.name == first.metadata.name
    assert again.count == 2
    assert again.metadata.uid != first.metadata.uid


async def test_name_collision_is_dropped_like_client_go(
    api_sink: CountingSink, kube: KubeClient, namespace: str
) -> None:
    # Two different events about one object at the same instant get the same name; the
    # server refuses the second (AlreadyExists) and, as in client-go, it is not retried.
    async with EventBroadcaster(clock=FakeClock(START)) as broadcaster:
        broadcaster.start_recording_to_sink(api_sink)
        recorder = broadcaster.new_recorder(SOURCE)
        recorder.event(pod(namespace), "Normal", "First", "m")
        recorder.event(pod(namespace), "Normal", "Second", "m")
        assert await broadcaster.aflush(FLUSH_TIMEOUT)
        outcomes = broadcaster.stats().sink_outcomes
    assert api_sink.verbs == ["create", "create"]
    assert outcomes[RecordOutcome.REJECTED.value] == 1
    assert [e.reason for e in await stored(kube, namespace)] == ["First"]


def test_thread_mode_with_a_lazily_connected_sink(
    local_cluster: LocalCluster, namespace: str
) -> None:
    # Code without an event loop: the broadcaster's own loop connects, writes and closes.
    sink = KubeEventSink.from_kubeconfig(local_cluster.kubeconfig_limited)
    with EventBroadcaster(clock=FakeClock(START)) as broadcaster:
        broadcaster.start_recording_to_sink(sink)
        recorder = broadcaster.new_recorder(SOURCE)
        for i in range(3):
            recorder.event(pod(namespace, f"job-{i}"), "Normal", "Completed", "done")
        report = broadcaster.shutdown(FLUSH_TIMEOUT)
    assert (report.delivered, report.dropped) == (3, 0)
    assert broadcaster.stats().sink_outcomes[RecordOutcome.WRITTEN.value] == 3

"""The events.k8s.io/v1 recorder against a real kube-apiserver, as the admin and as the
RBAC-limited user.

API calls are counted by a wrapper around ``KubeEventSink``; delivery is awaited with ``aflush``
and the heartbeat/finish passes are run with ``run_due`` after moving a ``FakeClock`` (never by
sleeping).
"""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest

from kubevents.clock import FakeClock
from kubevents.errors import StatusError
from kubevents.events import (
    EventBroadcaster,
    GroupVersionKind,
    KubeEventSink,
    RecordOutcome,
    get_field_selector,
    new_event_broadcaster_adapter,
)
from kubevents.kube import KubeClient
from kubevents.model import EventsV1Event, EventsV1EventSeries, MicroTime, ObjectReference
from kubevents_testenv import LocalCluster

if TYPE_CHECKING:
    from events.conftest import CountingSink

pytestmark = pytest.mark.cluster

START = datetime(2024, 1, 1, tzinfo=UTC)
CONTROLLER = "kubevents.io/test-controller"
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


NODE = ObjectReference(kind="Node", name="node-a", uid="uid-node-a", api_version="v1")


async def stored(kube: KubeClient, namespace: str) -> list[EventsV1Event]:
    page = await kube.events_v1.list(namespace)
    return sorted(page.items, key=lambda e: e.metadata.name)


async def series_count(kube: KubeClient, namespace: str) -> int:
    (event,) = await stored(kube, namespace)
    assert event.series is not None
    return event.series.count


async def test_three_occurrences_create_patch_then_finish(
    counting_sink: CountingSink, kube: KubeClient, namespace: str
) -> None:
    clock = FakeClock(START)
    async with EventBroadcaster(counting_sink, clock=clock) as broadcaster:
        broadcaster.start_recording_to_sink()
        recorder = broadcaster.new_recorder(CONTROLLER)
        for i in range(3):
            clock.step(1)
            recorder.eventf(pod(namespace), None, "Warning", "BackOff", "Restarting", "#%d", i)
            # One at a time, so that the create lands before the patch (they race otherwise,
            # as in client-go, which then retries the patch).
            assert await broadcaster.aflush(FLUSH_TIMEOUT)
        # The 2nd occurrence is patched at once, the 3rd only counted in memory.
        assert counting_sink.verbs == ["create", "patch"]
        assert counting_sink.patches == [
            b'{"series":{"count":2,"lastObservedTime":"2024-01-01T00:00:02.000000Z"}}'
        ]
        assert await series_count(kube, namespace) == 2

        # Idle for exactly 6 minutes is not enough; a microsecond more is.
        clock.set(START + timedelta(minutes=6, seconds=3))
        await broadcaster.run_due()
        assert counting_sink.verbs == ["create", "patch"]
        clock.set(START + timedelta(minutes=12, seconds=3))
        await broadcaster.run_due()
        assert counting_sink.verbs == ["create", "patch", "patch"]
        assert len(broadcaster.cache) == 0
    (event,) = await stored(kube, namespace)
    # The first occurrence's event, with the final count.
    assert event.note == "#0"
    assert event.event_time == START + timedelta(seconds=1)
    assert event.series == EventsV1EventSeries(
        count=3, last_observed_time=MicroTime.of(START + timedelta(seconds=3))
    )


async def test_heartbeat_writes_a_running_series(
    counting_sink: CountingSink, kube: KubeClient, namespace: str
) -> None:
    clock = FakeClock(START)
    async with EventBroadcaster(counting_sink, clock=clock) as broadcaster:
        broadcaster.start_recording_to_sink()
        recorder = broadcaster.new_recorder(CONTROLLER)
        for minute in range(0, 31, 5):
            for second in range(2):
                clock.set(START + timedelta(minutes=minute, seconds=second))
                recorder.eventf(pod(namespace), None, "Normal", "Probe", "Probing", "ok")
                assert await broadcaster.aflush(FLUSH_TIMEOUT)
            await broadcaster.run_due()
        # 14 occurrences: create, patch (2), and at 30 minutes the heartbeat's patch.
        assert counting_sink.verbs == ["create", "patch", "patch"]
        assert await series_count(kube, namespace) == 14


async def test_adapter_picks_events_v1_and_core_v1_reads_it(
    identity: KubeClient, kube: KubeClient, namespace: str
) -> None:
    clock = FakeClock(START)
    adapter = await new_event_broadcaster_adapter(identity, clock=clock)
    assert adapter.uses_events_v1
    async with adapter:
        adapter.start_recording_to_sink()
        recorder = adapter.new_recorder(CONTROLLER)
        for _ in range(2):
            clock.step(1)
            recorder.eventf(pod(namespace), NODE, "Normal", "Scheduled", "Binding", "to %s", "a")
            assert await adapter.aflush(FLUSH_TIMEOUT)
    (new,) = await stored(kube, namespace)
    core = await kube.events.get(namespace, new.metadata.name)
    # What a Go controller using tools/events leaves, seen through the core/v1 API.
    assert core.involved_object == pod(namespace)
    assert core.related == NODE
    assert (core.type, core.reason, core.action, core.message) == (
        "Normal",
        "Scheduled",
        "Binding",
        "to a",
    )
    assert core.reporting_controller == CONTROLLER
    assert core.reporting_instance == f"{CONTROLLER}-{socket.gethostname()}"
    assert core.event_time == START + timedelta(seconds=1)
    assert core.series is not None
    assert (core.series.count, core.series.last_observed_time) == (2, START + timedelta(seconds=2))
    # Nothing of the legacy bookkeeping.
    assert (core.count, core.first_timestamp, core.last_timestamp) == (0, None, None)
    assert (core.source.component, core.source.host) == ("", "")

    # The field selectors for "events about this pod" work on both APIs.
    gvk = GroupVersionKind.of("v1", "Pod")
    for api, group_version in ((identity.events_v1, "events.k8s.io/v1"), (identity.events, "v1")):
        selector = get_field_selector(group_version, gvk, "web-0", "uid-web-0")
        page = await api.list(namespace, field_selector=str(selector))
        assert [e.metadata.name for e in page.items] == [new.metadata.name]
        other = get_field_selector(group_version, gvk, "web-1", "")
        assert (await api.list(namespace, field_selector=str(other))).items == []


@pytest.mark.parametrize(
    ("action", "note", "field"),
    [
        # The server validates the internal type, whose note is "message".
        pytest.param("Restarting", "x" * 1025, "message: ", id="note over 1 kB"),
        pytest.param("", "fine", "action: Required", id="empty action"),
    ],
)
async def test_server_validation_failures_are_dropped(
    counting_sink: CountingSink, namespace: str, action: str, note: str, field: str
) -> None:
    async with EventBroadcaster(counting_sink) as broadcaster:
        broadcaster.start_recording_to_sink()
        recorder = broadcaster.new_recorder(CONTROLLER)
        recorder.eventf(pod(namespace), None, "Warning", "BackOff", action, note)
        assert await broadcaster.aflush(FLUSH_TIMEOUT)
        outcomes = broadcaster.stats().sink_outcomes
    # One attempt, no retry: a StatusError is final.
    assert counting_sink.verbs == ["create"]
    assert outcomes[RecordOutcome.REJECTED.value] == 1
    (error,) = counting_sink.errors
    assert isinstance(error, StatusError)
    assert error.code == 422
    assert field in error.message


async def test_deleted_event_is_recreated_with_its_series(
    counting_sink: CountingSink, kube: KubeClient, namespace: str
) -> None:
    clock = FakeClock(START)
    async with EventBroadcaster(counting_sink, clock=clock) as broadcaster:
        broadcaster.start_recording_to_sink()
        recorder = broadcaster.new_recorder(CONTROLLER)
        recorder.eventf(pod(namespace), None, "Normal", "Pulled", "Pulling", "image pulled")
        assert await broadcaster.aflush(FLUSH_TIMEOUT)
        (first,) = await stored(kube, namespace)
        # The limited identity may not delete; the admin plays the TTL controller here.
        await kube.events_v1.delete(namespace, first.metadata.name)
        clock.step(1)
        recorder.eventf(pod(namespace), None, "Normal", "Pulled", "Pulling", "image pulled")
        assert await broadcaster.aflush(FLUSH_TIMEOUT)
    assert counting_sink.verbs == ["create", "patch", "create"]
    (again,) = await stored(kube, namespace)
    assert again.metadata.name == first.metadata.name
    assert again.metadata.uid != first.metadata.uid
    assert again.series is not None and again.series.count == 2


async def test_thread_mode_with_a_lazily_connected_sink(
    local_cluster: LocalCluster, kube: KubeClient, namespace: str
) -> None:
    # Made off the loop, the broadcaster runs its own loop thread, which connects and closes.
    sink = KubeEventSink.from_kubeconfig(local_cluster.kubeconfig_limited)
    broadcaster = await asyncio.to_thread(EventBroadcaster, sink)
    broadcaster.start_recording_to_sink()
    recorder = broadcaster.new_recorder(CONTROLLER)

    def record() -> None:
        for name in ("job-0", "job-1", "job-0"):
            recorder.eventf(pod(namespace, name), None, "Normal", "Completed", "Running", "done")
            assert broadcaster.flush(FLUSH_TIMEOUT)

    await asyncio.to_thread(record)
    report = await asyncio.to_thread(broadcaster.shutdown, FLUSH_TIMEOUT)
    assert (report.dropped, report.timed_out) == (0, False)
    counts = {
        e.regarding.name: e.series.count if e.series else 1 for e in await stored(kube, namespace)
    }
    assert counts == {"job-0": 2, "job-1": 1}

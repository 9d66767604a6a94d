"""``new_event_broadcaster_adapter`` and the legacy ``EventRecorderAdapter`` (client-go's
NewEventBroadcasterAdapter / record.NewEventRecorderAdapter), against a stub client."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any, cast

import pytest

from kubevents import record
from kubevents.clock import FakeClock
from kubevents.errors import TransportError
from kubevents.events import (
    EVENTS_V1_GROUP_VERSION,
    EventRecorder,
    EventRecorderAdapter,
    Recorder,
    new_event_broadcaster_adapter,
)
from kubevents.kube import KubeClient
from kubevents.model import Event, EventsV1Event, ObjectReference

START = datetime(2024, 1, 1, tzinfo=UTC)
POD = ObjectReference(kind="Pod", namespace="ns", name="web", uid="u1", api_version="v1")
NODE = ObjectReference(kind="Node", name="n1", api_version="v1")


class _API:
    def __init__(self) -> None:
        self.created: list[Any] = []

    async def create(self, event: Any) -> Any:
        self.created.append(event)
        return event

    async def update(self, event: Any) -> Any:
        return event

    async def patch(self, namespace: str, name: str, patch: Any, **kwargs: Any) -> Any:
        raise AssertionError("no repeats in these tests")


class StubClient:
    """What the adapter uses of a ``KubeClient``: discovery and the two Event APIs."""

    def __init__(self, serves_events_v1: bool | Exception) -> None:
        self._serves = serves_events_v1
        self.asked: list[str] = []
        self.events = _API()
        self.events_v1 = _API()

    async def has_api(self, group_version: str) -> bool:
        self.asked.append(group_version)
        if isinstance(self._serves, Exception):
            raise self._serves
        return self._serves


async def test_new_api_when_the_server_serves_it() -> None:
    client = StubClient(True)
    clock = FakeClock(START)
    adapter = await new_event_broadcaster_adapter(cast(KubeClient, client), clock=clock)
    assert client.asked == [EVENTS_V1_GROUP_VERSION]
    assert adapter.uses_events_v1
    async with adapter:
        adapter.start_recording_to_sink()
        recorder = adapter.new_recorder("example.com/ctrl")
        assert isinstance(recorder, Recorder)
        recorder.eventf(POD, NODE, "Normal", "Scaled", "Scaling", "to %d", 3)
        adapter.deprecated_new_legacy_recorder("example.com/ctrl").event(
            POD, "Normal", "Legacy", "m"
        )
        assert await adapter.aflush(10)
    (new,) = client.events_v1.created
    assert isinstance(new, EventsV1Event)
    assert (new.reporting_controller, new.action, new.note) == (
        "example.com/ctrl",
        "Scaling",
        "to 3",
    )
    assert new.related == NODE
    assert new.event_time == START
    # The legacy broadcaster exists (and records) either way.
    (legacy,) = client.events.created
    assert isinstance(legacy, Event)
    assert legacy.source.component == "example.com/ctrl"


@pytest.mark.parametrize("serves", [False, TransportError("discovery failed")])
async def test_legacy_recorder_otherwise(serves: bool | Exception) -> None:
    client = StubClient(serves)
    adapter = await new_event_broadcaster_adapter(cast(KubeClient, client), clock=FakeClock(START))
    assert not adapter.uses_events_v1
    assert adapter.events_v1_broadcaster is None
    async with adapter:
        adapter.start_recording_to_sink()
        recorder = adapter.new_recorder("example.com/ctrl")
        assert isinstance(recorder, EventRecorderAdapter)
        assert isinstance(recorder, EventRecorder)
        recorder.eventf(POD, NODE, "Warning", "Failed", "Pulling", "image %s", "x")
        assert await adapter.aflush(10)
    assert client.events_v1.created == []
    (event,) = client.events.created
    assert isinstance(event, Event)
    # Related and action are dropped; the name is the component, the instance empty.
    assert (event.reporting_controller, event.reporting_instance) == ("example.com/ctrl", "")
    assert (event.action, event.related, event.event_time) == ("", None, None)
    assert (event.type, event.reason, event.message) == ("Warning", "Failed", "image x")
    assert event.involved_object == POD
    assert event.count == 1


def test_recorder_adapter_forwards_to_the_legacy_eventf() -> None:
    fake = record.FakeRecorder(10, include_object=True)
    adapter = EventRecorderAdapter(fake)
    adapter.eventf(POD, NODE, "Normal", "Started", "Starting", "container %s", "app")
    assert fake.drain() == ["Normal Started container app involvedObject{kind=Pod,apiVersion=v1}"]
    logged = adapter.with_logger(logging.getLogger("x"))
    assert isinstance(logged, EventRecorderAdapter)
    assert logged.legacy is fake


async def test_shutdown_reports_both() -> None:
    client = StubClient(True)
    adapter = await new_event_broadcaster_adapter(cast(KubeClient, client))
    adapter.start_recording_to_sink()
    adapter.new_recorder("c").eventf(POD, None, "Normal", "R", "a", "n")
    adapter.deprecated_new_legacy_recorder("c").event(POD, "Normal", "R", "n")
    report = await adapter.ashutdown(10)
    # Whether delivered before or during the shutdown, nothing was lost on either side.
    assert (report.dropped, report.timed_out) == (0, False)
    assert len(client.events.created) == len(client.events_v1.created) == 1

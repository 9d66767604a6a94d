"""``FakeRecorder`` for the events.k8s.io/v1 API (client-go tools/events fake.go)."""

from __future__ import annotations

import logging
import queue
import threading

from kubernetes.client import V1ObjectMeta, V1Pod

from kubevents.events import EventRecorder, FakeRecorder
from kubevents.model import ObjectReference

POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "ns"}}
NODE = ObjectReference(kind="Node", name="n1", api_version="v1")


def test_records_type_reason_note() -> None:
    fake = FakeRecorder(10)
    assert isinstance(fake, EventRecorder)
    fake.eventf(POD, NODE, "Warning", "FailedMount", "Mounting", "volume %s: %d", "data", 3)
    # Action and related are not part of the string (client-go v0.38 without Verbose).
    assert fake.drain() == ["Warning FailedMount volume data: 3"]


def test_type_and_reason_are_part_of_the_format() -> None:
    fake = FakeRecorder(10)
    fake.eventf(POD, None, "Normal", "Took%", "a", "%s", "x")
    fake.eventf(POD, None, "Normal", "R", "a", "100%")
    # A literal % in the reason breaks the format, as Go's Sprintf would mangle it.
    first, second = fake.drain()
    assert first.startswith("Normal Took% %s %!(BADFORMAT")
    assert second == "Normal R 100%"


def test_verbose_shows_action_and_objects() -> None:
    fake = FakeRecorder(10, verbose=True)
    fake.eventf(POD, NODE, "Normal", "Scheduled", "Binding", "on %s", "n1")
    # A typed object without apiVersion/kind of its own shows nothing, like an empty GVK.
    fake.eventf(V1Pod(metadata=V1ObjectMeta(name="p")), None, "Normal", "R", "A", "n")
    assert fake.drain() == [
        "Normal Scheduled Binding on n1 {kind=Pod,apiVersion=v1} {kind=Node,apiVersion=v1}",
        "Normal R A n",
    ]


def test_without_a_channel_events_are_discarded() -> None:
    fake = FakeRecorder(None)
    fake.eventf(POD, None, "Normal", "R", "a", "n")
    assert fake.events is None
    assert fake.drain() == []
    assert fake.with_logger(logging.getLogger("x")) is fake


def test_a_full_buffer_blocks_the_sender() -> None:
    fake = FakeRecorder(1)
    fake.eventf(POD, None, "Normal", "R", "a", "1")
    sent = threading.Event()

    def second() -> None:
        fake.eventf(POD, None, "Normal", "R", "a", "2")
        sent.set()

    thread = threading.Thread(target=second)
    thread.start()
    # Still blocked: this can only fail if sends do not block.
    assert not sent.wait(0.05)
    assert fake.events is not None
    assert fake.events.get(timeout=5) == "Normal R 1"
    thread.join(5)
    assert sent.is_set()
    assert fake.events.get_nowait() == "Normal R 2"
    assert isinstance(fake.events, queue.Queue)

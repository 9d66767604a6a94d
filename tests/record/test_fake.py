"""FakeRecorder: the strings client-go's record.FakeRecorder produces, and its channel."""

from __future__ import annotations

import logging
import queue
import threading

import pytest
from kubernetes.client import V1ObjectMeta, V1Pod

from kubevents.model import ObjectReference
from kubevents.record import EventRecorder, FakeRecorder

POD = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "ns"}}
DEPLOYMENT = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}}
JOB_REF = ObjectReference(kind="Job", api_version="batch/v1")


def test_strings() -> None:
    fake = FakeRecorder()
    fake.event(POD, "Normal", "Started", "100% done %s")
    fake.eventf(POD, "Warning", "Failed", "%d of %s", 3, "four")
    fake.annotated_eventf(POD, {"z": "1", "a": "b c"}, "Normal", "Note", "with %s", "notes")
    fake.annotated_eventf(POD, {}, "Normal", "Note", "no notes")
    assert fake.drain() == [
        # event() passes the message through "%s": it is never interpreted.
        "Normal Started 100% done %s",
        "Warning Failed 3 of four",
        "Normal Note with notes map[a:b c z:1]",
        "Normal Note no notes",
    ]


def test_type_and_reason_are_part_of_the_format() -> None:
    fake = FakeRecorder()
    fake.eventf(POD, "Normal", "%s", "message %s", "one", "two")
    assert fake.drain() == ["Normal one message two"]


@pytest.mark.parametrize(
    ("obj", "suffix"),
    [
        (POD, " involvedObject{kind=Pod,apiVersion=v1}"),
        (DEPLOYMENT, " involvedObject{kind=Deployment,apiVersion=apps/v1}"),
        (JOB_REF, " involvedObject{kind=Job,apiVersion=batch/v1}"),
        # A typed object without TypeMeta shows empty parts, as in Go.
        (V1Pod(metadata=V1ObjectMeta(name="p")), " involvedObject{kind=,apiVersion=}"),
        ({"kind": "X", "apiVersion": "a/b/c"}, " involvedObject{kind=X,apiVersion=}"),
        (None, " involvedObject{kind=,apiVersion=}"),
    ],
)
def test_include_object(obj: object, suffix: str) -> None:
    fake = FakeRecorder(include_object=True)
    fake.annotated_eventf(obj, {"k": "v"}, "Normal", "R", "m")
    assert fake.drain() == ["Normal R m" + suffix + " map[k:v]"]


def test_nothing_is_validated() -> None:
    fake = FakeRecorder()
    fake.event(object(), "Bogus", "", "")
    assert fake.drain() == ["Bogus  "]


def test_no_queue_discards() -> None:
    fake = FakeRecorder(buffer_size=None)
    fake.event(POD, "Normal", "R", "m")
    assert fake.events is None
    assert fake.drain() == []


def test_full_buffer_blocks_the_sender_until_read() -> None:
    fake = FakeRecorder(buffer_size=1)
    fake.event(POD, "Normal", "R", "first")
    sender = threading.Thread(target=fake.event, args=(POD, "Normal", "R", "second"))
    sender.start()
    # The second send cannot complete while the buffer is full (Go's channel semantics).
    sender.join(timeout=0.1)
    assert sender.is_alive()
    assert fake.events is not None
    assert fake.events.get(timeout=10) == "Normal R first"
    sender.join(timeout=10)
    assert not sender.is_alive()
    assert fake.events.get_nowait() == "Normal R second"
    with pytest.raises(queue.Empty):
        fake.events.get_nowait()


def test_fake_is_an_event_recorder() -> None:
    fake = FakeRecorder()
    recorder: EventRecorder = fake
    assert isinstance(recorder, EventRecorder)
    assert fake.with_logger(logging.getLogger("x")) is fake

"""The kubevents pytest plugin (entry point ``pytest11``): fixtures for testing controllers.

``event_recorder`` is a core/v1 ``FakeRecorder`` (unbounded, so recording never blocks a test);
``assert_event(type, reason, message_re="", *, count=None)`` asserts on what it recorded:

    def test_backoff(event_recorder, assert_event):
        reconcile(pod, recorder=event_recorder)
        assert_event("Warning", "BackOff", r"restarting web-\\d")
"""

from __future__ import annotations

import pytest

from kubevents.record import FakeRecorder
from kubevents.testing._assertions import RecordedEvents

__all__ = ["assert_event", "event_recorder"]


@pytest.fixture
def event_recorder() -> FakeRecorder:
    """A ``kubevents.record.FakeRecorder`` (unbounded) for the code under test."""
    return FakeRecorder(buffer_size=0)


@pytest.fixture
def assert_event(event_recorder: FakeRecorder) -> RecordedEvents:
    """Assertions on what ``event_recorder`` recorded: ``assert_event(type, reason, message_re)``
    (``.all`` lists every event, ``.matching(...)`` filters without asserting)."""
    return RecordedEvents(event_recorder)

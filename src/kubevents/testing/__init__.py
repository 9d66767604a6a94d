"""Test helpers for code that records Events: ``assert_event`` over a ``FakeRecorder``.

The pytest plugin (``kubevents.testing.pytest_plugin``, loaded by pytest wherever kubevents is
installed) provides them as fixtures: ``event_recorder`` and ``assert_event``. See
``docs/operators.md``.
"""

from kubevents.testing._assertions import RecordedEvent, RecordedEvents, assert_event

__all__ = ["RecordedEvent", "RecordedEvents", "assert_event"]

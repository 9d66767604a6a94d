"""``assert_event``: did the code under test record an Event of this type, reason and message?

A ``FakeRecorder`` (either recorder's) holds client-go's ``"Type Reason Message"`` strings in a
queue that reading empties. ``RecordedEvents`` keeps every string it has read, so several
assertions can look at the same events.
"""

from __future__ import annotations

import re
from typing import NamedTuple, Protocol

__all__ = ["RecordedEvent", "RecordedEvents", "assert_event"]


class _Fake(Protocol):
    def drain(self) -> list[str]: ...


class RecordedEvent(NamedTuple):
    """One string of a ``FakeRecorder``, split: its message keeps whatever followed it
    (``include_object``'s ``involvedObject{…}``, annotations)."""

    type: str
    reason: str
    message: str

    @classmethod
    def parse(cls, line: str) -> RecordedEvent:
        type_, _, rest = line.partition(" ")
        reason, _, message = rest.partition(" ")
        return cls(type_, reason, message)


class RecordedEvents:
    """Every Event a ``FakeRecorder`` has recorded, read from its queue and kept."""

    def __init__(self, recorder: _Fake) -> None:
        self.recorder = recorder
        self._seen: list[RecordedEvent] = []

    @property
    def all(self) -> list[RecordedEvent]:
        """Every event recorded so far, oldest first."""
        self._seen += [RecordedEvent.parse(line) for line in self.recorder.drain()]
        return list(self._seen)

    def matching(
        self, type: str | None = None, reason: str | None = None, message_re: str | None = None
    ) -> list[RecordedEvent]:
        """Events of ``type`` and ``reason`` (None: any) whose message ``re.search``es
        ``message_re``."""
        pattern = re.compile(message_re) if message_re is not None else None
        return [
            event
            for event in self.all
            if (type is None or event.type == type)
            and (reason is None or event.reason == reason)
            and (pattern is None or pattern.search(event.message))
        ]

    def __call__(
        self, type: str, reason: str, message_re: str = "", *, count: int | None = None
    ) -> list[RecordedEvent]:
        """``assert_event`` on these events."""
        __tracebackhide__ = True
        found = self.matching(type, reason, message_re)
        wanted = f"{type} {reason} /{message_re}/"
        if count is None and not found:
            raise AssertionError(f"no recorded event matches {wanted}; {self._listing()}")
        if count is not None and len(found) != count:
            raise AssertionError(
                f"{len(found)} recorded events match {wanted}, expected {count}; {self._listing()}"
            )
        return found

    def _listing(self) -> str:
        seen = self.all
        if not seen:
            return "nothing was recorded"
        return "recorded: " + "; ".join(" ".join(event) for event in seen)


def assert_event(
    events: RecordedEvents | _Fake,
    type: str,
    reason: str,
    message_re: str = "",
    *,
    count: int | None = None,
) -> list[RecordedEvent]:
    """Assert an Event of ``type`` and ``reason`` whose message matches ``message_re``
    (``re.search``) was recorded; ``count``: exactly that many were. Returns the matches.

    ``events`` is a ``RecordedEvents``, or a ``FakeRecorder`` (whose queue this reads: later
    assertions on the same fake see only what was recorded after, so prefer a
    ``RecordedEvents``).
    """
    __tracebackhide__ = True
    if not isinstance(events, RecordedEvents):
        events = RecordedEvents(events)
    return events(type, reason, message_re, count=count)

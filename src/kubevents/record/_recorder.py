"""The event recorder: client-go's ``recorderImpl`` (``generateEvent`` / ``makeEvent``).

``event()`` runs on the caller's thread, does no I/O and never waits: it builds the Event and
offers it to the broadcaster's incoming queue, which drops it (counted, logged) when full.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, runtime_checkable

import msgspec

from kubevents._recorderbase.gocompat import go_unix_nano, sprintf
from kubevents._recorderbase.util import NAMESPACE_DEFAULT, generate_event_name, validate_event_type
from kubevents.clock import Clock, RealClock
from kubevents.model import Event, EventSource, ObjectMeta, ObjectReference, Time, get_reference

__all__ = ["EventRecorder", "Recorder"]

log = logging.getLogger("kubevents.record")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_SECOND_NS = 1_000_000_000
# The date and time of day of the last whole second seen, (unix seconds, fields): a Time is
# then one constructor call (arithmetic on a datetime subclass is several times slower).
# Replaced whole, so threads always see a consistent pair.
_last_second: tuple[int, tuple[int, int, int, int, int, int]] = (0, (1970, 1, 1, 0, 0, 0))


def _time_of_unix_nanos(nanos: int) -> Time:
    """The ``Time`` ``nanos`` after the epoch, truncated to microseconds."""
    global _last_second
    seconds, fraction = divmod(nanos, _SECOND_NS)
    cached, fields = _last_second
    if seconds != cached:
        utc = _EPOCH + timedelta(seconds=seconds)
        fields = (utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second)
        _last_second = (seconds, fields)
    year, month, day, hour, minute, second = fields
    return Time(year, month, day, hour, minute, second, fraction // 1000, UTC)


@runtime_checkable
class EventRecorder(Protocol):
    """What a controller records events with (client-go's ``EventRecorder``).

    Implemented by the broadcaster's recorders and by ``FakeRecorder``; type controller code
    against this protocol so tests can swap in the fake.
    """

    def event(self, obj: Any, type: str, reason: str, message: str) -> None:
        """Record an event about ``obj`` (any object ``get_reference`` accepts)."""
        ...

    def eventf(self, obj: Any, type: str, reason: str, fmt: str, *args: Any) -> None:
        """Like ``event``, with the message ``fmt % args``."""
        ...

    def annotated_eventf(
        self,
        obj: Any,
        annotations: Mapping[str, str] | None,
        type: str,
        reason: str,
        fmt: str,
        *args: Any,
    ) -> None:
        """Like ``eventf``, and the event carries ``annotations``."""
        ...

    def with_logger(self, logger: logging.Logger) -> EventRecorder:
        """The same recorder, logging its own errors to ``logger``."""
        ...


# Takes a built event and returns whether it was queued; never raises.
SubmitFunc = Callable[[Event, logging.Logger], bool]
# Invalid calls (no reference, bad type) are counted by the broadcaster.
InvalidFunc = Callable[[], None]


class Recorder:
    """An ``EventRecorder`` feeding an ``EventBroadcaster``; made by ``new_recorder``."""

    __slots__ = ("_clock", "_invalid", "_logger", "_real_clock", "_source", "_submit")

    def __init__(
        self,
        source: EventSource,
        clock: Clock,
        submit: SubmitFunc,
        invalid: InvalidFunc,
        logger: logging.Logger | None = None,
    ) -> None:
        # One copy for all events of this recorder: nothing downstream mutates it.
        self._source = msgspec.structs.replace(source)
        self._clock = clock
        self._real_clock = type(clock) is RealClock
        self._submit = submit
        self._invalid = invalid
        self._logger = logger or log

    @property
    def source(self) -> EventSource:
        return self._source

    def with_logger(self, logger: logging.Logger) -> Recorder:
        return Recorder(self._source, self._clock, self._submit, self._invalid, logger)

    def event(self, obj: Any, type: str, reason: str, message: str) -> None:
        self._generate(obj, None, type, reason, message)

    def eventf(self, obj: Any, type: str, reason: str, fmt: str, *args: Any) -> None:
        self._generate(obj, None, type, reason, sprintf(fmt, args))

    def annotated_eventf(
        self,
        obj: Any,
        annotations: Mapping[str, str] | None,
        type: str,
        reason: str,
        fmt: str,
        *args: Any,
    ) -> None:
        self._generate(obj, annotations, type, reason, sprintf(fmt, args))

    def _generate(
        self,
        obj: Any,
        annotations: Mapping[str, str] | None,
        event_type: str,
        reason: str,
        message: str,
    ) -> None:
        # client-go's order: reference first, then the type, then build and queue.
        try:
            ref = get_reference(obj)
        except Exception as exc:
            self._invalid()
            self._logger.error(
                "Could not construct reference to %.200r, will not report event: %s "
                "(type %r, reason %r, message %r)",
                obj,
                exc,
                event_type,
                reason,
                message,
            )
            return
        if not validate_event_type(event_type):
            self._invalid()
            self._logger.error("Unsupported event type: %r", event_type)
            return
        try:
            event = self._make_event(ref, obj, annotations, event_type, reason, message)
        except Exception:
            # A recorder must never take its caller down (a broken clock, say).
            self._invalid()
            self._logger.exception("Could not build event, will not report it")
            return
        self._submit(event, self._logger)

    def _now(self) -> tuple[Time, int]:
        if self._real_clock:
            # Nanoseconds for the name, as Go has them: microseconds alone would give two
            # events about one object in the same microsecond the same name.
            nanos = time.time_ns()
            return _time_of_unix_nanos(nanos), nanos
        now = self._clock.now()
        return Time.of(now), go_unix_nano(now)

    def _make_event(
        self,
        ref: ObjectReference,
        obj: Any,
        annotations: Mapping[str, str] | None,
        event_type: str,
        reason: str,
        message: str,
    ) -> Event:
        now, nanos = self._now()
        source = self._source
        return Event(
            metadata=ObjectMeta(
                name=generate_event_name(ref.name, nanos),
                namespace=ref.namespace or NAMESPACE_DEFAULT,
                # Go shares the caller's map; a copy keeps a queued event safe from later
                # mutation. An empty map is omitted on the wire, as Go's omitempty does.
                annotations=dict(annotations) if annotations else None,
            ),
            # The event holds the reference by value, even when the caller passed a reference.
            involved_object=msgspec.structs.replace(ref) if ref is obj else ref,
            reason=reason,
            message=message,
            source=source,
            first_timestamp=now,
            last_timestamp=now,
            count=1,
            type=event_type,
            reporting_controller=source.component,
            reporting_instance=source.host,
        )

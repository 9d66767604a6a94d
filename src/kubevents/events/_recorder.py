"""The events.k8s.io/v1 recorder: client-go ``tools/events``' ``recorderImpl``.

``eventf()`` runs on the caller's thread, does no I/O and never waits: it builds the Event and
offers it to the broadcaster, which queues it or, when the incoming queue is full, drops and
logs it (client-go v0.38's ``ActionOrDrop``).
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, runtime_checkable

import msgspec

from kubevents._recorderbase.gocompat import go_unix_nano, sprintf
from kubevents._recorderbase.util import NAMESPACE_DEFAULT, generate_event_name, validate_event_type
from kubevents.clock import Clock, RealClock
from kubevents.model import EventsV1Event, MicroTime, ObjectMeta, ObjectReference, get_reference

__all__ = ["EventRecorder", "Recorder", "reporting_instance_for"]

log = logging.getLogger("kubevents.events")

_EPOCH = MicroTime.of(datetime(1970, 1, 1, tzinfo=UTC))


@runtime_checkable
class EventRecorder(Protocol):
    """What a controller records events.k8s.io/v1 Events with (client-go's ``EventRecorder``).

    Implemented by the broadcaster's recorders, the legacy adapter and ``FakeRecorder``; type
    controller code against this protocol so tests can swap in the fake.
    """

    def eventf(
        self,
        regarding: Any,
        related: Any,
        type: str,
        reason: str,
        action: str,
        note: str,
        *args: Any,
    ) -> None:
        """Record that ``action`` happened to ``regarding`` (and ``related``, may be None).

        The note is ``note % args``.
        """
        ...

    def with_logger(self, logger: logging.Logger) -> EventRecorder:
        """The same recorder, logging its own errors to ``logger``."""
        ...


# Takes a built event and returns whether it was queued (else dropped); never raises.
SubmitFunc = Callable[[EventsV1Event, logging.Logger], bool]
# Invalid calls (no reference, bad type) are counted by the broadcaster.
InvalidFunc = Callable[[], None]


def reporting_instance_for(reporting_controller: str) -> str:
    """``controller + "-" + hostname``; a failing hostname lookup gives ``"controller-"``."""
    try:
        hostname = socket.gethostname()
    except OSError:
        hostname = ""
    return f"{reporting_controller}-{hostname}"


class Recorder:
    """An ``EventRecorder`` feeding an ``EventBroadcaster``; made by ``new_recorder``."""

    __slots__ = (
        "_clock",
        "_invalid",
        "_logger",
        "_real_clock",
        "_submit",
        "reporting_controller",
        "reporting_instance",
    )

    def __init__(
        self,
        reporting_controller: str,
        reporting_instance: str,
        clock: Clock,
        submit: SubmitFunc,
        invalid: InvalidFunc,
        logger: logging.Logger | None = None,
    ) -> None:
        self.reporting_controller = reporting_controller
        self.reporting_instance = reporting_instance
        self._clock = clock
        self._real_clock = type(clock) is RealClock
        self._submit = submit
        self._invalid = invalid
        self._logger = logger or log

    def with_logger(self, logger: logging.Logger) -> Recorder:
        return Recorder(
            self.reporting_controller,
            self.reporting_instance,
            self._clock,
            self._submit,
            self._invalid,
            logger,
        )

    def eventf(
        self,
        regarding: Any,
        related: Any,
        type: str,
        reason: str,
        action: str,
        note: str,
        *args: Any,
    ) -> None:
        try:
            event_time, nanos = self._now()
        except Exception:
            # A recorder must never take its caller down (a broken clock, say).
            self._invalid()
            self._logger.exception("Could not read the clock, will not report event")
            return
        message = sprintf(note, args)
        # client-go's order: regarding's reference, related's (failure only drops it), the
        # type; then build and queue.
        try:
            ref_regarding = get_reference(regarding)
        except Exception as exc:
            self._invalid()
            self._logger.error(
                "Could not construct reference to %.200r, will not report event: %s "
                "(type %r, reason %r, message %r)",
                regarding,
                exc,
                type,
                reason,
                message,
            )
            return
        ref_related: ObjectReference | None = None
        if related is not None:
            try:
                ref_related = get_reference(related)
            except Exception as exc:
                self._logger.debug("Could not construct reference to %.200r: %s", related, exc)
        if not validate_event_type(type):
            self._invalid()
            self._logger.error("Unsupported event type: %r", type)
            return
        try:
            event = make_event(
                ref_regarding,
                ref_related,
                event_time,
                nanos,
                type,
                reason,
                message,
                self.reporting_controller,
                self.reporting_instance,
                action,
            )
        except Exception:
            self._invalid()
            self._logger.exception("Could not build event, will not report it")
            return
        self._submit(event, self._logger)

    def _now(self) -> tuple[MicroTime, int]:
        if self._real_clock:
            # Nanoseconds for the name, as Go has them: microseconds alone would give two
            # events about one object in the same microsecond the same name.
            nanos = time.time_ns()
            return _EPOCH + timedelta(microseconds=nanos // 1000), nanos
        now = self._clock.now()
        return MicroTime.of(now), go_unix_nano(now)


def make_event(
    regarding: ObjectReference,
    related: ObjectReference | None,
    event_time: MicroTime,
    unix_nanos: int,
    event_type: str,
    reason: str,
    note: str,
    reporting_controller: str,
    reporting_instance: str,
    action: str,
) -> EventsV1Event:
    """client-go's ``makeEvent``: the event for one ``eventf`` call (no series yet)."""
    return EventsV1Event(
        metadata=ObjectMeta(
            name=generate_event_name(regarding.name, unix_nanos),
            # The API server only accepts events about cluster-scoped objects in "default"
            # (or "kube-system").
            namespace=regarding.namespace or NAMESPACE_DEFAULT,
        ),
        event_time=event_time,
        reporting_controller=reporting_controller,
        reporting_instance=reporting_instance,
        action=action,
        reason=reason,
        # By value, even when the caller passed a reference: the queued event must not change
        # with the caller's object.
        regarding=msgspec.structs.replace(regarding),
        related=None if related is None else msgspec.structs.replace(related),
        note=note,
        type=event_type,
    )

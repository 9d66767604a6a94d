"""An occurrence: one (Event uid, count) the API server showed, with a stable id.

Every count bump of an Event is a separate occurrence. Its id ``<uid>:<count>`` is the same
whichever exporter, replay or relist produces it, so sinks can make writes idempotent.

An occurrence's own time is whatever the Event's author wrote (years 0001-9999 pass the API).
What a sink files it under (a daily index, the store's retention clock) is its *filing time*:
its own time when that lies in a ``TimeWindow`` around now, else the Event's
``creationTimestamp`` (set by the API server; clients cannot choose it) when that does, else
the nearest edge of the window. Documents keep every original time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import msgspec

from kubevents.export._enrichment import Enrichment
from kubevents.export._fields import EventFields

__all__ = [
    "Occurrence",
    "TimeWindow",
    "file_between",
    "occurrence_count",
    "occurrence_time",
]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MIN = datetime.min.replace(tzinfo=UTC)
_MAX = datetime.max.replace(tzinfo=UTC)
_ZERO = timedelta(0)


def occurrence_count(event: EventFields) -> int:
    """The occurrence number: ``series.count`` for events.k8s.io-style events, else ``count``.

    A count of 0 (events created without one, e.g. by kopf) is the first occurrence.
    """
    if event.series is not None and event.series.count > 0:
        return event.series.count
    return event.count if event.count > 0 else 1


def occurrence_time(event: EventFields) -> datetime:
    """When this occurrence happened (not when it was seen).

    ``series.lastObservedTime`` / ``eventTime`` for events.k8s.io-style events, else
    ``lastTimestamp``, else ``firstTimestamp``, else the object's creation time.
    """
    if event.series is not None and event.series.last_observed_time is not None:
        return event.series.last_observed_time
    if event.event_time is not None and event.last_timestamp is None:
        return event.event_time
    return (
        event.last_timestamp
        or event.first_timestamp
        or event.event_time
        or event.metadata.creation_timestamp
        or _EPOCH
    )


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """How far an occurrence's own time may lie before / after now and still be filed under it.

    A genuine occurrence is at most as old as the API server keeps Events (``--event-ttl``: an
    hour by default, days at the most in practice) and ahead of now by a reporter's clock skew
    at the most (seconds). The defaults leave every genuine occurrence where it is: 30 days
    back is the sinks' default retention, so out-of-window times cost no more daily indices
    than normal operation keeps anyway; an hour ahead allows for a badly skewed node clock.
    """

    past: timedelta = timedelta(days=30)
    future: timedelta = timedelta(hours=1)

    def bounds(self, now: datetime) -> tuple[datetime, datetime]:
        """The earliest and latest filing time at ``now`` (Python's calendar bounds both)."""
        past, future = self.past, self.future
        try:
            low = now - past
        except OverflowError:
            low = _MIN if past > _ZERO else _MAX
        try:
            high = now + future
        except OverflowError:
            high = _MIN if future < _ZERO else _MAX
        return low, high

    def file(self, when: datetime, created: datetime | None, now: datetime) -> datetime:
        """The filing time of an occurrence at ``when`` of an Event created at ``created``."""
        return file_between(when, created, *self.bounds(now))


def file_between(
    when: datetime, created: datetime | None, low: datetime, high: datetime
) -> datetime:
    """``when`` if in ``[low, high]``, else ``created`` if that is, else the nearer edge."""
    if low <= when <= high:
        return when
    if created is not None and low <= created <= high:
        return created
    return low if when < low else high


# A Struct, not a frozen dataclass: one is built per occurrence, and a frozen dataclass sets
# each field through object.__setattr__ (ten times the cost). Not tracked by the garbage
# collector: nothing it holds can refer back to it.
class Occurrence(msgspec.Struct, frozen=True, gc=False):
    """One occurrence to export: the Event's fields, the server's exact JSON and its identity.

    ``time`` is the occurrence's own time (what documents show); ``filing_time`` is the time
    sinks file it under (see the module docstring): the same unless a ``TimeWindow`` moved it.
    Copy one with a change with ``msgspec.structs.replace``. ``enrichment`` is set by the
    enricher when ``enrich`` is configured (``_enrich``), else None.
    """

    id: str
    uid: str
    count: int
    time: datetime
    filing_time: datetime
    event: EventFields
    raw: bytes
    cluster: str
    resource_version: str
    enrichment: Enrichment | None = None

    @classmethod
    def of(
        cls,
        event: EventFields,
        raw: bytes,
        cluster: str,
        window: TimeWindow | None = None,
        now: datetime | None = None,
    ) -> Occurrence:
        """The occurrence ``event`` shows; ``window`` (None: none) bounds its filing time."""
        if window is None:
            return cls.filed_between(event, raw, cluster, None)
        return cls.filed_between(
            event, raw, cluster, window.bounds(datetime.now(UTC) if now is None else now)
        )

    @classmethod
    def filed_between(
        cls,
        event: EventFields,
        raw: bytes,
        cluster: str,
        bounds: tuple[datetime, datetime] | None,
    ) -> Occurrence:
        """Like ``of``, with the window's ``bounds`` at some instant already worked out.

        A stream files thousands of occurrences a second against a window of days: its
        bounds need working out once a second, not once per occurrence.
        """
        # ``occurrence_count`` and ``occurrence_time``, inline: this runs once per occurrence.
        meta, series = event.metadata, event.series
        when = None
        if series is not None:
            count = series.count if series.count > 0 else event.count if event.count > 0 else 1
            when = series.last_observed_time
        else:
            count = event.count if event.count > 0 else 1
        if when is None:
            if event.event_time is not None and event.last_timestamp is None:
                when = event.event_time
            else:
                when = (
                    event.last_timestamp
                    or event.first_timestamp
                    or event.event_time
                    or meta.creation_timestamp
                    or _EPOCH
                )
        filing = when
        if bounds is not None and not bounds[0] <= when <= bounds[1]:
            filing = file_between(when, meta.creation_timestamp, *bounds)
        uid = meta.uid
        return cls(
            f"{uid}:{count}", uid, count, when, filing, event, raw, cluster, meta.resource_version
        )

    @property
    def clamped(self) -> str | None:
        """``"past"`` / ``"future"``: which side of its ``TimeWindow`` the own time fell on."""
        if self.filing_time == self.time:
            return None
        return "past" if self.time < self.filing_time else "future"

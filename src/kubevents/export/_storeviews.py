"""The store's reads for a browser (``kubevents ui``), beside ``query`` and ``stats``.

A page of the newest matching occurrences before a cursor, the occurrences of a window counted
per time bucket and type, and every occurrence about one object. Each is built on
``QueryFilter.where``, so it filters exactly as ``kubevents query`` does; ``EventStore`` runs
the statements (``page``, ``timeline``, ``object_history``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from kubevents.export.sinks.sqlite import from_micros, to_micros

__all__ = [
    "PageCursor",
    "Timeline",
    "TimelineBucket",
    "choose_step",
    "object_sql",
    "page_sql",
    "timeline_of",
    "timeline_sql",
    "window_of",
]

# Round steps, so that bucket edges fall on times people read: whole minutes, hours, days.
_STEPS = tuple(
    timedelta(seconds=s)
    for s in (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600,
              43200, 86400, 172800, 604800, 2592000)
)  # fmt: skip
_CURSOR = re.compile(r"(-?\d{1,19})\.(\d{1,19})")


@dataclass(frozen=True, slots=True)
class PageCursor:
    """Where a page ends: the filing time (unix µs) and ``seq`` of its oldest row.

    Times repeat (``lastTimestamp`` has whole seconds), so the ``seq`` breaks ties: the next
    page neither repeats nor skips a row.
    """

    time: int
    seq: int

    def token(self) -> str:
        return f"{self.time}.{self.seq}"

    @classmethod
    def parse(cls, token: str) -> PageCursor:
        match = _CURSOR.fullmatch(token)
        if match is None:
            raise ValueError(f"{token!r} is not a page cursor (TIME.SEQ)")
        return cls(int(match[1]), int(match[2]))


@dataclass(frozen=True, slots=True)
class TimelineBucket:
    """Occurrences filed in ``[start, start + step)``, by type (``other``: neither type)."""

    start: datetime
    normal: int = 0
    warning: int = 0
    other: int = 0

    @property
    def total(self) -> int:
        return self.normal + self.warning + self.other


@dataclass(frozen=True, slots=True)
class Timeline:
    """Every bucket of ``[start, end)``, the empty ones included, oldest first (``end`` is the
    last bucket's end: a whole number of steps after ``start``)."""

    start: datetime
    end: datetime
    step: timedelta
    buckets: list[TimelineBucket]

    @property
    def total(self) -> int:
        return sum(b.total for b in self.buckets)


def choose_step(start: datetime, end: datetime, buckets: int) -> timedelta:
    """The smallest round step that cuts ``[start, end)`` into at most ``buckets`` buckets."""
    span = end - start
    for step in _STEPS:
        if span <= step * buckets:
            return step
    return _STEPS[-1] * -(-span // (_STEPS[-1] * buckets))


def page_sql(
    select: str, where: str, params: list[Any], before: PageCursor | None, size: int
) -> tuple[str, list[Any]]:
    """The newest ``size`` matching rows older than ``before``, newest first."""
    if before is not None:
        where = f"({where}) AND (time < ? OR (time = ? AND seq < ?))"
        params = [*params, before.time, before.time, before.seq]
    return f"{select} WHERE {where} ORDER BY time DESC, seq DESC LIMIT ?", [*params, size]


def object_sql(
    select: str, where: str, params: list[Any], namespace: str, limit: int
) -> tuple[str, list[Any]]:
    """The newest ``limit`` rows about the object in ``namespace`` (``""``: cluster-scoped),
    oldest first; ``where`` selects its kind and name."""
    # The involved object's namespace: a store may leave it NULL where it is the Event's own.
    newest = (
        f"{select} WHERE ({where}) AND coalesce(involved_namespace, namespace) = ? "
        "ORDER BY time DESC, seq DESC LIMIT ?"
    )
    return f"SELECT * FROM ({newest}) ORDER BY time, seq", [*params, namespace, limit]


def timeline_sql(
    where: str, params: list[Any], start: datetime, step: timedelta
) -> tuple[str, list[Any]]:
    """Counts per (bucket number, type); rows before ``start`` must be filtered by ``where``."""
    return (
        f"SELECT (time - ?) / ? AS bucket, type, count(*) FROM occurrences WHERE {where} "
        "GROUP BY bucket, type",
        [to_micros(start), step // timedelta(microseconds=1), *params],
    )


def timeline_of(
    rows: list[tuple[Any, ...]], start: datetime, end: datetime, step: timedelta
) -> Timeline:
    """The ``Timeline`` of ``timeline_sql``'s rows."""
    n = max(1, -(-(end - start) // step))
    counts = [[0, 0, 0] for _ in range(n)]
    for bucket, type_, count in rows:
        if not isinstance(bucket, int) or not 0 <= bucket < n:
            continue  # filed at the window's very end by a clock that moved; not in the window
        # The store compares types case-insensitively; so does the timeline.
        kind = str(type_).casefold()
        counts[bucket][0 if kind == "normal" else 1 if kind == "warning" else 2] += int(count)
    return Timeline(
        start=start,
        end=start + step * n,
        step=step,
        buckets=[
            TimelineBucket(start + step * i, normal, warning, other)
            for i, (normal, warning, other) in enumerate(counts)
        ],
    )


def window_of(first: Any, last: Any) -> tuple[datetime, datetime] | None:
    """The window that holds every time from ``first`` to ``last`` (unix µs), or None."""
    if not isinstance(first, int) or not isinstance(last, int):
        return None
    return from_micros(first), from_micros(last) + timedelta(microseconds=1)

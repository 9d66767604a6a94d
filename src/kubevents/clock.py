"""Clocks and durations.

Every time-dependent component of kubevents takes a clock, so tests never sleep. The one
grammar for durations a person writes (the exporter's configuration, ``kubevents query
--since``) is ``parse_duration``.
"""

from __future__ import annotations

import re
import threading
from datetime import UTC, datetime, timedelta
from typing import Protocol, runtime_checkable

__all__ = ["Clock", "FakeClock", "RealClock", "parse_duration"]

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")
_DURATION = re.compile(rf"(?:{_DURATION_PART.pattern})+|\d+(?:\.\d+)?")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}


def parse_duration(value: str | float) -> float:
    """Seconds in a number, or in ``500ms``, ``90s``, ``5m``, ``1h30m``, ``2d``, ``1w``.

    A string is one or more ``<number><unit>`` parts with no space between them (Go's
    ``time.ParseDuration`` without the sign, plus days and weeks), or a bare number of seconds;
    whitespace around it is ignored. ``ValueError`` says why anything else is not a duration.
    Bounds (finite, not negative, a maximum) are the caller's: what is sensible depends on the
    setting.
    """
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"expected a duration like 30s, 5m or 1h, got {value!r}")
    if not isinstance(value, str):
        return float(value)
    text = value.strip()
    if _DURATION.fullmatch(text) is None:
        raise ValueError(f"invalid duration {value!r} (use e.g. 500ms, 30s, 5m, 1h30m, 2d)")
    if text[-1].isdigit():
        return float(text)
    return sum(float(number) * _UNITS[unit] for number, unit in _DURATION_PART.findall(text))


@runtime_checkable
class Clock(Protocol):
    """What every time-dependent component of kubevents reads the time from."""

    def now(self) -> datetime:
        """The current time, timezone-aware, in UTC."""
        ...


class RealClock:
    """The wall clock."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class FakeClock:
    """A clock that moves only when told to. Thread-safe."""

    def __init__(self, start: datetime | None = None) -> None:
        start = start if start is not None else datetime(2024, 1, 1, tzinfo=UTC)
        if start.tzinfo is None:
            raise ValueError("FakeClock needs a timezone-aware start time")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def step(self, seconds: float) -> datetime:
        """Move forward (or back, if negative) by ``seconds``; return the new time."""
        with self._lock:
            self._now += timedelta(seconds=seconds)
            return self._now

    def set(self, when: datetime) -> None:
        if when.tzinfo is None:
            raise ValueError("FakeClock.set needs a timezone-aware time")
        with self._lock:
            self._now = when.astimezone(UTC)

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from kubevents.clock import Clock, FakeClock, RealClock


def test_real_clock_is_aware_utc() -> None:
    now = RealClock().now()
    assert now.tzinfo is UTC
    assert abs(now - datetime.now(UTC)) < timedelta(minutes=1)


def test_fake_clock_moves_only_when_told() -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    clock = FakeClock(start)
    assert isinstance(clock, Clock)
    assert clock.now() == start
    assert clock.step(1.5) == start + timedelta(seconds=1.5)
    assert clock.now() == start + timedelta(seconds=1.5)
    clock.set(datetime(2024, 1, 1, 5, tzinfo=timezone(timedelta(hours=5))))
    assert clock.now() == start and clock.now().tzinfo is UTC


def test_fake_clock_refuses_naive_times() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        FakeClock(datetime(2024, 1, 1))  # noqa: DTZ001 - the point of the test

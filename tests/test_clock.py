from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from kubevents.clock import Clock, FakeClock, RealClock, parse_duration


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


def test_one_duration_grammar() -> None:
    cases = {"500ms": 0.5, " 30s ": 30, "90": 90, "1.5": 1.5, "1h30m": 5400, "1w": 604800}
    for text, seconds in cases.items():
        assert parse_duration(text) == seconds, text
    assert parse_duration(7) == 7.0
    for bad in ("", "1h 30m", "30 s", "-5s", "soon", ".5s", "1e3", "5x"):
        with pytest.raises(ValueError, match="invalid duration"):
            parse_duration(bad)
    with pytest.raises(ValueError, match="expected a duration"):
        parse_duration(True)

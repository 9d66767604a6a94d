"""The decoded-time cache: same values as an uncached parse, bounded, type-correct."""

from __future__ import annotations

from datetime import UTC, datetime

from kubevents.model import MicroTime, Time, _wire


def test_a_cached_time_equals_a_fresh_parse_and_keeps_its_type() -> None:
    for typ in (Time, MicroTime):
        first = _wire.dec_hook(typ, "2024-05-01T12:00:00.123456+02:00")
        again = _wire.dec_hook(typ, "2024-05-01T12:00:00.123456+02:00")
        assert type(first) is typ and type(again) is typ
        assert first == again == typ.parse("2024-05-01T12:00:00.123456+02:00")
        assert first == datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)
    # The same string as the other wire type is not served from the first one's entry.
    assert type(_wire.dec_hook(MicroTime, "2024-05-01T12:00:00Z")) is MicroTime
    assert type(_wire.dec_hook(Time, "2024-05-01T12:00:00Z")) is Time


def test_the_cache_stays_bounded() -> None:
    for second in range(_wire._TIME_CACHE_MAX + 100):
        _wire.dec_hook(Time, f"2024-05-01T{second // 3600 % 24:02d}:{second // 60 % 60:02d}:"
                             f"{second % 60:02d}Z")  # fmt: skip
        assert len(_wire._time_cache) <= _wire._TIME_CACHE_MAX

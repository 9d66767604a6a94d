"""TokenBucket: golang.org/x/time/rate AllowN semantics with client-go's float32 qps."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubevents.clock import FakeClock
from kubevents.record._ratelimit import TokenBucket, float32

DEFAULT_QPS = 1 / 300
DEFAULT_BURST = 25
# float64(float32(1/300)): what the bucket really refills per second.
LIMIT_1_300 = 0.0033333334140479565
T0 = datetime(2024, 1, 1, tzinfo=UTC)
T0_NS = 1_704_067_200 * 10**9
SECOND_NS = 10**9


class CountingClock(FakeClock):
    def __init__(self, start: datetime) -> None:
        super().__init__(start)
        self.reads = 0

    def now(self) -> datetime:
        self.reads += 1
        return super().now()


def drain(bucket: TokenBucket, at_ns: int) -> int:
    """Take tokens at one instant until refused; return how many were taken."""
    taken = 0
    while bucket.allow_at(at_ns):
        taken += 1
        assert taken <= 10_000, "bucket never refused"
    return taken


class TestFloat32:
    def test_default_qps_narrowed(self) -> None:
        assert float32(DEFAULT_QPS) == LIMIT_1_300
        assert TokenBucket(DEFAULT_QPS, 1, FakeClock()).limit == LIMIT_1_300
        assert LIMIT_1_300 != DEFAULT_QPS

    def test_overflow_and_underflow(self) -> None:
        assert float32(1e39) == math.inf
        assert float32(-1e39) == -math.inf
        assert float32(1e-50) == 0.0
        assert float32(0.5) == 0.5


class TestTryAccept:
    def test_starts_full_then_one_token_per_300_seconds(self) -> None:
        clock = FakeClock(T0)
        bucket = TokenBucket(DEFAULT_QPS, DEFAULT_BURST, clock)
        assert [bucket.try_accept() for _ in range(DEFAULT_BURST)] == [True] * DEFAULT_BURST
        assert not bucket.try_accept()
        clock.set(T0 + timedelta(seconds=299.99999))
        assert not bucket.try_accept()
        # 300 s of refill at the float32 rate is 1.0000000242 tokens.
        clock.set(T0 + timedelta(seconds=300))
        assert bucket.try_accept()
        assert not bucket.try_accept()
        clock.set(T0 + timedelta(seconds=600))
        assert bucket.try_accept()
        assert not bucket.try_accept()

    def test_reads_the_clock_once_per_call(self) -> None:
        clock = CountingClock(T0)
        bucket = TokenBucket(DEFAULT_QPS, 1, clock)
        bucket.try_accept()
        bucket.try_accept()
        assert clock.reads == 2

    def test_starts_full_whatever_the_first_time(self) -> None:
        for start_ns in (0, -SECOND_NS, T0_NS, 2**63 - 1):
            assert drain(TokenBucket(DEFAULT_QPS, 3, FakeClock()), start_ns) == 3

    def test_nanosecond_boundary_of_one_token(self) -> None:
        # One token takes 299.99999273568 s. Go turns the remaining deficit into a wait of whole
        # (truncated) nanoseconds and accepts a zero wait, so at 299999992735 ns the token count
        # after taking one is still slightly negative (-2.3e-12) and the call is accepted anyway.
        accepted_at = 299_999_992_735
        tokens_after = (accepted_at / SECOND_NS) * LIMIT_1_300 - 1
        assert tokens_after < 0
        assert -tokens_after < LIMIT_1_300 * 1e-9

        early = TokenBucket(DEFAULT_QPS, 1, FakeClock())
        assert early.allow_at(T0_NS)
        assert not early.allow_at(T0_NS + accepted_at - 1)

        boundary = TokenBucket(DEFAULT_QPS, 1, FakeClock())
        assert boundary.allow_at(T0_NS)
        assert boundary.allow_at(T0_NS + accepted_at)

    def test_reject_changes_nothing(self) -> None:
        bucket = TokenBucket(DEFAULT_QPS, 1, FakeClock())
        assert bucket.allow_at(T0_NS)
        # Had this refusal moved the refill timestamp to +100 s, the +300 s call would find only
        # 200 s of refill and be refused as well.
        assert not bucket.allow_at(T0_NS + 100 * SECOND_NS)
        assert bucket.allow_at(T0_NS + 300 * SECOND_NS)

    def test_repeated_rejects_do_not_drain_the_refill(self) -> None:
        bucket = TokenBucket(DEFAULT_QPS, 1, FakeClock())
        assert bucket.allow_at(T0_NS)
        for second in range(1, 300):
            assert not bucket.allow_at(T0_NS + second * SECOND_NS)
        assert bucket.allow_at(T0_NS + 300 * SECOND_NS)

    def test_clock_going_backwards(self) -> None:
        bucket = TokenBucket(DEFAULT_QPS, 3, FakeClock())
        assert bucket.allow_at(T0_NS + 1000 * SECOND_NS)  # 2 left, last = T0+1000 s
        # Earlier than last: no refill, but the call is accepted and last moves back to T0.
        assert bucket.allow_at(T0_NS)  # 1 left
        # Refill is measured from T0 now, so +300 s brings 1.00000002 tokens: two more calls.
        assert bucket.allow_at(T0_NS + 300 * SECOND_NS)
        assert bucket.allow_at(T0_NS + 300 * SECOND_NS)
        assert not bucket.allow_at(T0_NS + 300 * SECOND_NS)

    def test_clock_going_backwards_when_empty(self) -> None:
        bucket = TokenBucket(DEFAULT_QPS, 1, FakeClock())
        assert bucket.allow_at(T0_NS)
        assert not bucket.allow_at(T0_NS - 1000 * SECOND_NS)
        assert bucket.allow_at(T0_NS + 300 * SECOND_NS)

    @pytest.mark.parametrize("burst", [0, -1])
    def test_no_burst_never_accepts(self, burst: int) -> None:
        bucket = TokenBucket(DEFAULT_QPS, burst, FakeClock())
        assert not bucket.allow_at(T0_NS)
        assert not bucket.allow_at(T0_NS + 10**6 * SECOND_NS)

    @pytest.mark.parametrize("qps", [0.0, -1.0, 1e-50])
    def test_non_positive_rate_never_refills(self, qps: float) -> None:
        bucket = TokenBucket(qps, 2, FakeClock())
        assert drain(bucket, T0_NS) == 2
        assert not bucket.allow_at(T0_NS + 10**9 * SECOND_NS)

    @pytest.mark.parametrize("qps", [math.inf, 1e39, math.nan])
    def test_infinite_or_nan_rate_always_accepts(self, qps: float) -> None:
        # 0 s elapsed times an infinite rate is NaN in Go too; NaN tokens are never negative.
        bucket = TokenBucket(qps, 1, FakeClock())
        assert all(bucket.allow_at(T0_NS) for _ in range(100))

    def test_fast_rate(self) -> None:
        bucket = TokenBucket(10.0, 2, FakeClock())
        assert drain(bucket, T0_NS) == 2
        assert not bucket.allow_at(T0_NS + 99_999_998)
        # One nanosecond short, the deficit rounds down to a zero wait: accepted, as in Go.
        assert bucket.allow_at(T0_NS + 99_999_999)
        assert not bucket.allow_at(T0_NS + 100_000_000)
        # A long idle period refills only up to the burst.
        assert drain(bucket, T0_NS + 3600 * SECOND_NS) == 2


offsets = st.lists(st.integers(min_value=0, max_value=400 * SECOND_NS), min_size=1, max_size=60)


@given(
    qps=st.sampled_from([DEFAULT_QPS, 0.5, 1.0, 3.0, 1 / 7]),
    burst=st.integers(min_value=0, max_value=30),
    gaps=offsets,
)
def test_never_accepts_more_than_burst_plus_refill(qps: float, burst: int, gaps: list[int]) -> None:
    bucket = TokenBucket(qps, burst, FakeClock())
    now = T0_NS
    accepted = 0
    for gap in gaps:
        now += gap
        accepted += bucket.allow_at(now)
        elapsed = (now - T0_NS) / SECOND_NS
        assert accepted <= burst + elapsed * bucket.limit + 1e-6


@given(
    qps=st.sampled_from([DEFAULT_QPS, 0.5, 1.0, 3.0]),
    burst=st.integers(min_value=1, max_value=5),
    gaps=offsets,
    probe_index=st.integers(min_value=0, max_value=59),
    probe_offset=st.integers(min_value=-400 * SECOND_NS, max_value=400 * SECOND_NS),
)
def test_a_rejected_call_does_not_change_later_decisions(
    qps: float, burst: int, gaps: list[int], probe_index: int, probe_offset: int
) -> None:
    plain = TokenBucket(qps, burst, FakeClock())
    probed = TokenBucket(qps, burst, FakeClock())
    probe_index %= len(gaps)
    now = T0_NS
    for index, gap in enumerate(gaps):
        now += gap
        assert probed.allow_at(now) == plain.allow_at(now)
        # An extra call at any time, earlier or later, must be invisible if it is refused.
        if index == probe_index and probed.allow_at(now + probe_offset):
            return

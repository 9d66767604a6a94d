"""Token bucket with golang.org/x/time/rate ``AllowN(now, 1)`` semantics.

This is what client-go's ``flowcontrol.NewTokenBucketPassiveRateLimiterWithClock`` does on
``TryAccept``. The floating-point steps are reproduced operation by operation (IEEE doubles in
both languages), with times as integer nanoseconds, so accept/reject decisions match Go bit for
bit, including at the boundaries.
"""

from __future__ import annotations

import math
import struct
import threading

from kubevents._recorderbase.gocompat import (
    GO_ZERO_TIME_UNIX_NANOS,
    INT64_MAX,
    INT64_MIN,
    saturating_sub,
    unix_nanos,
)
from kubevents.clock import Clock

__all__ = ["TokenBucket", "float32"]

_NANOS_PER_SECOND = 1_000_000_000
# rate.InfDuration: the wait reported when tokens can never accumulate.
_INF_DURATION = INT64_MAX
# float64(math.MaxInt64) rounds up to 2**63; Go compares the float wait against that value.
_MAX_INT64_AS_FLOAT = float(INT64_MAX)


def float32(value: float) -> float:
    """Go's ``float32(value)`` widened back to float64 (round to nearest, overflow to ±Inf)."""
    try:
        narrowed: float = struct.unpack("f", struct.pack("f", value))[0]
    except OverflowError:
        return math.copysign(math.inf, value)
    return narrowed


def _duration_seconds(nanos: int) -> float:
    """Go's ``time.Duration.Seconds()``: whole and fractional parts converted separately."""
    whole = abs(nanos) // _NANOS_PER_SECOND
    frac = abs(nanos) % _NANOS_PER_SECOND
    if nanos < 0:
        whole, frac = -whole, -frac
    return float(whole) + float(frac) / 1e9


def _float_to_duration(value: float) -> int:
    """Go's ``time.Duration(f)``: truncation toward zero."""
    if math.isnan(value):
        # Unreachable with real inputs (a NaN limit makes the token count NaN, which is never
        # negative); amd64 converts NaN to the minimum int64.
        return INT64_MIN
    return int(value)


class TokenBucket:
    """A passive token bucket: ``try_accept`` takes one token if available, never waits.

    ``qps`` is narrowed to float32 as client-go's API does, so ``1/300`` refills at
    0.0033333334140479565 tokens per second. The bucket starts full, as if last refilled at
    Go's zero time. A rejected call changes nothing, not even the refill timestamp.
    """

    def __init__(self, qps: float, burst: int, clock: Clock) -> None:
        self._limit = float32(qps)
        self._burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._last_ns = GO_ZERO_TIME_UNIX_NANOS
        self._lock = threading.Lock()

    @property
    def limit(self) -> float:
        """Refill rate in tokens per second, after float32 narrowing."""
        return self._limit

    @property
    def burst(self) -> int:
        return self._burst

    def try_accept(self) -> bool:
        """Take one token now (one clock read); False, with no state change, if none is left."""
        return self.allow_at(unix_nanos(self._clock.now()))

    def allow_at(self, now_ns: int) -> bool:
        """``AllowN(t, 1)`` for ``t`` given as exact nanoseconds since the Unix epoch."""
        with self._lock:
            tokens = self._advance(now_ns) - 1.0
            wait_ns = 0
            if tokens < 0:
                wait_ns = self._duration_from_tokens(-tokens)
            # Go accepts when the deficit is shorter than one (truncated) nanosecond of refill,
            # so a token count a hair below zero can still be accepted.
            if self._burst >= 1 and wait_ns <= 0:
                self._last_ns = now_ns
                self._tokens = tokens
                return True
            return False

    def _advance(self, now_ns: int) -> float:
        last_ns = min(self._last_ns, now_ns)
        elapsed_ns = saturating_sub(now_ns, last_ns)
        delta = 0.0 if self._limit <= 0 else _duration_seconds(elapsed_ns) * self._limit
        tokens = self._tokens + delta
        burst = float(self._burst)
        if tokens > burst:
            tokens = burst
        return tokens

    def _duration_from_tokens(self, tokens: float) -> int:
        if self._limit <= 0:
            return _INF_DURATION
        duration = (tokens / self._limit) * float(_NANOS_PER_SECOND)
        if duration > _MAX_INT64_AS_FLOAT:
            return _INF_DURATION
        return _float_to_duration(duration)

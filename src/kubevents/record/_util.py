"""Port of client-go ``tools/record/util`` plus the Go integer/time arithmetic the recorder needs.

Go's ``time.Time`` has nanosecond resolution and its durations are int64 nanoseconds that
saturate (``Sub``) or wrap (``UnixNano``, conversions). Python datetimes stop at microseconds, so
times are turned into exact integer nanoseconds here and the Go overflow rules are applied
explicitly where client-go relies on them.
"""

from __future__ import annotations

import functools
import re
import uuid
from datetime import UTC, datetime, timedelta

from kubevents.errors import StatusError
from kubevents.model import EVENT_TYPE_NORMAL, EVENT_TYPE_WARNING

__all__ = [
    "DNS1123_SUBDOMAIN_MAX_LENGTH",
    "EVENT_TYPE_NORMAL",
    "EVENT_TYPE_WARNING",
    "GO_ZERO_TIME_UNIX_NANOS",
    "INT64_MAX",
    "INT64_MIN",
    "generate_event_name",
    "go_hex",
    "go_unix_nano",
    "is_key_not_found_error",
    "saturating_sub",
    "unix_nanos",
    "validate_event_type",
    "wrap_int32",
    "wrap_int64",
    "wrap_uint64",
]

# apimachinery pkg/util/validation: IsDNS1123Subdomain.
DNS1123_SUBDOMAIN_MAX_LENGTH = 253
_DNS1123_LABEL = r"[a-z0-9]([-a-z0-9]*[a-z0-9])?"
# fullmatch, not "$": Python's "$" would also accept a trailing newline, Go's does not.
_DNS1123_SUBDOMAIN_RE = re.compile(_DNS1123_LABEL + r"(\." + _DNS1123_LABEL + r")*", re.ASCII)

_HTTP_NOT_FOUND = 404

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
# Go's zero time.Time (0001-01-01T00:00:00Z), which is outside the int64 UnixNano range.
GO_ZERO_TIME_UNIX_NANOS = -62_135_596_800 * 1_000_000_000


def validate_event_type(event_type: str) -> bool:
    """True only for exactly ``"Normal"`` or ``"Warning"`` (case-sensitive)."""
    return event_type in (EVENT_TYPE_NORMAL, EVENT_TYPE_WARNING)


def is_key_not_found_error(err: BaseException | None) -> bool:
    """True for a ``StatusError`` whose code is 404.

    Like client-go this looks at the error itself only: the reason is ignored and an exception
    that merely wraps (``raise ... from``) a 404 ``StatusError`` is not a not-found error.
    """
    return isinstance(err, StatusError) and err.code == _HTTP_NOT_FOUND


def go_hex(value: int) -> str:
    """Go's ``%x`` of an int64: lowercase, unpadded, a ``-`` sign for negative values."""
    if 0 <= value <= INT64_MAX:
        return format(value, "x")
    return format(wrap_int64(value), "x")


def generate_event_name(ref_name: str, unix_nano: int) -> str:
    """``ref_name + "." + hex(unix_nano)``, or a random UUID if that is not a DNS-1123 subdomain.

    The fallback exists because the referenced object's name need not be a valid Event name
    (kubernetes issue 127594).
    """
    hex_part = go_hex(unix_nano)
    name = f"{ref_name}.{hex_part}"
    if len(name) > DNS1123_SUBDOMAIN_MAX_LENGTH or not (
        # A non-negative hex number is a valid label, so the name is a subdomain exactly when
        # ref_name is one; that answer is cached (event() pays for the regex once per object).
        _is_dns1123_subdomain(ref_name)
        if hex_part[0] != "-"
        else _DNS1123_SUBDOMAIN_RE.fullmatch(name)
    ):
        name = str(uuid.uuid4())
    return name


@functools.lru_cache(maxsize=4096)
def _is_dns1123_subdomain(name: str) -> bool:
    return _DNS1123_SUBDOMAIN_RE.fullmatch(name) is not None


def wrap_int64(value: int) -> int:
    """Two's-complement wrap into int64, as Go's integer overflow and conversions do."""
    return ((value - INT64_MIN) % 2**64) + INT64_MIN


def wrap_uint64(value: int) -> int:
    """Go's conversion of a signed integer to ``uint`` (64-bit): negatives become huge."""
    return value % 2**64


def wrap_int32(value: int) -> int:
    """Two's-complement wrap into int32 (``Event.Count`` is an int32 in Go)."""
    return ((value + 2**31) % 2**32) - 2**31


def unix_nanos(when: datetime) -> int:
    """Exact nanoseconds since the Unix epoch, as an unbounded Python int.

    A datetime carrying an integer ``nanosecond`` attribute (0-999, as ``pandas.Timestamp``
    does) keeps that sub-microsecond part, so a clock can reproduce Go's nanosecond times.
    Integer arithmetic only: a float would lose nanoseconds for present-day times.
    """
    if when.tzinfo is None:
        raise ValueError("clock returned a naive datetime; it must be timezone-aware")
    micros = (when - _EPOCH) // _MICROSECOND
    return micros * 1000 + int(getattr(when, "nanosecond", 0))


def go_unix_nano(when: datetime) -> int:
    """Go's ``t.UnixNano()``: wraps silently outside the int64 range (years ~1678-2262)."""
    return wrap_int64(unix_nanos(when))


def saturating_sub(later_ns: int, earlier_ns: int) -> int:
    """Go's ``t.Sub(u)``: the difference in nanoseconds, clamped to the int64 Duration range."""
    return max(INT64_MIN, min(INT64_MAX, later_ns - earlier_ns))

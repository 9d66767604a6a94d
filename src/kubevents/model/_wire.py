"""Kubernetes wire scalars: ``metav1.Time``, ``metav1.MicroTime``, ``FieldsV1`` and Go's ints.

Both are ordinary timezone-aware UTC datetimes in Python. They differ only on the wire:
``Time`` prints whole seconds (the fraction is truncated, as Go does), ``MicroTime`` prints
exactly six fractional digits. Go's zero time prints as ``null``; kubevents uses ``None`` for it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Self

import msgspec

__all__ = [
    "DECODE_ERRORS",
    "FieldsV1",
    "Int32",
    "Int64",
    "MicroTime",
    "Time",
    "builtins_hook",
    "dec_hook",
    "enc_hook",
    "parse_rfc3339",
]

# Go's fixed-size integers: a value Go could not decode is rejected here too, so a count from
# the wire always fits the SQLite INTEGER and every other consumer.
Int32 = Annotated[int, msgspec.Meta(ge=-(2**31), le=2**31 - 1)]
Int64 = Annotated[int, msgspec.Meta(ge=-(2**63), le=2**63 - 1)]

# Everything a model decoder raises on bad input: msgspec's errors, ValueError (invalid UTF-8
# in a string is a UnicodeDecodeError), TypeError, and RecursionError for JSON nested deeper
# than the interpreter's recursion limit (about 1000 levels).
DECODE_ERRORS: tuple[type[Exception], ...] = (
    msgspec.MsgspecError,
    ValueError,
    TypeError,
    RecursionError,
)

# Go's zero time.Time marshals as null; a value that decodes to it is "no time".
_GO_ZERO = datetime(1, 1, 1, tzinfo=UTC)


def parse_rfc3339(value: str) -> datetime:
    """Parse an RFC 3339 timestamp (any fraction length, ``Z`` or an offset) into aware UTC.

    Raises ``ValueError`` for anything else, including a time whose UTC instant falls outside
    years 1-9999 (``9999-12-31T23:59:59-01:00``): Python cannot represent it, and Go's zero
    time is the lowest instant the API uses.
    """
    try:
        parsed = msgspec.convert(value, datetime)
    except msgspec.ValidationError:
        raise ValueError(f"invalid RFC 3339 time {value!r}") from None
    if parsed.tzinfo is None:
        raise ValueError(f"RFC 3339 time without a timezone: {value!r}")
    return _utc(parsed)


def _utc(value: datetime) -> datetime:
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError(f"time out of range in UTC: {value.isoformat()}") from None


class _WireTime(datetime):
    """An aware UTC datetime; subclasses decide the wire format."""

    __slots__ = ()

    @classmethod
    def of(cls, value: datetime) -> Self:
        """Convert an aware datetime to this type, in UTC."""
        if value.tzinfo is None:
            raise ValueError("Kubernetes times must be timezone-aware (naive datetime given)")
        if type(value) is cls and value.tzinfo is UTC:
            return value
        utc = _utc(value)
        return cls(
            utc.year,
            utc.month,
            utc.day,
            utc.hour,
            utc.minute,
            utc.second,
            utc.microsecond,
            tzinfo=UTC,
        )

    @classmethod
    def parse(cls, value: str) -> Self:
        return cls.of(parse_rfc3339(value))

    def _seconds(self) -> str:
        utc = self.astimezone(UTC)
        return (
            f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}"
            f"T{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}"
        )

    def wire(self) -> str:
        raise NotImplementedError


class Time(_WireTime):
    """``metav1.Time``: UTC; whole seconds on the wire (a fraction is kept in memory only)."""

    __slots__ = ()

    def wire(self) -> str:
        """The JSON string form: ``2006-01-02T15:04:05Z``."""
        return self._seconds() + "Z"


class MicroTime(_WireTime):
    """``metav1.MicroTime``: UTC with exactly six fractional digits on the wire."""

    __slots__ = ()

    def wire(self) -> str:
        """The JSON string form: ``2006-01-02T15:04:05.000000Z``."""
        return f"{self._seconds()}.{self.astimezone(UTC).microsecond:06d}Z"


class FieldsV1:
    """Managed-fields set, kept as the server's exact JSON bytes (its key order is its own)."""

    __slots__ = ("raw",)

    def __init__(self, raw: bytes) -> None:
        self.raw = raw

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FieldsV1) and other.raw == self.raw

    def __hash__(self) -> int:
        return hash(self.raw)

    def __repr__(self) -> str:
        return f"FieldsV1({self.raw!r})"


def enc_hook(obj: Any) -> Any:
    """msgspec JSON encode hook for the wire types of the model."""
    if isinstance(obj, Time | MicroTime):
        return None if obj == _GO_ZERO else obj.wire()
    if isinstance(obj, FieldsV1):
        return msgspec.Raw(obj.raw)
    raise NotImplementedError(f"cannot encode {type(obj).__name__}")


def builtins_hook(obj: Any) -> Any:
    """Like ``enc_hook``, for conversion to plain Python values (dicts, strings)."""
    if isinstance(obj, FieldsV1):
        return msgspec.json.decode(obj.raw)
    return enc_hook(obj)


# Decoded times by wire string. An Event carries the same instant several times (creation,
# first and last timestamp, managedFields) and a stream carries the same seconds over and over,
# so most lookups hit; datetimes are immutable, so sharing one object is safe. Bounded by
# clearing: cheaper than LRU bookkeeping on every hit.
_TIME_CACHE_MAX = 8192
_time_cache: dict[tuple[type, str], datetime] = {}


def dec_hook(typ: type, obj: Any) -> Any:
    """msgspec decode hook: strings (or datetimes) into ``Time`` / ``MicroTime``."""
    if typ is Time or typ is MicroTime:
        if isinstance(obj, str):
            key = (typ, obj)
            cached = _time_cache.get(key)
            if cached is None:
                cached = typ.parse(obj)
                if len(_time_cache) >= _TIME_CACHE_MAX:
                    _time_cache.clear()
                _time_cache[key] = cached
            return cached
        if isinstance(obj, datetime):
            return typ.of(obj)
        raise TypeError(f"expected an RFC 3339 string, got {type(obj).__name__}")
    if typ is FieldsV1:
        if not isinstance(obj, dict):
            raise TypeError(f"expected an object, got {type(obj).__name__}")
        return FieldsV1(msgspec.json.encode(obj))
    raise NotImplementedError(f"cannot decode {typ!r}")

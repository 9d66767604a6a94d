"""Go semantics the recorders reproduce: Go's string formatting and its integer and time rules.

Controller tests assert on client-go's log lines and ``FakeRecorder`` strings verbatim, and the
API server sees the names and counts Go computes, so both are reproduced exactly:

* text: ``%q`` (``go_quote``), ``%#v`` of a reference, ``fmt.Sprint`` of a map, ``%x`` of an
  int64, klog's ``KRef`` and key/value rendering, and ``sprintf`` (``fmt % args`` that never
  raises, as Go's ``Sprintf`` never fails);
* numbers: Go's time has nanoseconds and its durations are int64 nanoseconds that saturate
  (``Sub``) or wrap (``UnixNano``, conversions). Python datetimes stop at microseconds, so
  times become exact integer nanoseconds here and the overflow rules are applied explicitly.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from kubevents.model import ObjectReference

__all__ = [
    "GO_ZERO_TIME_UNIX_NANOS",
    "INT64_MAX",
    "INT64_MIN",
    "go_hex",
    "go_map",
    "go_object_reference",
    "go_quote",
    "go_unix_nano",
    "klog_pairs",
    "klog_ref",
    "saturating_sub",
    "sprintf",
    "unix_nanos",
    "wrap_int32",
    "wrap_int64",
    "wrap_uint64",
]

INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
# Go's zero time.Time (0001-01-01T00:00:00Z), which is outside the int64 UnixNano range.
GO_ZERO_TIME_UNIX_NANOS = -62_135_596_800 * 1_000_000_000

_SIMPLE_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    '"': '\\"',
    "\\": "\\\\",
}


def go_quote(value: str) -> str:
    """Go's ``strconv.Quote``: double quotes, Go escapes, printable Unicode kept as is."""
    out = ['"']
    for char in value:
        escaped = _SIMPLE_ESCAPES.get(char)
        if escaped is not None:
            out.append(escaped)
        # Python's printable set (not Other, not Separator except " ") is Go's unicode.IsPrint.
        elif char.isprintable():
            out.append(char)
        else:
            code = ord(char)
            if code < 0x20 or code == 0x7F:
                out.append(f"\\x{code:02x}")
            elif code < 0x10000:
                out.append(f"\\u{code:04x}")
            else:
                out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


def go_object_reference(ref: ObjectReference) -> str:
    """Go's ``%#v`` of a ``v1.ObjectReference`` (fields in declaration order)."""
    return (
        f"v1.ObjectReference{{Kind:{go_quote(ref.kind)}, Namespace:{go_quote(ref.namespace)}, "
        f"Name:{go_quote(ref.name)}, UID:{go_quote(ref.uid)}, "
        f"APIVersion:{go_quote(ref.api_version)}, "
        f"ResourceVersion:{go_quote(ref.resource_version)}, "
        f"FieldPath:{go_quote(ref.field_path)}}}"
    )


def go_map(values: Mapping[str, str]) -> str:
    """``fmt.Sprint`` of a ``map[string]string``: ``map[a:b c:d]``, keys sorted, no quoting."""
    return "map[" + " ".join(f"{key}:{values[key]}" for key in sorted(values)) + "]"


def klog_ref(namespace: str, name: str) -> str:
    """klog's ``KRef``: ``namespace/name``, or just the name for a cluster-scoped object."""
    return f"{namespace}/{name}" if namespace else name


def klog_pairs(fields: Mapping[str, str]) -> str:
    """klog's text rendering of key/values: ``key="value" ...``, values ``%q``-quoted."""
    return " ".join(f"{key}={go_quote(value)}" for key, value in fields.items())


def sprintf(fmt: str, args: tuple[Any, ...]) -> str:
    """``fmt % args`` with the ``logging`` conventions, never raising.

    No args: ``fmt`` is used as is. A single non-empty mapping: named ``%(key)s`` fields. A
    format/argument mismatch does not raise (Go's Sprintf never fails either); the message then
    carries the format, a ``%!(BADFORMAT ...)`` marker and the arguments.
    """
    if not args:
        return fmt
    values: Any = args
    if len(args) == 1 and isinstance(args[0], Mapping) and args[0]:
        values = args[0]
    try:
        return str(fmt % values)
    except (TypeError, ValueError, KeyError, IndexError) as exc:
        return f"{fmt} %!(BADFORMAT {exc}) {args!r}"


def go_hex(value: int) -> str:
    """Go's ``%x`` of an int64: lowercase, unpadded, a ``-`` sign for negative values."""
    if 0 <= value <= INT64_MAX:
        return format(value, "x")
    return format(wrap_int64(value), "x")


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

"""Go-compatible text for log lines and fakes: ``%q``, ``%#v`` of a reference, map printing.

client-go's ``StartLogging`` line and ``FakeRecorder`` strings are often asserted on verbatim in
controller tests, so they are reproduced byte for byte.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from kubevents.model import Event, EventsV1Event, ObjectReference

__all__ = [
    "LOG_FORMAT",
    "STRUCTURED_LOG_MESSAGE",
    "DropLog",
    "go_map",
    "go_object_reference",
    "go_quote",
    "log_args",
    "sprintf",
    "structured_fields",
    "structured_line",
]

# StartLogging's format, with Go's %#v / %v verbs turned into %s (the arguments are pre-printed).
LOG_FORMAT = "Event(%s): type: '%s' reason: '%s' %s"
STRUCTURED_LOG_MESSAGE = "Event occurred"

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


def log_args(event: Event) -> tuple[str, str, str, str]:
    """The arguments of ``LOG_FORMAT`` for ``event``."""
    return (go_object_reference(event.involved_object), event.type, event.reason, event.message)


def go_map(values: Mapping[str, str]) -> str:
    """``fmt.Sprint`` of a ``map[string]string``: ``map[a:b c:d]``, keys sorted, no quoting."""
    return "map[" + " ".join(f"{key}:{values[key]}" for key in sorted(values)) + "]"


def structured_fields(event: Event) -> dict[str, str]:
    """The key/values of client-go's structured "Event occurred" log entry, in its order."""
    ref = event.involved_object
    # klog.KRef prints "namespace/name", or just the name for cluster-scoped objects.
    obj = f"{ref.namespace}/{ref.name}" if ref.namespace else ref.name
    return {
        "object": obj,
        "fieldPath": ref.field_path,
        "kind": ref.kind,
        "apiVersion": ref.api_version,
        "type": event.type,
        "reason": event.reason,
        "message": event.message,
    }


def structured_line(fields: Mapping[str, str]) -> str:
    """klog's text rendering: ``Event occurred key="value" ...``."""
    pairs = " ".join(f"{key}={go_quote(value)}" for key, value in fields.items())
    return f"{STRUCTURED_LOG_MESSAGE} {pairs}"


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


class DropLog:
    """Logs dropped events at most once per ``interval`` seconds, with a count of the rest.

    Under overload every drop would otherwise be a log line, making ``event()`` slow exactly
    when it must be cheap.
    """

    def __init__(self, interval: float) -> None:
        self._interval = interval
        self._next = 0.0
        self._suppressed = 0

    def log(self, logger: logging.Logger, reason: str, event: Event | EventsV1Event) -> None:
        now = time.monotonic()
        # Unlocked on purpose: racing callers may log twice or miscount the suppressed lines;
        # the exact numbers are in the broadcaster's counters.
        if now < self._next:
            self._suppressed += 1
            return
        self._next = now + self._interval
        suppressed, self._suppressed = self._suppressed, 0
        ref = event.regarding if isinstance(event, EventsV1Event) else event.involved_object
        logger.error(
            "Unable to record event: %s: %s %s %s about %s %s/%s%s",
            reason, event.type, event.reason, event.metadata.name,
            ref.kind, ref.namespace, ref.name,
            f" ({suppressed} more dropped since)" if suppressed else "",
        )  # fmt: skip

"""Split a JSON object into its members without recursion, for input nested too deep to decode.

msgspec recurses once per nesting level, also when it only skips a value, so one LIST item
nested deeper than the interpreter's recursion limit makes the whole page undecodable: every
relist would fail on it, and nothing after it would ever be exported. This scanner finds the
byte spans of the page's members and of the items array's elements with a loop and a depth
counter, so each item can be decoded (and, if bad, skipped) on its own. It checks structure
only; what a span holds is for the decoder to judge. It is slow next to msgspec, and only used
when msgspec gave up.
"""

from __future__ import annotations

import re

__all__ = ["array_elements", "object_members"]

_WS = re.compile(rb"[ \t\n\r]*")
# From just after an opening quote to just after the closing one (escapes skipped).
_STRING_TAIL = re.compile(rb'[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NESTING = re.compile(rb'["\[\]{}]')
_SCALAR_END = re.compile(rb"[,\]}\s]|$")
_CLOSE = {ord("{"): ord("}"), ord("["): ord("]")}


def _skip_ws(data: bytes, pos: int) -> int:
    match = _WS.match(data, pos)
    assert match is not None  # the pattern matches the empty string
    return match.end()


def _string_end(data: bytes, pos: int) -> int | None:
    """The end of the string whose opening quote is at ``pos``."""
    match = _STRING_TAIL.match(data, pos + 1)
    return None if match is None else match.end()


def _value_end(data: bytes, pos: int) -> int | None:
    """The end of the JSON value starting at ``pos`` (None if it is not well nested)."""
    if pos >= len(data):
        return None
    first = data[pos]
    if first == ord('"'):
        return _string_end(data, pos)
    if first not in _CLOSE:
        match = _SCALAR_END.search(data, pos)
        assert match is not None  # "$" always matches
        return match.start() if match.start() > pos else None
    expected = [_CLOSE[first]]
    cursor = pos + 1
    while expected:
        match = _NESTING.search(data, cursor)
        if match is None:
            return None
        char = data[match.start()]
        if char == ord('"'):
            end = _string_end(data, match.start())
            if end is None:
                return None
            cursor = end
            continue
        cursor = match.end()
        if char in _CLOSE:
            expected.append(_CLOSE[char])
        elif char != expected.pop():
            return None
    return cursor


_Span = tuple[bytes, int, int]  # key (b"" in an array), start, end


def _items(data: bytes, pos: int, keyed: bool) -> tuple[list[_Span], int] | None:
    """The members (``keyed``) or elements of the object or array whose bracket is at ``pos``,
    and the position just after its closing bracket."""
    close = _CLOSE[data[pos]]
    out: list[_Span] = []
    cursor = _skip_ws(data, pos + 1)
    if cursor < len(data) and data[cursor] == close:
        return out, cursor + 1
    while True:
        key = b""
        if keyed:
            if cursor >= len(data) or data[cursor] != ord('"'):
                return None
            key_end = _string_end(data, cursor)
            if key_end is None:
                return None
            key = data[cursor + 1 : key_end - 1]
            cursor = _skip_ws(data, key_end)
            if cursor >= len(data) or data[cursor] != ord(":"):
                return None
            cursor = _skip_ws(data, cursor + 1)
        end = _value_end(data, cursor)
        if end is None:
            return None
        out.append((key, cursor, end))
        cursor = _skip_ws(data, end)
        if cursor >= len(data):
            return None
        if data[cursor] == close:
            return out, cursor + 1
        if data[cursor] != ord(","):
            return None
        cursor = _skip_ws(data, cursor + 1)


def _whole(data: bytes, opening: bytes, keyed: bool) -> list[_Span] | None:
    """The spans of ``data`` if it is exactly one well-nested object or array (``opening``)."""
    start = _skip_ws(data, 0)
    if not data.startswith(opening, start):
        return None
    found = _items(data, start, keyed)
    if found is None or _skip_ws(data, found[1]) != len(data):
        return None
    return found[0]


def object_members(data: bytes) -> dict[bytes, bytes] | None:
    """The members of the JSON object ``data``: raw key -> the value's bytes (last one wins).

    None when ``data`` is not exactly one well-nested object.
    """
    members = _whole(data, b"{", keyed=True)
    return None if members is None else {key: data[s:e] for key, s, e in members}


def array_elements(data: bytes) -> list[bytes] | None:
    """The elements of the JSON array ``data``; None if it is not exactly one well-nested array."""
    elements = _whole(data, b"[", keyed=False)
    return None if elements is None else [data[s:e] for _, s, e in elements]

"""``kubectl events``-shaped tables: LAST SEEN, TYPE, REASON, OBJECT, COUNT, MESSAGE.

Every cell is Event text, which anyone allowed to create Events writes: ``align_rows`` shows
control characters and bidirectional overrides as escapes (``\x1b``, ``\u202e``), so a
message cannot retitle the terminal, move the cursor or reorder what is printed around it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

__all__ = [
    "align_rows",
    "column_widths",
    "format_age",
    "printable",
]

# C0, DEL, C1, the bidi marks, embeddings, overrides and isolates (U+061C, U+200E, U+200F,
# U+202A-U+202E, U+2066-U+2069), and the Unicode line and paragraph separators.
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f"  # C0, DEL, C1
    "\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]"
)


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """``text`` with terminal control characters and bidi overrides shown as escapes."""
    return _UNSAFE.sub(_escape, text)


def format_age(seconds: float) -> str:
    """kubectl's short human durations: 45s, 3m12s, 5h3m, 2d4h."""
    s = max(0, int(seconds))
    if s < 120:
        return f"{s}s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m}m{s}s" if s and m < 10 else f"{m}m"
    h, m = divmod(m, 60)
    if h < 48:
        return f"{h}h{m}m" if m and h < 10 else f"{h}h"
    d, h = divmod(h, 24)
    return f"{d}d{h}h" if h and d < 8 else f"{d}d"


def column_widths(rows: Sequence[Sequence[str]]) -> list[int]:
    """Width of every column but the last (which is never padded), as ``align_rows`` prints."""
    return [max(len(printable(r[i])) for r in rows) for i in range(len(rows[0]) - 1)]


def align_rows(rows: Sequence[Sequence[str]], widths: Sequence[int] | None = None) -> list[str]:
    """kubectl's layout: columns padded to ``widths`` (default: the widest cell), 3 spaces apart.

    The last column, usually the message, is left ragged so long messages do not pad the rest.
    Cells are passed through ``printable``.
    """
    widths = column_widths(rows) if widths is None else widths
    return [
        "   ".join(printable(cell).ljust(w) for cell, w in zip(r[:-1], widths, strict=True))
        + "   "
        + printable(r[-1])
        for r in rows
    ]

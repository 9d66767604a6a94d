"""``kubectl events``-shaped tables: LAST SEEN, TYPE, REASON, OBJECT, COUNT, MESSAGE."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from kubevents.model import Event

__all__ = ["align_rows", "column_widths", "event_time", "format_age", "render_table"]


def event_time(event: Event) -> datetime | None:
    """When the occurrence happened: series / eventTime, else lastTimestamp, first, created."""
    if event.series is not None and event.series.last_observed_time is not None:
        return event.series.last_observed_time
    return (
        event.last_timestamp
        or event.event_time
        or event.first_timestamp
        or event.metadata.creation_timestamp
    )


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


def render_table(events: Iterable[Event], now: datetime, *, namespace_column: bool) -> str:
    header = ["LAST SEEN", "TYPE", "REASON", "OBJECT", "COUNT", "MESSAGE"]
    if namespace_column:
        header.insert(0, "NAMESPACE")
    rows = [header]
    for ev in events:
        when = event_time(ev)
        ref = ev.involved_object
        row = [
            format_age((now - when).total_seconds()) if when else "<unknown>",
            ev.type,
            ev.reason,
            f"{ref.kind.lower()}/{ref.name}",
            str(ev.series.count if ev.series else (ev.count or 1)),
            ev.message.replace("\n", " "),
        ]
        if namespace_column:
            row.insert(0, ev.namespace)
        rows.append(row)
    return "\n".join(align_rows(rows))


def column_widths(rows: Sequence[Sequence[str]]) -> list[int]:
    """Width of every column but the last (which is never padded)."""
    return [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]


def align_rows(rows: Sequence[Sequence[str]], widths: Sequence[int] | None = None) -> list[str]:
    """kubectl's layout: columns padded to ``widths`` (default: the widest cell), 3 spaces apart.

    The last column, usually the message, is left ragged so long messages do not pad the rest.
    """
    widths = column_widths(rows) if widths is None else widths
    return [
        "   ".join(cell.ljust(w) for cell, w in zip(r[:-1], widths, strict=True)) + "   " + r[-1]
        for r in rows
    ]

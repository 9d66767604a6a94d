"""The timeline, drawn by the server as inline SVG: one stacked bar per time bucket.

A bar links to the same view zoomed to its bucket; its ``<title>`` and ``data-*`` attributes
carry the exact counts (what a tooltip and the browser tests read).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from kubevents.cli.ui._html import Markup, html, join
from kubevents.export.sinks import format_time
from kubevents.export.store import Timeline

__all__ = ["timeline_svg"]

_WIDTH, _HEIGHT, _AXIS = 960, 150, 18


def _label(value: datetime) -> str:
    return format_time(value) or ""


def timeline_svg(timeline: Timeline, zoom: Callable[[datetime, datetime], str]) -> Markup:
    """``timeline`` as SVG; ``zoom(start, end)`` is the URL of the view narrowed to a bucket."""
    n = len(timeline.buckets)
    peak = max((b.total for b in timeline.buckets), default=0) or 1
    width = _WIDTH / n
    plot = _HEIGHT - _AXIS
    bars = []
    for i, b in enumerate(timeline.buckets):
        if not b.total:
            continue
        x = i * width
        y = float(plot)
        rects = []
        for cls, count in (("normal", b.normal), ("warning", b.warning), ("other", b.other)):
            if count:
                h = plot * count / peak
                y -= h
                rects.append(
                    html(
                        '<rect class="{}" x="{}" y="{}" width="{}" height="{}"/>',
                        cls,
                        f"{x:.2f}",
                        f"{y:.2f}",
                        f"{max(width - 1, 1):.2f}",
                        f"{h:.2f}",
                    )
                )
        end = b.start + timeline.step
        bars.append(
            html(
                '<a href="{href}" class="bar" data-start="{start}" data-normal="{normal}" '
                'data-warning="{warning}" data-other="{other}"><title>{title}</title>{rects}</a>',
                href=zoom(b.start, end),
                start=_label(b.start),
                normal=b.normal,
                warning=b.warning,
                other=b.other,
                title=(
                    f"{_label(b.start)} to {_label(end)}: {b.total} "
                    f"({b.warning} Warning, {b.normal} Normal"
                    + (f", {b.other} other" if b.other else "")
                    + ")"
                ),
                rects=join(rects),
            )
        )
    return html(
        '<svg class="timeline" viewBox="0 0 {w} {h}" preserveAspectRatio="none" role="img" '
        'aria-label="occurrences over time" data-total="{total}" data-buckets="{n}">'
        '<line class="axis" x1="0" y1="{plot}" x2="{w}" y2="{plot}"/>{bars}</svg>'
        '<div class="axis-labels"><span>{start}</span><span>step {step}</span>'
        "<span>{end}</span></div>",
        w=_WIDTH, h=_HEIGHT, plot=plot, total=timeline.total, n=n, bars=join(bars),
        start=_label(timeline.start), end=_label(timeline.end), step=_step(timeline),
    )  # fmt: skip


def _step(timeline: Timeline) -> str:
    seconds = int(timeline.step.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"

"""The pages' HTML: the filter form, the events table, an object's history, the top lists.

Pure functions of what the store returned; the handlers (``_app``) read the store.
"""

from __future__ import annotations

from collections.abc import Sequence

from kubevents.cli.ui._filters import FIELDS, Filters
from kubevents.cli.ui._html import Markup, html, join, url
from kubevents.export.sinks import format_time
from kubevents.export.store import Stats, StoredOccurrence

__all__ = ["event_row", "events_table", "filter_form", "object_table", "top_tables"]

_PLACEHOLDERS = {
    "namespace": "shop", "for": "pod/web-0", "kind": "Pod", "name": "web-0",
    "reason": "BackOff", "type": "Normal|Warning", "source": "kubelet", "cluster": "prod",
    "since": "1h, 2024-05-01, RFC 3339", "until": "same forms", "grep": "text in the message",
}  # fmt: skip


def object_url(kind: str, namespace: str, name: str) -> str:
    return url("/object", [("kind", kind), ("namespace", namespace), ("name", name)])


def _source(occ: StoredOccurrence) -> str:
    return occ.source["component"] or occ.reporting_controller


def event_row(occ: StoredOccurrence) -> Markup:
    """One occurrence as a table row (also what the live stream sends)."""
    ref = occ.involved_object
    return html(
        '<tr data-seq="{seq}" class="{cls}"><td class="time">{time}</td><td>{ns}</td>'
        '<td class="type">{type}</td><td class="reason">{reason}</td>'
        '<td class="object"><a href="{href}">{kind}/{name}</a></td><td class="count">{count}</td>'
        '<td>{source}</td><td class="message">{message}</td></tr>',
        seq=occ.seq, cls="warning" if occ.type.casefold() == "warning" else "",
        time=format_time(occ.filing_time), ns=occ.namespace, type=occ.type, reason=occ.reason,
        href=object_url(ref["kind"], ref["namespace"], ref["name"]), kind=ref["kind"].lower(),
        name=ref["name"], count=occ.count, source=_source(occ), message=occ.message,
    )  # fmt: skip


def filter_form(filters: Filters, action: str, keys: Sequence[str] = FIELDS) -> Markup:
    """The form of ``keys`` (the URL parameters), filled in with ``filters``."""
    fields = join(
        html(
            '<label>{key}<input name="{key}" value="{value}" placeholder="{hint}"></label>',
            key=key,
            value=filters.given.get(key, ""),
            hint=_PLACEHOLDERS[key],
        )
        for key in keys
    )
    return html(
        '<form class="filters" method="get" action="{action}">{fields}'
        '<button type="submit">Filter</button> <a href="{action}">clear</a></form>',
        action=action,
        fields=fields,
    )


_HEAD = (
    "<thead><tr><th>time (UTC)</th><th>namespace</th><th>type</th><th>reason</th>"
    "<th>object</th><th>count</th><th>source</th><th>message</th></tr></thead>"
)


def events_table(rows: Sequence[StoredOccurrence], total: int, older: str | None) -> Markup:
    """The newest matching occurrences, newest first; ``older``: the next page's URL."""
    more = html('<a class="older" href="{}">older →</a>', older) if older else Markup("")
    return html(
        '<p class="summary"><span id="total">{total}</span> matching occurrences, '
        "newest first.</p>"
        '<table class="events" id="events">{head}<tbody>{rows}</tbody></table>{more}',
        total=total, head=Markup(_HEAD), rows=join(event_row(r) for r in rows), more=more,
    )  # fmt: skip


def object_table(kind: str, namespace: str, name: str, rows: Sequence[StoredOccurrence]) -> Markup:
    """Every occurrence of every Event about one object, oldest first."""
    body = join(
        html(
            '<tr data-seq="{seq}" class="{cls}"><td class="time">{time}</td>'
            '<td class="event">{event}</td><td class="count">{count}</td><td>{type}</td>'
            '<td class="reason">{reason}</td><td>{source}</td>'
            '<td class="message">{message}</td></tr>',
            seq=o.seq,
            cls="warning" if o.type.casefold() == "warning" else "",
            time=format_time(o.filing_time),
            event=o.name,
            count=o.count,
            type=o.type,
            reason=o.reason,
            source=_source(o),
            message=o.message,
        )
        for o in rows
    )
    where = f"namespace {namespace}" if namespace else "cluster-scoped"
    return html(
        "<h1>{kind}/{name} <small>{where}</small></h1>"
        '<p class="summary">{n} occurrences of {events} Events, oldest first.</p>'
        '<table class="events" id="history"><thead><tr><th>time (UTC)</th><th>Event</th>'
        "<th>count</th><th>type</th><th>reason</th><th>source</th><th>message</th></tr></thead>"
        "<tbody>{body}</tbody></table>",
        kind=kind.lower(), name=name, where=where, n=len(rows),
        events=len({o.uid for o in rows}), body=body,
    )  # fmt: skip


def _top(title: str, rows: Sequence[tuple[Markup | str, int, int]]) -> Markup:
    body = join(
        html("<tr><td>{}</td><td class='n'>{}</td><td class='n'>{}</td></tr>", *r) for r in rows
    )
    return html(
        '<table class="top"><thead><tr><th>{title}</th><th>count</th><th>warnings</th></tr>'
        "</thead><tbody>{body}</tbody></table>",
        title=title,
        body=body,
    )


def top_tables(result: Stats, filters: Filters) -> Markup:
    """What ``kubevents stats`` prints; each entry links to the events it counts."""

    def link(label: str, **narrow: str) -> Markup:
        return html('<a href="{}">{}</a>', url("/", filters.params(**narrow)), label)

    reasons = [(link(r.reason, reason=r.reason), r.count, r.warnings) for r in result.reasons]
    objects = [
        (
            html(
                '<a href="{}">{}/{}/{}</a>',
                object_url(o.kind, o.namespace, o.name),
                o.namespace or "-",
                str(o.kind).lower(),
                o.name,
            ),
            o.count,
            o.warnings,
        )
        for o in result.objects
    ]
    spaces = [
        (link(n.namespace or "-", namespace=n.namespace), n.count, n.warnings)
        for n in result.namespaces
    ]
    span = (
        f"{format_time(result.first)} to {format_time(result.last)}"
        if result.first and result.last
        else "nothing stored in this window"
    )
    return html(
        '<p class="summary">{total} occurrences ({warnings} Warning), {span}.</p>'
        '<div class="tops">{a}{b}{c}</div>',
        total=result.total, warnings=result.warnings, span=span,
        a=_top("reason", reasons), b=_top("object", objects), c=_top("namespace", spaces),
    )  # fmt: skip

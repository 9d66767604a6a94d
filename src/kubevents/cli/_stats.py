"""``kubevents stats``: top reasons, objects and namespaces of the stored events."""

from __future__ import annotations

from datetime import datetime

import click
import msgspec

from kubevents.cli._query import SINCE_HELP, UNTIL_HELP, StoreProblem, db_option, open_store, when
from kubevents.cli._table import align_rows
from kubevents.export.sinks import format_time
from kubevents.export.store import Stats, StoreError

__all__ = ["stats"]


def _stats_table(title: str, rows: list[list[str]]) -> str:
    return "\n".join(align_rows([[title, "COUNT", "WARNINGS"], *rows]))


def _render_stats(result: Stats, since: datetime | None, until: datetime | None) -> str:
    window = (
        f"{format_time(since) if since else 'the oldest stored'} to "
        f"{format_time(until) if until else 'now'}"
    )
    lines = [
        f"Window:       {window}",
        f"Occurrences:  {result.total} ({result.warnings} Warning)",
    ]
    if result.first is not None and result.last is not None:
        lines.append(f"Times:        {format_time(result.first)} to {format_time(result.last)}")
    # str() throughout: SQLite columns are loosely typed, and a damaged store can hold anything.
    sections = [
        ("REASON", [[str(r.reason), str(r.count), str(r.warnings)] for r in result.reasons]),
        (
            "OBJECT",
            [
                [
                    f"{o.namespace or '-'}/{str(o.kind).lower()}/{o.name}",
                    str(o.count),
                    str(o.warnings),
                ]
                for o in result.objects
            ],
        ),
        (
            "NAMESPACE",
            [[str(n.namespace or "-"), str(n.count), str(n.warnings)] for n in result.namespaces],
        ),
    ]
    return "\n\n".join(["\n".join(lines)] + [_stats_table(t, rows) for t, rows in sections if rows])


def _stats_json(result: Stats) -> bytes:
    return msgspec.json.encode(
        {
            "windowStart": format_time(result.window_start),
            "windowEnd": format_time(result.window_end),
            "total": result.total,
            "warnings": result.warnings,
            "first": format_time(result.first),
            "last": format_time(result.last),
            "reasons": [
                {"reason": r.reason, "count": r.count, "warnings": r.warnings}
                for r in result.reasons
            ],
            "objects": [
                {
                    "kind": o.kind,
                    "namespace": o.namespace,
                    "name": o.name,
                    "count": o.count,
                    "warnings": o.warnings,
                }
                for o in result.objects
            ],
            "namespaces": [
                {"namespace": n.namespace, "count": n.count, "warnings": n.warnings}
                for n in result.namespaces
            ],
        }
    )


@click.command()
@db_option
@click.option("-n", "--namespace", help="Only this namespace (default: all).")
@click.option("--since", metavar="DURATION|TIME", callback=when, help=SINCE_HELP)
@click.option("--until", metavar="DURATION|TIME", callback=when, help=UNTIL_HELP)
@click.option("--top", type=click.IntRange(min=1), default=10, show_default=True)
@click.option(
    "-o", "--output", type=click.Choice(["table", "json"]), default="table", show_default=True
)
def stats(
    db: str,
    namespace: str | None,
    since: datetime | None,
    until: datetime | None,
    top: int,
    output: str,
) -> None:
    """Top reasons, involved objects and namespaces of the stored events.

    \b
    The window is every stored occurrence unless --since/--until narrow it, e.g.
      kubevents stats --since 1h --top 5
    """
    with open_store(db) as store:
        try:
            result = store.stats(since, until, top=top, namespace=namespace)
        except StoreError as exc:
            raise StoreProblem(str(exc)) from None
    if output == "json":
        click.echo(_stats_json(result))
    else:
        click.echo(_render_stats(result, since, until))

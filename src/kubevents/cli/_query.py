"""``kubevents query`` and ``kubevents stats``: read the exporter's SQLite store.

Both open the store read-only, so they run safely while ``kubevents export`` writes to it.
Bad input (a bad duration, a missing store, a file that is not a store) exits with code 2.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

import click
import msgspec

from kubevents.cli._table import align_rows, column_widths, format_age, printable
from kubevents.clock import parse_duration
from kubevents.export.sinks import encode_lines, format_time
from kubevents.export.store import (
    DB_PATH_ENV,
    DEFAULT_DB_PATH,
    EventStore,
    QueryFilter,
    Stats,
    StoredOccurrence,
    StoreError,
)
from kubevents.model import parse_rfc3339

__all__ = ["parse_when", "query", "stats"]

# kubectl's short names and plurals of the kinds that emit most events. Without an API server
# to ask, anything else is matched as typed (case-insensitively).
_KIND_ALIASES = {
    alias: kind
    for kind, aliases in {
        "Pod": "po pods",
        "Node": "no nodes",
        "Deployment": "deploy deployments",
        "ReplicaSet": "rs replicasets",
        "StatefulSet": "sts statefulsets",
        "DaemonSet": "ds daemonsets",
        "Job": "jobs",
        "CronJob": "cj cronjobs",
        "Service": "svc services",
        "Endpoints": "ep",
        "Namespace": "ns namespaces",
        "PersistentVolumeClaim": "pvc persistentvolumeclaims",
        "PersistentVolume": "pv persistentvolumes",
        "ConfigMap": "cm configmaps",
        "Secret": "secrets",
        "Ingress": "ing ingresses",
        "HorizontalPodAutoscaler": "hpa horizontalpodautoscalers",
        "ServiceAccount": "sa serviceaccounts",
        "ReplicationController": "rc replicationcontrollers",
        "PodDisruptionBudget": "pdb poddisruptionbudgets",
    }.items()
    for alias in [kind.lower(), *aliases.split()]
}


_SINCE_HELP = "From this time on: 90s, 30m, 1h30m, 2d ago, or an RFC 3339 time / a date."
_UNTIL_HELP = "Before this time (exclusive); same forms as --since."


class _StoreProblem(click.ClickException):
    exit_code = 2

    def __init__(self, message: str) -> None:
        # The message can quote what the store holds, which is Event text.
        super().__init__(printable(message))


def parse_when(value: str, now: datetime) -> datetime:
    """A duration ago (``90s``, ``30m``, ``1h30m``, ``2d``, ``1w``), an RFC 3339 time, or a date.

    Durations are ``kubevents.clock.parse_duration``'s, the grammar of the exporter's config,
    except that a bare number is refused: ``--since 5`` (5 what?) is more likely a slip here
    than in a config file.
    """
    text = value.strip()
    try:
        if text[-1:].isalpha():
            with contextlib.suppress(ValueError):
                return now - timedelta(seconds=parse_duration(text))
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), UTC)
        return parse_rfc3339(text)
    except OverflowError:
        raise ValueError(f"{value!r} reaches too far back") from None
    except ValueError:
        raise ValueError(
            f"{value!r} is neither a duration (90s, 30m, 1h30m, 2d) nor an RFC 3339 time "
            "with a zone (2024-05-01T12:00:00Z)"
        ) from None


def _when(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_when(value, datetime.now(UTC))
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx, param) from None


def _kind(value: str) -> str:
    base = value.split(".", 1)[0]  # "deployments.apps" -> "deployments"
    return _KIND_ALIASES.get(base.lower(), base)


def _db_option(fn: Any) -> Any:
    return click.option(
        "--db",
        "db",
        type=click.Path(dir_okay=False),
        envvar=DB_PATH_ENV,
        default=DEFAULT_DB_PATH,
        show_default=True,
        show_envvar=True,
        help="The store written by `kubevents export`.",
    )(fn)


def _open(db: str) -> EventStore:
    try:
        return EventStore(db)
    except StoreError as exc:
        raise _StoreProblem(str(exc)) from None


def _source(occ: StoredOccurrence) -> str:
    component, host = occ.source["component"], occ.source["host"]
    if not component:
        component, host = occ.reporting_controller, occ.reporting_instance
    return f"{component}, {host}" if host else component


def _row(occ: StoredOccurrence, now: datetime, *, wide: bool, namespaced: bool) -> list[str]:
    ref = occ.involved_object
    row = [
        format_age((now - occ.time).total_seconds()),
        occ.type,
        occ.reason,
        f"{ref['kind'].lower()}/{ref['name']}",
    ]
    if wide:
        ev = occ.event
        first = occ.first_timestamp or ev.event_time or occ.time
        row += [
            ref["fieldPath"],
            _source(occ),
            format_age((now - first).total_seconds()),
            str(occ.count),
            occ.cluster,
            occ.id,
        ]
    else:
        row.append(str(occ.count))
    row.append(occ.message.replace("\n", " "))
    return [occ.namespace, *row] if namespaced else row


def _header(*, wide: bool, namespaced: bool) -> list[str]:
    middle = ["SUBOBJECT", "SOURCE", "FIRST SEEN", "COUNT", "CLUSTER", "ID"] if wide else ["COUNT"]
    header = ["LAST SEEN", "TYPE", "REASON", "OBJECT", *middle, "MESSAGE"]
    return ["NAMESPACE", *header] if namespaced else header


class _Printer:
    """Writes rows as they come; table columns only ever widen, so a followed table stays
    aligned with what was already printed."""

    def __init__(self, output: str, *, namespaced: bool) -> None:
        self._json = output == "json"
        self._wide = output == "wide"
        self._namespaced = namespaced
        self._header = _header(wide=self._wide, namespaced=namespaced)
        self._widths: list[int] | None = None

    def emit(self, occurrences: Sequence[StoredOccurrence]) -> None:
        if self._json:
            # The JSON sink's export document, so one parser reads files, webhooks and queries.
            for i in range(0, len(occurrences), 1_000):
                chunk = occurrences[i : i + 1_000]
                click.echo(encode_lines(o.occurrence() for o in chunk), nl=False)
            return
        now = datetime.now(UTC)
        rows = [_row(o, now, wide=self._wide, namespaced=self._namespaced) for o in occurrences]
        if self._widths is None:
            rows.insert(0, self._header)
            self._widths = column_widths(rows)
        elif rows:
            self._widths = [
                max(a, b) for a, b in zip(self._widths, column_widths(rows), strict=True)
            ]
        if rows:
            click.echo("\n".join(align_rows(rows, self._widths)))


@contextlib.contextmanager
def _quiet_exit() -> Iterator[None]:
    """Ctrl-C ends ``--follow`` normally; a closed pipe (``| head``) ends any output quietly."""
    try:
        yield
    except KeyboardInterrupt:
        pass
    except BrokenPipeError:
        # Keep the interpreter from complaining about the unflushable stdout at exit.
        with contextlib.suppress(OSError, ValueError, AttributeError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _namespace_scope(namespace: str | None, all_namespaces: bool) -> str | None:
    if namespace is not None and all_namespaces:
        raise click.UsageError("use either -n/--namespace or -A/--all-namespaces, not both")
    return namespace


@click.command()
@_db_option
@click.option("-n", "--namespace", help="Only events of this namespace.")
@click.option(
    "-A", "--all-namespaces", is_flag=True, help="Events of every namespace (the default)."
)
@click.option(
    "--for",
    "for_object",
    metavar="KIND/NAME",
    help="Events about one object, e.g. pod/web-0 or deploy/web (like kubectl events --for).",
)
@click.option("--kind", help="Involved object kind: Pod, pods, po, Deployment, deploy, ...")
@click.option("--name", help="Involved object name.")
@click.option("--reason", help="Event reason, e.g. BackOff (case-insensitive).")
@click.option(
    "--type",
    "type_",
    type=click.Choice(["Normal", "Warning"], case_sensitive=False),
    help="Normal or Warning.",
)
@click.option("--source", help="Reporting component (source.component or reportingController).")
@click.option("--cluster", help="Cluster name the exporter stamped on the events.")
@click.option("--since", metavar="DURATION|TIME", callback=_when, help=_SINCE_HELP)
@click.option("--until", metavar="DURATION|TIME", callback=_when, help=_UNTIL_HELP)
@click.option("--grep", "text", help="Case-insensitive text that the message contains.")
@click.option("--limit", type=click.IntRange(min=1), help="Only the newest N (still oldest first).")
@click.option(
    "-o",
    "--output",
    type=click.Choice(["table", "wide", "json"]),
    default="table",
    show_default=True,
)
@click.option("-f", "--follow", is_flag=True, help="Keep printing new events until Ctrl-C.")
@click.option(
    "--poll-interval",
    type=click.FloatRange(0.05, 60),
    default=1.0,
    show_default=True,
    help="Seconds between checks for new events with --follow.",
)
def query(
    db: str,
    namespace: str | None,
    all_namespaces: bool,
    for_object: str | None,
    kind: str | None,
    name: str | None,
    type_: str | None,
    since: datetime | None,
    until: datetime | None,
    output: str,
    follow: bool,
    poll_interval: float,
    **fields: Any,
) -> None:
    """Show stored events, like `kubectl events`, from the exporter's history.

    \b
    Unlike kubectl, all namespaces are shown by default: the store is an archive of the whole
    cluster (often not the current kubeconfig's), so -n narrows it and -A is accepted for habit.
    Without --since, everything stored is shown. Rows run oldest to newest, by occurrence time.

    \b
    Examples:
      kubevents query -n shop --since 1h
      kubevents query --for pod/web-0 --type Warning
      kubevents query --reason BackOff --since 2024-05-01T00:00:00Z --until 2024-05-02
      kubevents query -o json --since 30m | jq .message
      kubevents query -n shop --follow

    \b
    -o json prints JSON Lines: one stored occurrence per line, as the export document
    (keys in this order: id uid count time cluster namespace name involvedObject type reason
    message source reportingController reportingInstance action firstTimestamp lastTimestamp
    eventTime [series] resourceVersion event); see docs/sinks/sqlite.md.
    """
    namespace = _namespace_scope(namespace, all_namespaces)
    if for_object is not None:
        if kind is not None or name is not None:
            raise click.UsageError("--for already names the object; drop --kind/--name")
        kind, sep, name = for_object.partition("/")
        if not sep or not kind or not name or "/" in name:
            raise click.BadParameter(f"expected KIND/NAME, got {for_object!r}", param_hint="--for")
    flt = QueryFilter(
        namespace=namespace,
        involved_kind=_kind(kind) if kind else None,
        involved_name=name,
        type=type_,
        since=since,
        until=until,
        **fields,  # reason, source, cluster, text, limit
    )
    printer = _Printer(output, namespaced=namespace is None)
    store = _open(db)
    with store, _quiet_exit():
        try:
            if not follow:
                found = store.query(flt)
                if found:
                    printer.emit(found)
                elif output != "json":
                    where = f" in namespace {namespace}" if namespace is not None else ""
                    click.echo(f"No events found{where}.", err=True)
                return
            # The first batch is the backlog (maybe empty: then just the table header).
            for batch in store.follow_batches(flt, poll_interval, backlog=True):
                printer.emit(batch)
        except StoreError as exc:
            raise _StoreProblem(str(exc)) from None


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
                [f"{o.namespace or '-'}/{str(o.kind).lower()}/{o.name}", str(o.count),
                 str(o.warnings)]
                for o in result.objects
            ],
        ),
        (
            "NAMESPACE",
            [[str(n.namespace or "-"), str(n.count), str(n.warnings)] for n in result.namespaces],
        ),
    ]  # fmt: skip
    return "\n\n".join(["\n".join(lines)] + [_stats_table(t, rows) for t, rows in sections if rows])


def _stats_json(result: Stats) -> bytes:
    return msgspec.json.encode({
        "windowStart": format_time(result.window_start),
        "windowEnd": format_time(result.window_end),
        "total": result.total,
        "warnings": result.warnings,
        "first": format_time(result.first),
        "last": format_time(result.last),
        "reasons": [
            {"reason": r.reason, "count": r.count, "warnings": r.warnings} for r in result.reasons
        ],
        "objects": [
            {"kind": o.kind, "namespace": o.namespace, "name": o.name, "count": o.count,
             "warnings": o.warnings}
            for o in result.objects
        ],
        "namespaces": [
            {"namespace": n.namespace, "count": n.count, "warnings": n.warnings}
            for n in result.namespaces
        ],
    })  # fmt: skip


@click.command()
@_db_option
@click.option("-n", "--namespace", help="Only this namespace (default: all).")
@click.option("--since", metavar="DURATION|TIME", callback=_when, help=_SINCE_HELP)
@click.option("--until", metavar="DURATION|TIME", callback=_when, help=_UNTIL_HELP)
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
    with _open(db) as store:
        try:
            result = store.stats(since, until, top=top, namespace=namespace)
        except StoreError as exc:
            raise _StoreProblem(str(exc)) from None
    if output == "json":
        click.echo(_stats_json(result))
    else:
        click.echo(_render_stats(result, since, until))

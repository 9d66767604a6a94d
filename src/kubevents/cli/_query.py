"""``kubevents query``, and what it shares with ``kubevents stats`` (``_stats``).

Both read the exporter's SQLite store read-only, so they run safely while ``kubevents export``
writes to it: the ``--db`` option, ``--since``/``--until`` times and opening the store are here.
Bad input (a bad duration, a missing store, a file that is not a store) exits with code 2.
What a query prints is ``_output``'s; kubectl's kind names are ``_kinds``'.
"""

from __future__ import annotations

import contextlib
import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import click

from kubevents.cli._kinds import canonical_kind
from kubevents.cli._output import Printer, quiet_exit
from kubevents.cli._table import printable
from kubevents.clock import parse_duration
from kubevents.export.store import (
    DB_PATH_ENV,
    DEFAULT_DB_PATH,
    EventStore,
    QueryFilter,
    StoreError,
)
from kubevents.model import parse_rfc3339

__all__ = [
    "SINCE_HELP",
    "UNTIL_HELP",
    "StoreProblem",
    "db_option",
    "open_store",
    "parse_when",
    "query",
    "when",
]


SINCE_HELP = "From this time on: 90s, 30m, 1h30m, 2d ago, or an RFC 3339 time / a date."
UNTIL_HELP = "Before this time (exclusive); same forms as --since."


class StoreProblem(click.ClickException):
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


def when(ctx: click.Context, param: click.Parameter, value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        return parse_when(value, datetime.now(UTC))
    except ValueError as exc:
        raise click.BadParameter(str(exc), ctx, param) from None


def db_option(fn: Any) -> Any:
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


def open_store(db: str) -> EventStore:
    try:
        return EventStore(db)
    except StoreError as exc:
        raise StoreProblem(str(exc)) from None


def _kind_name(value: str, option: str) -> tuple[str, str]:
    kind, sep, name = value.partition("/")
    if not sep or not kind or not name or "/" in name:
        raise click.BadParameter(f"expected KIND/NAME, got {value!r}", param_hint=option)
    return kind, name


_SELECTOR_KEY = re.compile(
    r"^([a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$"
)


def parse_selector(selector: str) -> tuple[tuple[str, str], ...]:
    """``-l a=b,c==d`` as (key, value) pairs; ``click.BadParameter`` for anything else."""
    pairs: list[tuple[str, str]] = []
    for part in selector.split(","):
        key, sep, value = part.partition("=")
        value = value.removeprefix("=")  # a==b, as kubectl takes it
        key, value = key.strip(), value.strip()
        if not sep or key.endswith("!") or not _SELECTOR_KEY.match(key):
            raise click.BadParameter(
                f"{printable(part.strip())!r} is not KEY=VALUE (only equality selectors: "
                "-l app=web,tier=db)",
                param_hint="-l/--selector",
            )
        pairs.append((key, value))
    return tuple(pairs)


def _namespace_scope(namespace: str | None, all_namespaces: bool) -> str | None:
    if namespace is not None and all_namespaces:
        raise click.UsageError("use either -n/--namespace or -A/--all-namespaces, not both")
    return namespace


@click.command()
@db_option
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
@click.option(
    "--workload",
    metavar="KIND/NAME",
    help="Events about anything a workload owns, e.g. deploy/web, sts/db, cj/backup "
    "(needs the exporter's enrich; the Deployment, its ReplicaSets and their Pods).",
)
@click.option(
    "-l",
    "--selector",
    metavar="KEY=VALUE[,...]",
    help="The involved object's labels (those the exporter's enrich.labels keeps), e.g. "
    "-l app=web,tier=db; equality only.",
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
@click.option("--since", metavar="DURATION|TIME", callback=when, help=SINCE_HELP)
@click.option("--until", metavar="DURATION|TIME", callback=when, help=UNTIL_HELP)
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
    workload: str | None,
    selector: str | None,
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
      kubevents query --workload deploy/web -l app=web --since 1h

    \b
    -o json prints JSON Lines: one stored occurrence per line, as the export document
    (keys in this order: id uid count time cluster namespace name involvedObject type reason
    message source reportingController reportingInstance action firstTimestamp lastTimestamp
    eventTime [series] [enrichment] resourceVersion event); see docs/sinks/sqlite.md.
    --workload and -l need the exporter's enrich (docs/enrichment.md).
    """
    namespace = _namespace_scope(namespace, all_namespaces)
    if for_object is not None:
        if kind is not None or name is not None:
            raise click.UsageError("--for already names the object; drop --kind/--name")
        kind, name = _kind_name(for_object, "--for")
    workload_kind = workload_name = None
    if workload is not None:
        workload_kind, workload_name = _kind_name(workload, "--workload")
        workload_kind = canonical_kind(workload_kind)
    flt = QueryFilter(
        workload_kind=workload_kind,
        workload_name=workload_name,
        labels=parse_selector(selector) if selector is not None else (),
        namespace=namespace,
        involved_kind=canonical_kind(kind) if kind else None,
        involved_name=name,
        type=type_,
        since=since,
        until=until,
        **fields,  # reason, source, cluster, text, limit
    )
    printer = Printer(output, namespaced=namespace is None)
    store = open_store(db)
    with store, quiet_exit():
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
            raise StoreProblem(str(exc)) from None
        finally:
            if store.unreadable:
                # After the rows that could be read: one damaged row hides no others.
                raise StoreProblem(
                    f"{store.unreadable} stored occurrences hold an unreadable Event and were "
                    "left out of the --grep search"
                )

"""What ``kubevents query`` prints: rows shaped like ``kubectl events``, or JSON Lines."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime

import click

from kubevents.cli._table import align_rows, column_widths, format_age
from kubevents.export.sinks import encode_lines
from kubevents.export.store import StoredOccurrence

__all__ = ["Printer", "quiet_exit", "table_row"]


def _source(occ: StoredOccurrence) -> str:
    component, host = occ.source["component"], occ.source["host"]
    if not component:
        component, host = occ.reporting_controller, occ.reporting_instance
    return f"{component}, {host}" if host else component


def table_row(occ: StoredOccurrence, now: datetime, *, wide: bool, namespaced: bool) -> list[str]:
    # Only columns the store keeps as such, unless wide: the rest needs the stored Event.
    row = [
        format_age((now - occ.time).total_seconds()),
        occ.type,
        occ.reason,
        f"{occ.involved_kind.lower()}/{occ.involved_name}",
    ]
    if wide:
        ev = occ.fields
        first = occ.first_timestamp or ev.event_time or occ.time
        workload = occ.enrichment.workload if occ.enrichment is not None else None
        row += [
            f"{workload.kind.lower()}/{workload.name}" if workload is not None else "<none>",
            occ.involved_object["fieldPath"],
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
    middle = (
        ["WORKLOAD", "SUBOBJECT", "SOURCE", "FIRST SEEN", "COUNT", "CLUSTER", "ID"]
        if wide
        else ["COUNT"]
    )
    header = ["LAST SEEN", "TYPE", "REASON", "OBJECT", *middle, "MESSAGE"]
    return ["NAMESPACE", *header] if namespaced else header


class Printer:
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
        rows = [
            table_row(o, now, wide=self._wide, namespaced=self._namespaced) for o in occurrences
        ]
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
def quiet_exit() -> Iterator[None]:
    """Ctrl-C ends ``--follow`` normally; a closed pipe (``| head``) ends any output quietly."""
    try:
        yield
    except KeyboardInterrupt:
        pass
    except BrokenPipeError:
        # Keep the interpreter from complaining about the unflushable stdout at exit.
        with contextlib.suppress(OSError, ValueError, AttributeError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())

"""The SQLite store (issue 15): bytes per occurrence, and ``kubevents query`` on 10⁶ occurrences.

1. **Size**: the first 100 000 occurrences of the pipeline benchmark's realistic stream
   (``bench._store_support.occurrences``: kubelet, scheduler and controller Events with
   ``managedFields`` as the apiserver writes them) stored by the real ``SQLiteSink`` (the
   current schema), the same occurrences in the schema 1 layout (``write_v1_store``), the
   baseline, and in the schema 3 layout (``write_v3_store``), the one before the current.
   Bytes per occurrence are the pages in use (file size less free pages, WAL checkpointed)
   over the rows; the split by table and index comes from SQLite's ``dbstat``.
2. **Queries**: 10⁶ occurrences of the same stream in one store, written by the real sink;
   then each filter a UI offers, as ``kubevents query --limit 100`` runs it: open the store,
   query, render the page as the table and as JSON Lines. Best and median of 7, in process (an
   interpreter that imports ``kubevents.cli`` adds its start-up, measured once, end to end).

The dictionary was trained on a generic corpus (``scripts/store_dictionary.py``), never on
this stream, so the size is what a cluster the dictionary has not seen gets.
``python bench/run.py store`` runs this suite alone (~5 min, ~1 GB of disk in a temp dir).
"""

from __future__ import annotations

import asyncio
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from bench._store_support import occurrences, write_v1_store, write_v3_store
from bench.common import REPO, BenchContext, Row, Stopwatch, Suite

from kubevents.cli._output import table_row
from kubevents.export import Occurrence
from kubevents.export._document import encode_lines
from kubevents.export.sinks.sqlite import SCHEMA_VERSION, SQLiteSink
from kubevents.export.store import EventStore, QueryFilter

NAME = "store"

TARGET_BYTES = 450
TARGET_MS = 200
SIZE_SAMPLE = 100_000
ROWS = 1_000_000
PAGE = 100
REPEATS = 7


def _batches(source: Iterator[Occurrence], size: int = 500) -> Iterator[list[Occurrence]]:
    batch: list[Occurrence] = []
    for occ in source:
        batch.append(occ)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def _write(path: Path, count: int) -> float:
    """Store ``count`` occurrences through the real sink; its own time, seconds."""

    async def run() -> float:
        sink = SQLiteSink(path, retention_days=None)
        await sink.start()
        spent = 0.0
        try:
            for batch in _batches(occurrences(count)):
                began = time.perf_counter()
                await sink.write(batch)
                spent += time.perf_counter() - began
        finally:
            await sink.close()
        return spent

    return asyncio.run(run())


def _size(path: Path, rows: int) -> dict[str, Any]:
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        page = conn.execute("PRAGMA page_size").fetchone()[0]
        used = conn.execute("PRAGMA page_count").fetchone()[0]
        used -= conn.execute("PRAGMA freelist_count").fetchone()[0]
        parts = conn.execute(
            "SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC"
        ).fetchall()
    return {
        "bytes_per_occurrence": used * page / rows,
        "page_size": page,
        "parts": {name: round(size / rows, 1) for name, size in parts if size / rows >= 0.5},
    }


def _page(path: Path, flt: QueryFilter) -> int:
    """What ``kubevents query`` does for one page: open, query, render table and JSON."""
    now = datetime.now(UTC)
    with EventStore(path) as store:
        found = store.query(flt)
        for occ in found:
            table_row(occ, now, wide=False, namespaced=True)
        encode_lines(o.occurrence() for o in found)
    return len(found)


def _timed(fn: Callable[[], object]) -> float:
    began = time.perf_counter()
    fn()
    return (time.perf_counter() - began) * 1000


def _filters(path: Path) -> list[tuple[str, QueryFilter]]:
    with EventStore(path) as store:
        [newest] = store.query(QueryFilter(limit=1))
        [pod] = store.query(QueryFilter(involved_kind="Pod", limit=1, namespace="shop"))
    hour, pod_name = newest.filing_time - timedelta(hours=1), pod.involved_name
    return [
        ("newest page, no filter", QueryFilter()),
        ("namespace (-n shop)", QueryFilter(namespace="shop")),
        ("object (--for pod/NAME)", QueryFilter(involved_kind="Pod", involved_name=pod_name)),
        ("reason, common (--reason BackOff)", QueryFilter(reason="BackOff")),
        ("reason, rare (--reason FailedScheduling)", QueryFilter(reason="FailedScheduling")),
        ("type (--type Warning)", QueryFilter(type="Warning")),
        ("namespace + type", QueryFilter(namespace="payments", type="Warning")),
        ("time range (--since 1h of the newest)", QueryFilter(since=hour)),
        ("source (--source kubelet)", QueryFilter(source="kubelet")),
        ("text, common (--grep probe)", QueryFilter(text="probe")),
        ("text, in one hour (--grep probe --since 1h)", QueryFilter(text="probe", since=hour)),
        ("text, no match (--grep no-such-text)", QueryFilter(text="no-such-text")),
    ]  # fmt: skip


def _cli_seconds(path: Path, *args: str) -> float:
    began = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "kubevents.cli", *args, "--db", str(path)],
        check=True, capture_output=True, cwd=REPO,
    )  # fmt: skip
    return time.perf_counter() - began


def run(ctx: BenchContext) -> Suite:
    watch = Stopwatch()
    rows_total = ROWS // 10 if ctx.quick else ROWS
    sample = SIZE_SAMPLE // 10 if ctx.quick else SIZE_SAMPLE
    details: dict[str, Any] = {"rows": rows_total, "size_sample": sample}
    with tempfile.TemporaryDirectory(prefix="kubevents-bench-store-") as tmp:
        work = Path(tmp)
        write_v1_store(work / "v1.db", occurrences(sample))
        v1 = _size(work / "v1.db", sample)
        (work / "v1.db").unlink()
        write_v3_store(work / "v3.db", occurrences(sample))
        v3 = _size(work / "v3.db", sample)
        (work / "v3.db").unlink()
        _write(work / "current.db", sample)
        v2 = _size(work / "current.db", sample)
        (work / "current.db").unlink()
        details |= {
            "schema_1": v1, "schema_3": v3, "current": v2, "current_schema": SCHEMA_VERSION,
        }  # fmt: skip

        big = work / "big.db"
        spent = _write(big, rows_total)
        details["write_us_per_occurrence"] = spent / rows_total * 1e6
        details["size_at_rows"] = _size(big, rows_total)
        pages: dict[str, dict[str, Any]] = {}
        for label, flt in _filters(big):
            limited = QueryFilter(**{**_fields(flt), "limit": PAGE})
            times = sorted(_timed(partial(_page, big, limited)) for _ in range(REPEATS))
            with EventStore(big) as store:
                plan = store.explain(limited)
            pages[label] = {
                "best_ms": times[0], "median_ms": statistics.median(times),
                "rows": _page(big, limited), "plan": " / ".join(plan),
            }  # fmt: skip
        details["pages"] = pages
        stats_ms = sorted(_timed(partial(_stats, big)) for _ in range(3))
        details["stats_all_ms"] = stats_ms[0]
        details["cli_startup_s"] = min(
            _cli_seconds(big, "query", "--limit", "1", "-n", "no-such-namespace") for _ in range(3)
        )
        details["cli_namespace_page_s"] = min(
            _cli_seconds(big, "query", "--limit", str(PAGE), "-n", "shop") for _ in range(3)
        )

    size = v2["bytes_per_occurrence"]
    rows = [
        Row(
            metric="bytes per occurrence",
            unit="B",
            kubevents=round(size, 1),
            baseline=round(v1["bytes_per_occurrence"], 1),
            baseline_name="schema 1 layout",
            ratio=v1["bytes_per_occurrence"] / size,
            target=f"≤ {TARGET_BYTES} B",
            met=size <= TARGET_BYTES,
            note=f"{sample:,} realistic occurrences; at {rows_total:,}: "
            f"{details['size_at_rows']['bytes_per_occurrence']:.0f} B; "
            f"schema 3 layout: {v3['bytes_per_occurrence']:.1f} B",
        )
    ]
    for label, page in pages.items():
        rows.append(
            Row(
                metric=f"query page of {PAGE}, {rows_total:,} stored: {label}",
                unit="ms",
                kubevents=round(page["median_ms"], 1),
                target=f"< {TARGET_MS} ms",
                met=page["median_ms"] < TARGET_MS,
                note=f"best {page['best_ms']:.1f} ms, {page['rows']} rows",
            )
        )
    rows.append(
        Row(
            metric=f"stats over all {rows_total:,}",
            unit="ms",
            kubevents=round(details["stats_all_ms"], 0),
            note="a full scan: no target",
        )
    )
    return Suite(NAME, rows, watch.seconds, details)


def _fields(flt: QueryFilter) -> dict[str, Any]:
    return {f: getattr(flt, f) for f in QueryFilter.__dataclass_fields__}


def _stats(path: Path) -> None:
    with EventStore(path) as store:
        store.stats()

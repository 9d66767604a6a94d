"""The SQLite sink, on real database files."""

from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest
from click.testing import CliRunner

from kubevents.cli._query import query
from kubevents.clock import FakeClock
from kubevents.export import EventFields, Occurrence, TimeWindow
from kubevents.export._document import encode_lines
from kubevents.export.sinks import Sink, SinkError
from kubevents.export.sinks.sqlite import (
    APPLICATION_ID,
    DICTIONARY_NAME,
    SCHEMA_VERSION,
    SQLiteSink,
    shipped_codec,
    uid_text,
)
from kubevents.export.store import EventStore
from kubevents.model import Time

from ...factories import make_event, make_occurrence, write_store

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


def batch(n: int, *, start: int = 0, at: datetime = NOW, **fields: Any) -> list[Occurrence]:
    """``n`` occurrences of distinct events (``p<i>``), all at ``at``."""
    return [
        make_occurrence(object_name=f"p{i}", first=at, **fields) for i in range(start, start + n)
    ]


@contextmanager
def db(path: Path) -> Iterator[sqlite3.Connection]:
    with closing(sqlite3.connect(path, isolation_level=None)) as conn:
        yield conn


def ids(path: Path) -> list[str]:
    with db(path) as conn:
        rows = conn.execute("SELECT uid, count FROM occurrences ORDER BY seq").fetchall()
    return [f"{uid_text(uid)}:{count}" for uid, count in rows]


async def started(path: Path, **options: Any) -> SQLiteSink:
    sink = SQLiteSink(path, clock=FakeClock(NOW), **options)
    await sink.start()
    return sink


async def test_creates_a_versioned_wal_store_with_indexes(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "kubevents.db"
    sink: Sink = SQLiteSink(path)
    assert isinstance(sink, Sink) and sink.name == "sqlite"
    await sink.start()
    await sink.close()
    with db(path) as conn:
        pragma = {p: conn.execute(f"PRAGMA {p}").fetchone()[0] for p in
                  ("journal_mode", "auto_vacuum", "application_id", "user_version")}  # fmt: skip
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
        columns = [r[1] for r in conn.execute("PRAGMA table_info(occurrences)")]
    assert pragma == {
        "journal_mode": "wal",
        "auto_vacuum": 2,  # incremental
        "application_id": APPLICATION_ID,
        "user_version": SCHEMA_VERSION,
    }
    assert {
        "occurrences_time", "occurrences_namespace_time", "occurrences_involved",
        "occurrences_reason_time",
    } <= indexes  # fmt: skip
    assert columns[:5] == ["seq", "uid", "count", "time", "own_time"]
    assert {"involved_kind", "event", "inserted_at", "reporting_controller"} <= set(columns)
    assert "message" not in columns  # only inside the stored Event


async def test_stores_every_column_exactly(tmp_path: Path) -> None:
    path = tmp_path / "k.db"
    micro = NOW + timedelta(microseconds=123_457)
    occ = make_occurrence(series=True, count=3, first=NOW, last=micro, component="scheduler")
    node = make_occurrence(
        kind="Node", object_name="n1", object_namespace="", reporting_controller="node-ctl"
    )
    sink = await started(path)
    assert (await sink.write([occ, node])).rejected == []
    await sink.close()
    with db(path) as conn:
        conn.row_factory = sqlite3.Row
        row, node_row = map(dict, conn.execute("SELECT * FROM occurrences ORDER BY seq"))
        [(name, content)] = conn.execute("SELECT name, content FROM dictionaries")
    ref = occ.event.involved_object
    assert row["uid"] == uuid.UUID(occ.uid).bytes and row["count"] == 3
    # Microsecond-exact filing time as integer unix microseconds; the own time is the same.
    assert (row["time"], row["own_time"]) == (1717243200_123457, None)
    assert (row["involved_kind"], row["involved_name"]) == (ref.kind, ref.name)
    assert (row["namespace"], row["type"], row["reason"]) == ("shop", "Warning", "BackOff")
    # NULL: the same as namespace / source_component.
    assert (row["involved_namespace"], row["reporting_controller"]) == (None, "scheduler")
    assert (node_row["involved_namespace"], node_row["reporting_controller"]) == ("", "node-ctl")
    assert (row["source_component"], row["cluster"]) == ("", "test-cluster")
    # The server's bytes, compressed with the store's own copy of the shipped dictionary.
    assert (name, row["event"][0]) == (DICTIONARY_NAME, 1)
    assert content == shipped_codec().dictionary(1)
    assert shipped_codec().decompress(row["event"]) == occ.raw
    assert row["inserted_at"] == 1717243200_000000  # the sink's clock


async def test_replays_are_harmless(tmp_path: Path) -> None:
    path = tmp_path / "k.db"
    sink = await started(path)
    first = batch(5)
    await sink.write(first)
    await sink.write(first)  # a retried batch
    await sink.write([*batch(3, start=3), first[0], first[0]])  # overlap and in-batch repeats
    # A replay of an id keeps the first row (DO NOTHING), even if it differs.
    changed = msgspec.structs.replace(first[1], resource_version="999")
    await sink.write([changed])
    await sink.close()
    assert sorted(ids(path)) == sorted(o.id for o in batch(6))
    with EventStore(path) as store:
        [kept] = [o for o in store.query() if o.id == first[1].id]
        assert kept.resource_version == first[1].resource_version

    again = await started(path)  # a restarted exporter replays what it had not checkpointed
    await again.write(batch(6))
    await again.close()
    assert len(ids(path)) == 6


async def test_count_bumps_are_separate_occurrences(tmp_path: Path) -> None:
    path = tmp_path / "k.db"
    bumps = [make_occurrence(count=c) for c in (1, 2, 3, 7)]
    sink = await started(path)
    await sink.write(bumps)
    await sink.close()
    uid = bumps[0].uid
    assert ids(path) == [f"{uid}:1", f"{uid}:2", f"{uid}:3", f"{uid}:7"]


async def test_concurrent_batches_and_a_second_writer(tmp_path: Path) -> None:
    path = tmp_path / "k.db"
    one, two = await started(path), await started(path, name="other")
    writes = [
        sink.write(batch(200, start=start))
        for start in range(0, 2_000, 100)  # every id is written twice, by overlapping batches
        for sink in (one, two)
    ]
    results = await asyncio.gather(*writes)
    assert all(r.rejected == [] for r in results)
    await one.close()
    await two.close()
    stored = ids(path)
    assert len(stored) == len(set(stored)) == 2_100


async def test_retention_is_by_occurrence_time(tmp_path: Path) -> None:
    path = tmp_path / "k.db"
    old = batch(3, at=NOW - timedelta(days=40))
    recent = batch(2, start=10, at=NOW - timedelta(days=1))
    write_store(path, [*old, *recent], retention_days=None)  # kept: no retention
    assert len(ids(path)) == 5

    clock = FakeClock(NOW)
    sink = SQLiteSink(path, retention_days=30, clock=clock)
    await sink.start()  # prunes at start
    assert sorted(ids(path)) == sorted(o.id for o in recent)

    # A backfilled old occurrence is stored, then pruned by its time, not its insertion time.
    await sink.write(batch(1, start=20, at=NOW - timedelta(days=31)))
    assert len(ids(path)) == 3
    clock.step(1800)  # not yet time for the next pass
    await sink.write(batch(1, start=21))
    assert len(ids(path)) == 4
    clock.step(1800)
    await sink.write(batch(1, start=22))
    assert len(ids(path)) == 4  # the 31-day-old one is gone

    # Exactly 30 days old is kept (the window is [now - retention, ...)); older is not.
    clock.set(NOW - timedelta(days=1) + timedelta(days=30))
    await sink.write(batch(1, start=23))
    assert {o.id for o in recent} <= set(ids(path))
    clock.step(3601)
    await sink.write(batch(1, start=24))
    assert not {o.id for o in recent} & set(ids(path))
    await sink.close()


def dated_by_an_attacker(name: str, when: datetime) -> Occurrence:
    """An Event whose author chose its times; the API server created it at ``NOW``."""
    event = make_event(object_name=name, first=when, last=when)
    created = msgspec.structs.replace(event.metadata, creation_timestamp=Time.of(NOW))
    raw = msgspec.structs.replace(event, metadata=created).to_json()
    return Occurrence.of(EventFields.from_json(raw), raw, "test-cluster", TimeWindow(), NOW)


async def test_attacker_dated_occurrences_are_retained_by_their_filing_time(
    tmp_path: Path,
) -> None:
    path = tmp_path / "k.db"
    future = dated_by_an_attacker("future", datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC))
    ancient = dated_by_an_attacker("ancient", datetime(1, 1, 1, 0, 0, 1, tzinfo=UTC))
    clock = FakeClock(NOW)
    sink = SQLiteSink(path, retention_days=30, clock=clock)
    await sink.start()
    await sink.write([future, ancient])
    # Neither vanishes at once (0001 is older than any retention) ...
    clock.step(29 * 86400)
    await sink.write(batch(1, start=1, at=clock.now()))
    assert {future.id, ancient.id} <= set(ids(path))
    # ... and neither outlives retention (9999 is newer than any cutoff).
    clock.step(2 * 86400)
    await sink.write(batch(1, start=2, at=clock.now()))
    assert not {future.id, ancient.id} & set(ids(path))
    await sink.close()


def test_the_query_output_keeps_the_original_times(tmp_path: Path) -> None:
    path = tmp_path / "k.db"
    future = dated_by_an_attacker("future", datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC))
    write_store(path, [future])
    with EventStore(path) as store:
        [stored] = store.query()
    assert (stored.time, stored.filing_time) == (future.time, NOW)
    result = CliRunner().invoke(query, ["--db", str(path), "-o", "json"])
    assert result.exit_code == 0, result.output
    assert result.stdout_bytes == encode_lines([future])
    doc = json.loads(result.stdout)
    assert doc["time"] == doc["lastTimestamp"] == "9999-12-31T23:59:59.000000Z"


async def test_retention_gives_space_back(tmp_path: Path) -> None:
    path = tmp_path / "k.db"
    big = os.urandom(2_000).hex()  # incompressible: each row compresses on its own
    write_store(path, batch(3_000, at=NOW - timedelta(days=90), message=big), retention_days=None)
    write_store(path, batch(10, start=5_000), retention_days=None)
    with db(path) as conn:
        pages_before = conn.execute("PRAGMA page_count").fetchone()[0]
    sink = await started(path, retention_days=30)
    await sink.close()
    with db(path) as conn:
        pages_after = conn.execute("PRAGMA page_count").fetchone()[0]
        assert conn.execute("SELECT count(*) FROM occurrences").fetchone()[0] == 10
    assert pages_after < pages_before / 10


async def test_rejects_bad_settings_and_use_outside_its_life(tmp_path: Path) -> None:
    with pytest.raises(SinkError) as err:
        await SQLiteSink(tmp_path / "k.db", retention_days=0).start()
    assert err.value.reason == "config"
    sink = SQLiteSink(tmp_path / "k.db")
    with pytest.raises(SinkError) as err:
        await sink.write(batch(1))
    assert err.value.reason == "not_started"
    await sink.start()
    await sink.close()
    with pytest.raises(SinkError) as err:
        await sink.write(batch(1))
    assert err.value.reason == "closed"


async def test_refuses_files_that_are_not_a_kubevents_store(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("remember the milk\n" * 20)
    foreign = tmp_path / "other.db"
    with db(foreign) as conn:
        conn.execute("CREATE TABLE todo (item TEXT)")
    newer = tmp_path / "newer.db"
    write_store(newer, [])
    with db(newer) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")

    for path, reason, words in [
        (text, "not_a_database", "not a SQLite database"),
        (foreign, "not_a_store", "not a kubevents store"),
        (newer, "not_a_store", "newer kubevents"),
        (tmp_path, "is_directory", "is a directory"),
        (text / "k.db", "not_a_directory", "cannot create directory"),
    ]:
        before = path.read_bytes() if path.is_file() else None
        with pytest.raises(SinkError) as err:
            await SQLiteSink(path).start()
        assert (err.value.reason, words in str(err.value)) == (reason, True), path
        if before is not None:
            assert path.read_bytes() == before  # left untouched


async def test_an_empty_file_becomes_a_store(tmp_path: Path) -> None:
    path = tmp_path / "k.db"
    path.touch()
    write_store(path, batch(2))
    assert len(ids(path)) == 2


async def test_unwritable_directory_as_the_os_reports_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Root passes the real permission check, so this variant runs everywhere.
    real_access = os.access
    monkeypatch.setattr(
        os, "access", lambda p, mode: Path(p) != tmp_path / "ro" and real_access(p, mode)
    )
    with pytest.raises(SinkError, match="not writable") as err:
        await SQLiteSink(tmp_path / "ro" / "k.db").start()
    assert err.value.reason == "permission"
    assert not (tmp_path / "ro" / "k.db").exists()


async def test_invalid_utf8_is_rejected_not_retried(tmp_path: Path) -> None:
    good = batch(2)
    bad = msgspec.structs.replace(batch(1, start=5)[0], raw=b'{"message":"\xff"}')
    sink = await started(tmp_path / "k.db")
    result = await sink.write([good[0], bad, good[1]])
    await sink.close()
    assert [(r.occurrence.id, r.reason) for r in result.rejected] == [(bad.id, "invalid_utf8")]
    assert sorted(ids(tmp_path / "k.db")) == sorted(o.id for o in good)


async def test_readers_see_committed_rows_while_a_writer_transaction_is_open(
    tmp_path: Path,
) -> None:
    path = tmp_path / "k.db"
    sink = await started(path, busy_timeout=0.2)
    await sink.write(batch(3))
    with db(path) as other, EventStore(path) as store:
        other.execute("BEGIN IMMEDIATE")
        other.execute("DELETE FROM occurrences")  # uncommitted
        assert store.count() == 3  # not blocked, and no uncommitted change visible
        # The write lock is taken: the sink gives up after busy_timeout, the pipeline retries.
        with pytest.raises(SinkError) as err:
            await sink.write(batch(1, start=10))
        assert err.value.reason == "busy"
        other.execute("ROLLBACK")
        await sink.write(batch(1, start=10))
        assert store.count() == 4
        # An open reader does not hold up the writer either.
        await sink.write(batch(1, start=11))
        assert store.count() == 5
    await sink.close()

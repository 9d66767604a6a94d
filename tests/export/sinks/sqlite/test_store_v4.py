"""Schema 4: the type as a code, the enrichment in one column, their migration from schema 3.

The version 3 stores here are written by ``bench._store_support.write_v3_store``: the DDL of the
migrations up to version 3 and the version 3 sink's row encoding, kept there.
"""

from __future__ import annotations

import signal
import sqlite3
from contextlib import closing
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from unittest import mock

import click
import msgspec
import pytest
from bench._store_support import occurrences, write_v3_store
from click.testing import CliRunner

from kubevents.cli import _output
from kubevents.cli._query import query
from kubevents.cli._stats import stats
from kubevents.export import Enrichment, Occurrence, Workload
from kubevents.export.sinks import SinkError
from kubevents.export.sinks.sqlite import (
    SCHEMA_VERSION,
    enrichment_value,
    stored_enrichment,
)
from kubevents.export.store import EventStore, QueryFilter, StoreError

from ...factories import make_occurrence, write_store
from .migration_kill import kill_during_migration

WEB = Enrichment("hit", "", Workload("Deployment", "web"), {"app": "web", "tier": "front"})
DB = Enrichment("hit", "", Workload("StatefulSet", "db"), {"app": "db"}, {"team": "data"})
GONE = Enrichment("miss", "gone")
BARE = Enrichment("hit", "", Workload("Node", "n1"), {}, {})  # empty maps, as an enricher may
FINDINGS = (WEB, DB, GONE, BARE, None, None)
# Every type the API allows, and what a client may have written into an older Event.
TYPES = ("Normal", "Warning", "normal", "WARNING", "0", "1", "", "Custom")


def mixed() -> list[Occurrence]:
    """The realistic stream, enriched in every way, and Events of every type."""
    stream = [
        msgspec.structs.replace(occ, enrichment=FINDINGS[i % len(FINDINGS)])
        for i, occ in enumerate(occurrences(600, seed=23))
    ]
    typed = [
        msgspec.structs.replace(
            make_occurrence(object_name=f"typed-{i}", type=t), enrichment=FINDINGS[i % 3]
        )
        for i, t in enumerate(TYPES)
    ]
    return stream + typed


def version(path: Path) -> int:
    with closing(sqlite3.connect(path)) as conn:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])


def run(command: click.Command, path: Path, *args: str) -> bytes:
    result = CliRunner().invoke(command, ["--db", str(path), *args])
    assert result.exit_code == 0, result.output
    return result.stdout_bytes


READS = (
    ("-o", "json"),
    ("-o", "json", "--workload", "deploy/web"),
    ("-o", "json", "--workload", "sts/db"),
    ("-o", "json", "-l", "app=db"),
    ("-o", "json", "--type", "warning", "--limit", "40"),
    ("-o", "json", "--type", "normal", "--limit", "40"),
    ("-o", "wide", "-n", "shop", "--limit", "30"),
)


class _Frozen(datetime):
    """The table's ages are counted from now: one instant for every read of a test, so that
    two reads seconds apart cannot differ by an age that crossed a unit meanwhile."""

    instant = datetime.now(UTC)

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> _Frozen:
        return cls.fromtimestamp(cls.instant.timestamp(), tz)


def everything(path: Path) -> list[bytes]:
    """What the readers show of a store: queries (JSON and table), stats, the Python API."""
    with mock.patch.object(_output, "datetime", _Frozen):
        shown = [run(query, path, *args) for args in READS]
    shown.append(run(stats, path, "-o", "json", "--top", "50"))
    with EventStore(path) as store:
        found = store.query()
    fields = [(o.seq, o.id, o.type, o.enrichment, o.workload, o.event_json) for o in found]
    return [*shown, msgspec.json.encode(fields)]


def test_a_version_3_store_reads_the_same_before_and_after_its_migration(tmp_path: Path) -> None:
    path, fresh = tmp_path / "v3.db", tmp_path / "v4.db"
    batch = mixed()
    write_v3_store(path, batch)
    assert version(path) == 3
    before = everything(path)
    assert all(before[1:4])  # each enrichment filter matches something

    write_store(path, [])  # an exporter of this version starts on it
    assert version(path) == SCHEMA_VERSION == 4
    assert everything(path) == before
    write_store(fresh, batch)  # the same occurrences written by this version's sink
    assert everything(fresh)[:-2] == before[:-2]  # all but the stats' and arrival's times


def test_rows_keep_the_type_as_a_code_and_no_enrichment_as_one_null(tmp_path: Path) -> None:
    path = tmp_path / "kubevents.db"
    batch = [make_occurrence(object_name=f"p{i}", type=t) for i, t in enumerate(TYPES)] + [
        msgspec.structs.replace(make_occurrence(object_name="enriched"), enrichment=DB)
    ]
    write_store(path, batch)
    with closing(sqlite3.connect(path)) as conn:
        rows = conn.execute(
            "SELECT type_code, type, enrichment, workload_kind, workload_name, labels "
            "FROM occurrences ORDER BY seq"
        ).fetchall()
        hidden = {r[1]: r[6] for r in conn.execute("PRAGMA table_xinfo(occurrences)")}
    assert [r[:2] for r in rows[: len(TYPES)]] == [
        (0, "Normal"), (1, "Warning"), ("normal", "normal"), ("WARNING", "WARNING"),
        ("0", "0"), ("1", "1"), ("", ""), ("Custom", "Custom"),
    ]  # fmt: skip
    assert {r[2:] for r in rows[: len(TYPES)]} == {(None, None, None, None)}
    assert rows[-1][2:] == (
        '["hit","","StatefulSet","db",{"app":"db"},{"team":"data"}]',
        "StatefulSet", "db", '{"app":"db"}',
    )  # fmt: skip
    # Stored nowhere (2: a VIRTUAL generated column); everything else is stored.
    generated = {c for c, h in hidden.items() if h}
    assert generated == {"type", "workload_kind", "workload_name", "labels"}
    assert set(hidden.values()) == {0, 2}


@pytest.mark.parametrize(
    "found",
    [
        WEB, DB, GONE, BARE, Enrichment("miss", "not_synced"), Enrichment("hit"),
        Enrichment("hit", "", None, {"a": "1"}), Enrichment("hit", "", Workload("", "")),
        Enrichment("hit", "", Workload("Job", "j"), None, {"z": "1", "a": "\u00fc\n"}),
    ],
)  # fmt: skip
def test_the_enrichment_column_reads_back_as_schema_3_did(found: Enrichment) -> None:
    value = enrichment_value(found)
    assert value is not None
    items = msgspec.json.decode(value)
    # Without its trailing defaults: a reason of "", absent workload, labels and annotations.
    assert len(items) == 1 or items[-1] != ("", None, None, None, None)[len(items) - 2]
    # Schema 3 read empty labels back as none, and kept the maps' keys sorted.
    expected = msgspec.structs.replace(
        found,
        labels=dict(sorted(found.labels.items())) if found.labels else None,
        annotations=None if found.annotations is None else dict(sorted(found.annotations.items())),
    )
    read = stored_enrichment(value)
    assert read == expected
    assert read is not None and list(read.annotations or ()) == list(expected.annotations or ())
    assert enrichment_value(None) is None and stored_enrichment(None) is None


def test_a_kill_during_the_migration_leaves_the_version_3_store_whole(tmp_path: Path) -> None:
    path = tmp_path / "kubevents.db"
    batch = mixed()[:100]
    write_v3_store(path, batch)
    before = everything(path)
    assert kill_during_migration(path) == -signal.SIGKILL
    assert version(path) == 3  # rolled back when next opened
    assert everything(path) == before
    write_store(path, [])  # the next start migrates
    assert version(path) == SCHEMA_VERSION
    assert everything(path) == before


def test_the_migration_keeps_arrival_numbers_and_never_reuses_one(tmp_path: Path) -> None:
    path = tmp_path / "kubevents.db"
    batch = mixed()
    write_v3_store(path, batch[:50])
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("DELETE FROM occurrences WHERE seq > 45")  # the newest arrivals expired
        conn.commit()
    write_store(path, batch[50:52])  # migrates, then stores two more
    with EventStore(path) as store:
        assert [o.seq for o in store.query()][-3:] == [45, 51, 52]


def test_a_damaged_enrichment_is_carried_over_and_reported(tmp_path: Path) -> None:
    path = tmp_path / "kubevents.db"
    batch = [
        msgspec.structs.replace(make_occurrence(object_name=f"p{i}"), enrichment=WEB)
        for i in range(4)
    ]
    write_v3_store(path, batch)
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("UPDATE occurrences SET enrichment = '{\"status\": 5' WHERE seq = 2")
        conn.commit()
    write_store(path, [])  # a damaged row must not keep the exporter from starting
    assert version(path) == SCHEMA_VERSION
    result = CliRunner().invoke(query, ["--db", str(path)])
    assert result.exit_code == 2 and "unreadable enrichment" in result.output
    # Filters on the generated columns skip the damaged row instead of failing on it.
    web = QueryFilter(workload_kind="Deployment", workload_name="web")
    with EventStore(path) as store:
        assert [o.seq for o in store.query(QueryFilter(workload_name="web", limit=1))] == [4]
        assert store.count(web) == 3
    write_store(path, [make_occurrence(object_name="after")], retention_days=1)  # deletes all
    with EventStore(path) as store:
        assert [o.involved_name for o in store.query()] == ["after"]


def test_an_sqlite_without_generated_columns_is_refused_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    v3, v4 = tmp_path / "v3.db", tmp_path / "v4.db"
    write_v3_store(v3, mixed()[:5])
    write_store(v4, mixed()[:5])
    monkeypatch.setattr(sqlite3, "sqlite_version_info", (3, 30, 1))
    monkeypatch.setattr(sqlite3, "sqlite_version", "3.30.1")
    with pytest.raises(SinkError, match=r"needs SQLite 3\.31\.0 or newer.*3\.30\.1") as caught:
        write_store(v3, [])
    assert caught.value.reason == "sqlite_too_old"
    assert version(v3) == 3  # untouched, and still readable here
    with EventStore(v3) as store:
        assert store.count() == 5
    with pytest.raises(StoreError, match=r"needs SQLite 3\.31\.0 or newer"):
        EventStore(v4)

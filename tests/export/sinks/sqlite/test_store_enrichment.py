"""The enrichment in the store, its migration from schema 2, ``--workload`` and ``-l``.

The version 2 stores here are version 3 stores (``bench._store_support.write_v3_store``, the
version 3 sink's code) without the columns version 3 added.
"""

from __future__ import annotations

import signal
import sqlite3
from contextlib import closing
from pathlib import Path

import msgspec
import pytest
from bench._store_support import write_v3_store
from click.testing import CliRunner

from kubevents.cli._query import query
from kubevents.export import Enrichment, Occurrence, Workload
from kubevents.export.sinks.sqlite import SCHEMA_VERSION
from kubevents.export.store import EventStore, QueryFilter

from ...factories import make_occurrence, write_store
from .migration_kill import kill_during_migration

WEB = Enrichment("hit", "", Workload("Deployment", "web"), {"app": "web", "tier": "front"})
DB = Enrichment("hit", "", Workload("StatefulSet", "db"), {"app": "db"}, {"team": "data"})
GONE = Enrichment("miss", "gone")


def enriched() -> list[Occurrence]:
    occurrences = []
    for i in range(30):
        occ = make_occurrence(object_name=f"pod-{i}", reason=f"R{i % 3}")
        found = (WEB, DB, GONE, None)[i % 4]
        occurrences.append(msgspec.structs.replace(occ, enrichment=found))
    return occurrences


def version(path: Path) -> int:
    with closing(sqlite3.connect(path)) as conn:
        return int(conn.execute("PRAGMA user_version").fetchone()[0])


def columns(path: Path) -> list[str]:
    """The table's columns, generated ones included."""
    with closing(sqlite3.connect(path)) as conn:
        return [r[1] for r in conn.execute("PRAGMA table_xinfo(occurrences)")]


def write_v2_store(path: Path, batch: list[Occurrence]) -> None:
    """What schema 2 wrote: schema 3 without the enrichment's columns and their index."""
    write_v3_store(path, batch)
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("DROP INDEX occurrences_workload_time")
        for column in ("workload_kind", "workload_name", "labels", "enrichment"):
            conn.execute(f"ALTER TABLE occurrences DROP COLUMN {column}")
        conn.execute("PRAGMA user_version = 2")
        conn.commit()


def cli(path: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(query, ["--db", str(path), *args])
    return result.exit_code, result.output


def test_the_enrichment_is_stored_and_read_back(tmp_path: Path) -> None:
    path = tmp_path / "kubevents.db"
    batch = enriched()
    write_store(path, batch)
    assert version(path) == SCHEMA_VERSION == 4
    with EventStore(path) as store:
        read = {o.id: o.enrichment for o in store.query()}
    assert read == {o.id: o.enrichment for o in batch}
    code, output = cli(path, "-o", "json", "--for", "pod/pod-1")
    assert code == 0
    assert msgspec.json.decode(output)["enrichment"] == {
        "status": "hit", "workload": {"kind": "StatefulSet", "name": "db"},
        "labels": {"app": "db"}, "annotations": {"team": "data"},
    }  # fmt: skip


def test_a_version_2_store_migrates_and_reads_the_same(tmp_path: Path) -> None:
    path = tmp_path / "kubevents.db"
    plain = [msgspec.structs.replace(o, enrichment=None) for o in enriched()]
    write_v2_store(path, plain)
    assert version(path) == 2
    before = cli(path, "-o", "json")
    code, output = cli(path, "--workload", "deploy/web")
    assert code == 2 and "predates enrichment (schema 2)" in output
    write_store(path, [])  # an exporter of this version starts on it
    assert version(path) == 4
    assert {"workload_kind", "workload_name", "labels", "enrichment"} <= set(columns(path))
    assert cli(path, "-o", "json") == before
    assert cli(path, "--workload", "deploy/web") == (0, "No events found.\n")


def test_a_kill_during_the_migration_leaves_the_version_2_store_whole(tmp_path: Path) -> None:
    path = tmp_path / "kubevents.db"
    plain = [msgspec.structs.replace(o, enrichment=None) for o in enriched()]
    write_v2_store(path, plain)
    assert kill_during_migration(path) == -signal.SIGKILL
    assert version(path) == 2  # rolled back when next opened
    assert "workload_name" not in columns(path)
    with EventStore(path) as store:
        assert sorted(o.id for o in store.query()) == sorted(o.id for o in plain)
    new = msgspec.structs.replace(make_occurrence(object_name="new-pod"), enrichment=WEB)
    write_store(path, [new])  # the next start migrates, then stores
    assert version(path) == SCHEMA_VERSION
    with EventStore(path) as store:
        found = store.query(QueryFilter(workload_kind="Deployment", workload_name="web"))
    assert [o.id for o in found] == [new.id]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--workload", "deploy/web"], {i for i in range(30) if i % 4 == 0}),
        (["--workload", "deployments/web"], {i for i in range(30) if i % 4 == 0}),
        (["--workload", "sts/db"], {i for i in range(30) if i % 4 == 1}),
        (["--workload", "deploy/db"], set()),
        (["-l", "app=web"], {i for i in range(30) if i % 4 == 0}),
        (["-l", "app==web,tier=front"], {i for i in range(30) if i % 4 == 0}),
        (["-l", "app=web,tier=back"], set()),
        (["-l", "app=db", "--workload", "sts/db"], {i for i in range(30) if i % 4 == 1}),
    ],
)
def test_workload_and_label_selectors(tmp_path: Path, args: list[str], expected: set[int]) -> None:
    path = tmp_path / "kubevents.db"
    write_store(path, enriched())
    code, output = cli(path, "-o", "json", *args)
    assert code == 0, output
    names = {msgspec.json.decode(line)["involvedObject"]["name"] for line in output.splitlines()}
    assert names == {f"pod-{i}" for i in expected}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--workload", "web"], "expected KIND/NAME"),
        (["-l", "app!=web"], "only equality selectors"),
        (["-l", "app in (web)"], "only equality selectors"),
        (["-l", 'a"b=c'], "only equality selectors"),
        (["-l", "app"], "only equality selectors"),
    ],
)
def test_bad_selectors_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    path = tmp_path / "kubevents.db"
    write_store(path, enriched())
    code, output = cli(path, *args)
    assert code == 2 and message in output


def test_workload_queries_use_their_index(tmp_path: Path) -> None:
    path = tmp_path / "kubevents.db"
    write_store(path, enriched())
    flt = QueryFilter(workload_kind="Deployment", workload_name="web", limit=50)
    with EventStore(path) as store:
        plan = " / ".join(store.explain(flt))
    assert "USING INDEX occurrences_workload_time" in plan, plan
    assert "TEMP B-TREE FOR ORDER BY" not in plan.split("SCAN (subquery")[0], plan


def test_wide_output_shows_the_workload(tmp_path: Path) -> None:
    path = tmp_path / "kubevents.db"
    write_store(path, enriched()[:4])
    code, output = cli(path, "-o", "wide", "-n", "shop")
    assert code == 0
    header, *rows = output.splitlines()
    assert header.split()[5] == "WORKLOAD"  # after LAST SEEN, TYPE, REASON, OBJECT
    by_object = {row.split()[3]: row.split()[4] for row in rows}
    assert by_object == {
        "pod/pod-0": "deployment/web", "pod/pod-1": "statefulset/db",
        "pod/pod-2": "<none>", "pod/pod-3": "<none>",
    }  # fmt: skip

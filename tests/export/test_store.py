"""Reading the SQLite store: filters, time windows, follow, stats, and what is not a store."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from kubevents.export import EventFields, Occurrence
from kubevents.export.sinks.sqlite import SCHEMA_VERSION
from kubevents.export.store import (
    DEFAULT_DB_PATH,
    EventStore,
    QueryFilter,
    StoreError,
    default_db_path,
)
from kubevents.model import Event

from .factories import BASE_TIME, make_occurrence, write_store

T0 = BASE_TIME
CEST = timezone(timedelta(hours=2))


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


# One small cluster history, in the order the exporter stored it (not time order: the last one
# is a late backfill of an old occurrence).
HISTORY: list[Occurrence] = [
    make_occurrence(count=1, first=at(0)),  # shop pod/web-0 BackOff Warning, kubelet
    make_occurrence(count=2, first=at(0), last=at(5)),
    make_occurrence(
        kind="Deployment", object_name="web", reason="ScalingReplicaSet", type="Normal",
        message="Scaled up replica set web-5d4 to 3", component="deployment-controller",
        first=at(10), series=True,
    ),
    make_occurrence(
        namespace="kube-system", kind="Node", object_name="node-1", object_namespace="",
        reason="NodeNotReady", message="Node node-1 status is now: NodeNotReady",
        component="node-controller", first=at(20), cluster="prod",
    ),
    make_occurrence(
        namespace="billing", object_name="api-0", reason="Failed",
        message="Error: ÜBER-image not found", first=at(30), reporting_controller="kubelet-x",
    ),
    make_occurrence(namespace="billing", object_name="api-0", reason="Pulled", type="Normal",
                    message="Container image pulled", first=at(-30)),
]  # fmt: skip


@pytest.fixture
def store_path(tmp_path: Path) -> Path:
    path = tmp_path / "kubevents.db"
    write_store(path, HISTORY, batch_size=2)
    return path


@pytest.fixture
def store(store_path: Path) -> Iterator[EventStore]:
    with EventStore(store_path) as s:
        yield s


def ids(occurrences: list[Occurrence]) -> list[str]:
    return [o.id for o in occurrences]


def found(store: EventStore, **fields: Any) -> list[str]:
    return [o.id for o in store.query(QueryFilter(**fields))]


H = HISTORY


def test_query_returns_every_field_in_time_order(store: EventStore) -> None:
    rows = store.query()
    assert [r.id for r in rows] == ids([H[5], H[0], H[1], H[2], H[3], H[4]])
    assert [r.seq for r in rows] == [6, 1, 2, 3, 4, 5]  # arrival order
    node = rows[4]
    assert (node.id, node.uid, node.count, node.time) == (H[3].id, H[3].uid, 1, at(20))
    assert node.time.tzinfo is UTC
    name = H[3].event.metadata.name
    assert (node.namespace, node.name, node.cluster) == ("kube-system", name, "prod")
    assert node.involved_object == {
        "kind": "Node", "namespace": "", "name": "node-1",
        "uid": H[3].event.involved_object.uid, "apiVersion": "v1", "fieldPath": "",
    }  # fmt: skip
    assert node.source == {"component": "node-controller", "host": "node-1"}
    assert (node.type, node.reason, node.reporting_controller) == (
        "Warning",
        "NodeNotReady",
        "node-controller",
    )
    assert node.first_timestamp == node.last_timestamp == at(20)
    assert isinstance(node.event, Event) and EventFields.of(node.event) == H[3].event
    assert node.occurrence() == H[3]
    series = rows[3]
    assert series.time == H[2].time and series.first_timestamp is None


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"namespace": "shop"}, [H[0], H[1], H[2]]),
        ({"namespace": "nowhere"}, []),
        ({"involved_kind": "pod"}, [H[5], H[0], H[1], H[4]]),  # case-insensitive
        ({"involved_kind": "Pod", "involved_name": "api-0"}, [H[5], H[4]]),
        ({"reason": "backoff"}, [H[0], H[1]]),
        ({"type": "normal"}, [H[5], H[2]]),
        ({"source": "deployment-controller"}, [H[2]]),  # source.component
        ({"source": "kubelet-x"}, [H[4]]),  # reportingController
        ({"cluster": "prod"}, [H[3]]),
        ({"text": "über"}, [H[4]]),  # Unicode case folding
        ({"text": "REPLICA SET"}, [H[2]]),
        ({"since": at(5)}, [H[1], H[2], H[3], H[4]]),  # since is inclusive
        ({"until": at(5)}, [H[5], H[0]]),  # until is exclusive
        ({"since": at(0), "until": at(20)}, [H[0], H[1], H[2]]),
        ({"since": at(5).astimezone(CEST)}, [H[1], H[2], H[3], H[4]]),  # any zone
        ({"limit": 2}, [H[3], H[4]]),  # the newest two, oldest first
        ({"limit": 2, "namespace": "shop", "type": "Warning"}, [H[0], H[1]]),
    ],
)
def test_filters(store: EventStore, fields: dict[str, Any], expected: list[Occurrence]) -> None:
    assert found(store, **fields) == ids(expected)
    unlimited = {k: v for k, v in fields.items() if k != "limit"}
    assert store.count(QueryFilter(**unlimited)) == len(found(store, **unlimited))


def test_time_windows_are_exact_to_the_microsecond(tmp_path: Path) -> None:
    base = T0 + timedelta(microseconds=250)
    occs = [
        make_occurrence(object_name=f"p{i}", series=True, first=base + timedelta(microseconds=i))
        for i in range(3)
    ]
    write_store(tmp_path / "k.db", occs)
    with EventStore(tmp_path / "k.db") as store:
        window = QueryFilter(since=base + timedelta(microseconds=1), until=occs[2].time)
        assert found(store, since=window.since, until=window.until) == [occs[1].id]
        cest = occs[1].time.astimezone(CEST)
        assert found(store, since=cest, until=cest + timedelta(microseconds=1)) == [occs[1].id]


def test_filter_validation() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        QueryFilter(since=datetime(2024, 1, 1))  # noqa: DTZ001 - the point of the test
    with pytest.raises(ValueError, match="limit"):
        QueryFilter(limit=0)


def test_follow_yields_new_matching_rows_as_they_arrive(store_path: Path) -> None:
    stop = threading.Event()
    late = [
        make_occurrence(namespace="shop", object_name=f"w{i}", first=at(40 + i)) for i in range(3)
    ]
    noise = [make_occurrence(namespace="other", object_name=f"n{i}") for i in range(1_500)]
    got: list[str] = []
    with EventStore(store_path) as store:
        rows = store.follow(QueryFilter(namespace="shop"), 0.01, stop=stop)

        def writer() -> None:
            write_store(store_path, [late[0], *noise, late[1]], batch_size=400)
            write_store(store_path, [late[2]])

        threading.Thread(target=writer).start()
        watchdog = threading.Timer(20, stop.set)  # a bounded wait, should anything go wrong
        watchdog.start()
        for occ in rows:
            got.append(occ.id)
            if len(got) == 3:
                stop.set()
        watchdog.cancel()
        assert got == ids(late)  # only new rows, only matching, in arrival order


def test_follow_with_backlog_and_resume(store_path: Path) -> None:
    stop = threading.Event()
    with EventStore(store_path) as store:
        batches = store.follow_batches(QueryFilter(limit=2), 0.01, backlog=True, stop=stop)
        first = next(batches)
        assert [o.id for o in first] == ids([H[3], H[4]])  # what query() returns
        new = make_occurrence(object_name="new", first=at(-100))  # older, but arrives last
        write_store(store_path, [new])
        assert [o.id for o in next(batches)] == [new.id]  # limit bounds the backlog only
        stop.set()
        assert list(batches) == []
        resumed = store.follow(after=3, stop=threading.Event())
        assert [next(resumed).id for _ in range(4)] == ids([H[3], H[4], H[5], new])


def test_an_open_reader_does_not_block_the_writer(store_path: Path) -> None:
    with EventStore(store_path) as store:
        rows = store.follow(backlog=True, stop=threading.Event())
        next(rows)  # suspended mid-backlog: no read transaction may stay open
        extra = [make_occurrence(object_name=f"x{i}") for i in range(50)]
        write_store(store_path, extra, batch_size=10, busy_timeout=0.5)
        assert store.count() == len(H) + 50


def test_stats(store: EventStore) -> None:
    everything = store.stats(top=2)
    assert (everything.total, everything.warnings) == (6, 4)
    assert (everything.first, everything.last) == (at(-30), at(30))
    assert [(r.reason, r.count, r.warnings) for r in everything.reasons] == [
        ("BackOff", 2, 2), ("Failed", 1, 1),  # ties by name
    ]  # fmt: skip
    assert [(o.kind, o.namespace, o.name, o.count) for o in everything.objects] == [
        ("Pod", "billing", "api-0", 2), ("Pod", "shop", "web-0", 2),
    ]  # fmt: skip
    assert [(n.namespace, n.count, n.warnings) for n in everything.namespaces] == [
        ("shop", 3, 2), ("billing", 2, 1),
    ]  # fmt: skip

    window = store.stats(at(0), at(20), top=10)
    assert (window.total, window.window_start, window.window_end) == (3, at(0), at(20))
    assert [(r.reason, r.count) for r in window.reasons] == [
        ("BackOff", 2), ("ScalingReplicaSet", 1),
    ]  # fmt: skip
    billing = store.stats(namespace="billing")
    assert [(r.reason, r.count) for r in billing.reasons] == [("Failed", 1), ("Pulled", 1)]
    empty = store.stats(at(1000))
    assert (empty.total, empty.warnings, empty.first, empty.reasons) == (0, 0, None, [])


def test_what_is_not_a_store(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    foreign = tmp_path / "foreign.db"
    with closing(sqlite3.connect(foreign)) as conn:
        conn.execute("CREATE TABLE t (x)")
    newer = tmp_path / "newer.db"
    write_store(newer, [])
    with closing(sqlite3.connect(newer)) as conn:
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    empty = tmp_path / "empty.db"
    empty.touch()
    for path, words in [
        (tmp_path / "missing.db", "no kubevents store at"),
        (tmp_path, "is a directory"),
        (text, "not a SQLite database"),
        (empty, "not a SQLite database"),
        (foreign, "not a kubevents store"),
        (newer, "newer kubevents"),
    ]:
        with pytest.raises(StoreError, match=words):
            EventStore(path)
    assert not (tmp_path / "missing.db").exists()  # read-only: never creates a file


def test_the_store_is_opened_read_only(store_path: Path) -> None:
    with EventStore(store_path) as store:
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            store._conn.execute("DELETE FROM occurrences")
        assert store.count() == len(H) and store.last_seq() == len(H)


def test_default_db_path() -> None:
    assert default_db_path({}) == Path(DEFAULT_DB_PATH) == Path("kubevents.db")
    assert default_db_path({"KUBEVENTS_DB": "/var/lib/k.db"}) == Path("/var/lib/k.db")
    assert default_db_path({"KUBEVENTS_DB": ""}) == Path("kubevents.db")

"""The store's reads for the web UI: pages before a cursor, the timeline, one object's history."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from kubevents.export.sinks.sqlite import to_micros
from kubevents.export.store import EventStore, PageCursor, QueryFilter
from kubevents.export.store import StoredOccurrence as Stored

from .factories import BASE_TIME, make_occurrence, write_store

T0 = BASE_TIME


def cursor(occ: Stored) -> PageCursor:
    return PageCursor(to_micros(occ.filing_time), occ.seq)


@pytest.fixture
def store(tmp_path: Path) -> EventStore:
    # 25 occurrences, five to each second (whole-second times tie), a Warning every third.
    history = [
        make_occurrence(
            object_name=f"web-{i % 3}", reason=f"R{i % 4}", count=1,
            type="Warning" if i % 3 == 0 else "Normal", first=T0 + timedelta(seconds=i // 5),
            name=f"e{i}",
        )
        for i in range(25)
    ]  # fmt: skip
    write_store(tmp_path / "kubevents.db", history, batch_size=7)
    return EventStore(tmp_path / "kubevents.db")


def test_pages_walk_every_row_once_newest_first_through_tied_times(store: EventStore) -> None:
    everything = store.query(QueryFilter())
    seen: list[Stored] = []
    before = None
    while page := store.page(QueryFilter(), before=before, size=4):
        seen += page
        before = cursor(page[-1])
    assert [o.id for o in seen] == [o.id for o in reversed(everything)]
    assert len(seen) == 25


def test_a_page_filters_as_query_does(store: EventStore) -> None:
    flt = QueryFilter(involved_name="web-1", type="normal")
    page = store.page(flt, size=100)
    assert [o.id for o in page] == [o.id for o in reversed(store.query(flt))]
    assert page
    assert {(o.involved_object["name"], o.type) for o in page} == {("web-1", "Normal")}


def test_cursor_tokens_round_trip_and_refuse_garbage() -> None:
    c = PageCursor(1714564800000000, 42)
    assert PageCursor.parse(c.token()) == c
    for bad in ("", "1", "a.b", "1.2.3", "1;DROP", "9" * 30 + ".1"):
        with pytest.raises(ValueError, match="page cursor"):
            PageCursor.parse(bad)


def test_timeline_counts_by_type_in_round_buckets(store: EventStore) -> None:
    timeline = store.timeline(QueryFilter(), buckets=10)
    assert timeline is not None
    assert timeline.start == T0
    assert timeline.step == timedelta(seconds=1)
    # Second s holds occurrences 5s..5s+4; those divisible by 3 are Warnings.
    assert [(b.normal, b.warning) for b in timeline.buckets] == [
        (3, 2), (3, 2), (4, 1), (3, 2), (3, 2),
    ]  # fmt: skip
    assert timeline.total == 25


def test_timeline_of_a_given_window_and_filter(store: EventStore) -> None:
    flt = QueryFilter(
        type="Warning", since=T0 - timedelta(seconds=10), until=T0 + timedelta(seconds=50)
    )
    timeline = store.timeline(flt, buckets=6)
    assert timeline is not None
    assert timeline.step == timedelta(seconds=10)
    assert len(timeline.buckets) == 6
    assert [b.warning for b in timeline.buckets] == [0, 9, 0, 0, 0, 0]
    assert timeline.total == store.count(flt) == 9
    assert store.timeline(QueryFilter(reason="nothing")) is None


def test_object_history_in_order_and_scoped_to_the_objects_namespace(tmp_path: Path) -> None:
    history = [
        make_occurrence(object_name="web-0", count=c, first=T0, last=T0 + timedelta(seconds=c))
        for c in (1, 2, 3)
    ] + [
        make_occurrence(object_name="web-0", reason="Pulled", type="Normal", first=T0),
        make_occurrence(namespace="other", object_name="web-0", first=T0),
        make_occurrence(kind="Node", object_name="web-0", object_namespace="", first=T0,
                        namespace="default"),
    ]  # fmt: skip
    write_store(tmp_path / "kubevents.db", history[::-1])
    with EventStore(tmp_path / "kubevents.db") as store:
        got = store.object_history("pod", "shop", "web-0")
        assert [(o.reason, o.count) for o in got] == [
            ("Pulled", 1), ("BackOff", 1), ("BackOff", 2), ("BackOff", 3),
        ]  # fmt: skip
        assert [o.id for o in store.object_history("Pod", "shop", "web-0", limit=2)] == [
            o.id for o in got[-2:]
        ]
        [node] = store.object_history("Node", "", "web-0")
        assert node.namespace == "default"


def test_a_timeline_without_a_window_starts_on_a_round_time(tmp_path: Path) -> None:
    times = [T0 + timedelta(minutes=7, seconds=13), T0 + timedelta(minutes=52)]
    write_store(tmp_path / "kubevents.db", [make_occurrence(first=t, name=str(t)) for t in times])
    with EventStore(tmp_path / "kubevents.db") as store:
        timeline = store.timeline(QueryFilter(), buckets=10)
    assert timeline is not None
    assert timeline.step == timedelta(minutes=5)
    assert timeline.start == T0 + timedelta(minutes=5)
    assert timeline.end == T0 + timedelta(minutes=55)
    assert [b.warning for b in timeline.buckets] == [1, 0, 0, 0, 0, 0, 0, 0, 0, 1]

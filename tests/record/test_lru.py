"""LRUCache: k8s.io/utils/lru (groupcache) semantics."""

from __future__ import annotations

import threading

from hypothesis import given
from hypothesis import strategies as st

from kubevents.record._lru import LRUCache


def test_add_new_key_evicts_the_oldest() -> None:
    cache: LRUCache[str, int] = LRUCache(2)
    cache.add("a", 1)
    cache.add("b", 2)
    cache.add("c", 3)
    assert cache.keys() == ["b", "c"]
    assert cache.get("a") is None


def test_get_hit_refreshes() -> None:
    cache: LRUCache[str, int] = LRUCache(2)
    cache.add("a", 1)
    cache.add("b", 2)
    assert cache.get("a") == 1
    cache.add("c", 3)
    assert cache.keys() == ["a", "c"]


def test_get_miss_changes_nothing() -> None:
    cache: LRUCache[str, int] = LRUCache(2)
    cache.add("a", 1)
    cache.add("b", 2)
    assert cache.get("zzz") is None
    assert cache.keys() == ["a", "b"]


def test_add_existing_replaces_and_refreshes_without_evicting() -> None:
    cache: LRUCache[str, int] = LRUCache(2)
    cache.add("a", 1)
    cache.add("b", 2)
    cache.add("a", 10)
    assert cache.keys() == ["b", "a"]
    assert len(cache) == 2
    cache.add("c", 3)
    assert cache.keys() == ["a", "c"]
    assert cache.get("a") == 10


def test_contains_is_not_a_use() -> None:
    cache: LRUCache[str, int] = LRUCache(2)
    cache.add("a", 1)
    cache.add("b", 2)
    assert "a" in cache
    cache.add("c", 3)
    assert "a" not in cache


def test_zero_means_unbounded() -> None:
    cache: LRUCache[int, int] = LRUCache(0)
    for i in range(10_000):
        cache.add(i, i)
    assert len(cache) == 10_000


def test_negative_size_keeps_nothing() -> None:
    # Go evicts the oldest whenever len > max, and len 1 > -1 evicts the entry just added.
    cache: LRUCache[str, int] = LRUCache(-1)
    cache.add("a", 1)
    assert len(cache) == 0
    assert cache.get("a") is None


def test_remove_remove_oldest_clear() -> None:
    cache: LRUCache[str, int] = LRUCache(3)
    for key in "abc":
        cache.add(key, 0)
    cache.remove("b")
    cache.remove("missing")
    assert cache.keys() == ["a", "c"]
    cache.remove_oldest()
    assert cache.keys() == ["c"]
    cache.clear()
    cache.remove_oldest()
    assert len(cache) == 0
    assert cache.max_entries == 3


def test_thread_safety() -> None:
    cache: LRUCache[int, int] = LRUCache(50)

    def worker(offset: int) -> None:
        for i in range(2000):
            cache.add((i * 7 + offset) % 200, i)
            cache.get((i * 3 + offset) % 200)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(cache) == 50
    assert len(set(cache.keys())) == 50


operations = st.lists(
    st.tuples(st.sampled_from(["add", "get"]), st.integers(min_value=0, max_value=8)),
    max_size=80,
)


@given(size=st.integers(min_value=1, max_value=6), ops=operations)
def test_matches_a_reference_model(size: int, ops: list[tuple[str, int]]) -> None:
    cache: LRUCache[int, int] = LRUCache(size)
    model: list[tuple[int, int]] = []  # oldest first
    for step, (op, key) in enumerate(ops):
        index = next((i for i, (k, _) in enumerate(model) if k == key), None)
        if op == "add":
            cache.add(key, step)
            if index is not None:
                del model[index]
            model.append((key, step))
            if len(model) > size:
                del model[0]
        else:
            expected = None if index is None else model[index][1]
            assert cache.get(key) == expected
            if index is not None:
                model.append(model.pop(index))
        assert len(cache) <= size
        assert cache.keys() == [k for k, _ in model]

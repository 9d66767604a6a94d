"""A bounded LRU cache with the semantics of ``k8s.io/utils/lru`` (a fork of groupcache's)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

__all__ = ["LRUCache"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class LRUCache(Generic[K, V]):
    """Thread-safe LRU cache.

    ``max_entries`` follows Go: 0 means unbounded, and any other value evicts the single oldest
    entry whenever an insert makes the size exceed it (so a negative size keeps nothing).
    Internally the most recently used entry is at the end of the ``OrderedDict``.
    """

    def __init__(self, max_entries: int) -> None:
        self._max_entries = max_entries
        self._entries: OrderedDict[K, V] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def max_entries(self) -> int:
        return self._max_entries

    def add(self, key: K, value: V) -> None:
        """Insert or replace ``key``; either way it becomes the most recently used."""
        with self._lock:
            if key in self._entries:
                self._entries[key] = value
                self._entries.move_to_end(key)
                return
            self._entries[key] = value
            if self._max_entries != 0 and len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)

    def get(self, key: K) -> V | None:
        """The value for ``key`` (marking it most recently used), or None on a miss."""
        with self._lock:
            if key not in self._entries:
                return None
            self._entries.move_to_end(key)
            return self._entries[key]

    def remove(self, key: K) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def remove_oldest(self) -> None:
        with self._lock:
            if self._entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def keys(self) -> list[K]:
        """Keys from least to most recently used, without touching their order."""
        with self._lock:
            return list(self._entries)

    def __contains__(self, key: object) -> bool:
        """Membership test that, unlike ``get``, does not count as a use."""
        with self._lock:
            return key in self._entries

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

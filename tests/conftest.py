"""Shared session fixtures: one real etcd + kube-apiserver per flavour, started on first use.

They never skip: if Go or the build is missing, ensure_binaries() raises and the requesting
tests fail loudly (a green run must mean the real apiserver was exercised).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from kubevents.testenv import LocalCluster


@pytest.fixture(scope="session")
def local_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """The default apiserver configuration: Events bypass the watch cache."""
    with LocalCluster(tmp_path_factory.mktemp("cluster")) as cluster:
        yield cluster


@pytest.fixture(scope="session")
def local_cluster_watch_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """An apiserver that serves Events from the watch cache (bookmarks, cache window)."""
    with LocalCluster(
        tmp_path_factory.mktemp("cluster-watch-cache"), watch_cache_for_events=True
    ) as cluster:
        yield cluster

"""The chaos driver lives in ``bench/`` (``make chaos`` runs it at full size); pytest only puts
``tests/`` on the path."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubevents_testenv import LocalCluster

_REPO = str(Path(__file__).resolve().parents[2])
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)

# Events live 20 s and etcd compacts every 10 s: what an hour and five minutes do in
# production, fast enough for a test that must outlive both.
SHORT_EVENT_TTL = "20s"
SHORT_COMPACTION_INTERVAL = "10s"


@pytest.fixture(scope="session")
def short_ttl_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    with LocalCluster(
        tmp_path_factory.mktemp("cluster-short-ttl"),
        extra_apiserver_args=(
            f"--event-ttl={SHORT_EVENT_TTL}",
            f"--etcd-compaction-interval={SHORT_COMPACTION_INTERVAL}",
        ),
    ) as cluster:
        yield cluster

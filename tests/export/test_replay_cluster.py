"""Capture and replay on the real apiserver: ``kubevents export --capture`` during a flood, then
``kubevents replay`` into a fresh store reproduces what the live run stored, row for row."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
from pathlib import Path

import pytest

from kubevents.kube import KubeClient
from kubevents_testenv import LocalCluster
from kubevents_testenv.workload import record_flood

from .cluster_support import KUBEVENTS, exporter_process, server_counts, stored_ids, wait_for

pytestmark = pytest.mark.cluster


def rows(db: Path) -> dict[tuple[object, int], tuple[object, ...]]:
    """Every stored occurrence by (uid, count), its id: all its columns but the store's own row
    number and insertion time."""
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        cursor = conn.execute("SELECT * FROM occurrences")
        names = [d[0] for d in cursor.description]
        keep = [i for i, n in enumerate(names) if n not in ("seq", "inserted_at")]
        out = {}
        for row in cursor:
            values = tuple(row[i] for i in keep)
            out[row[names.index("uid")], row[names.index("count")]] = values
        return out


def replay(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*KUBEVENTS, "replay", *args], capture_output=True, text=True, timeout=300
    )


async def test_a_replayed_flood_capture_stores_what_the_live_run_stored(
    local_cluster: LocalCluster, kube: KubeClient, namespace: str, tmp_path: Path
) -> None:
    await record_flood(kube, namespace, objects=100, repeats=2)  # before: the LIST shows these
    capture = tmp_path / "watch.capture.gz"
    with exporter_process(local_cluster, tmp_path, namespace, "--capture", str(capture)) as exp:
        exp.start()
        await wait_for(lambda: len(stored_ids(exp.db)) >= 100, "the initial list")
        # During the flood: the watch shows every bump.
        await record_flood(kube, namespace, objects=300, repeats=5, component="flood-2")
        server = await server_counts(kube, namespace)
        finals = {f"{uid}:{count}" for uid, count in server.items()}
        await wait_for(lambda: finals <= set(stored_ids(exp.db)), "the live run to catch up")
        code, _ = await asyncio.to_thread(exp.terminate, 30)
        assert code == 0, exp.logs()
    live = rows(exp.db)
    assert len(live) >= 300 * 5 + 100

    replayed_db = tmp_path / "replayed.db"
    result = replay(str(capture), "--db", str(replayed_db), "--cluster-name", "e2e")
    assert result.returncode == 0, result.stderr
    assert f"{len(live)} occurrences" in result.stderr
    assert rows(replayed_db) == live

    # A second replay into the same store adds nothing: the ids are the same.
    again = replay(str(capture), "--db", str(replayed_db), "--cluster-name", "e2e")
    assert again.returncode == 0, again.stderr
    assert rows(replayed_db) == live

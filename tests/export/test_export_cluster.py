"""End to end on the real kube-apiserver: no loss and no duplicates through kills, 410 and stops."""

from __future__ import annotations

import asyncio
import json
import random
from pathlib import Path

import pytest

from kubevents.export import load_checkpoint
from kubevents.kube import KubeClient
from kubevents_testenv import LocalCluster
from kubevents_testenv.workload import record_flood

from .cluster_support import exporter_process, server_counts, stored_ids, wait_for
from .search_support import oracle_watch

pytestmark = pytest.mark.cluster

FLOOD_OBJECTS = 2000
FLOOD_REPEATS = 10  # 20 000 occurrences


def assert_exactly_once(db: Path, server: dict[str, int], shown: set[str] | None = None) -> None:
    ids = stored_ids(db)
    assert len(ids) == len(set(ids)), "an occurrence id was stored twice"
    stored = set(ids)
    finals = {f"{uid}:{count}" for uid, count in server.items()}
    assert finals <= stored, f"{len(finals - stored)} final counts missing"
    # Every stored (uid, count) is one the server really had: nothing invented or mangled.
    per_uid: dict[str, int] = {}
    for occurrence_id in stored:
        uid, _, count = occurrence_id.rpartition(":")
        assert uid in server, occurrence_id
        assert 1 <= int(count) <= server[uid]
        per_uid[uid] = max(per_uid.get(uid, 0), int(count))
    assert per_uid == server  # the final count of every Event equals the server's
    if shown is not None:
        assert stored <= shown


async def test_sigkill_five_times_during_a_flood_loses_and_repeats_nothing(
    local_cluster: LocalCluster, kube: KubeClient, namespace: str, tmp_path: Path
) -> None:
    shown: set[str] = set()
    oracle = asyncio.create_task(oracle_watch(kube, namespace, shown))
    rng = random.Random(20261123)
    with exporter_process(local_cluster, tmp_path, namespace) as exporter:
        exporter.start()
        flood = asyncio.create_task(
            record_flood(kube, namespace, objects=FLOOD_OBJECTS, repeats=FLOOD_REPEATS)
        )
        kills = 0
        while kills < 5:
            await asyncio.sleep(rng.uniform(1.0, 5.0))
            exporter.kill()
            kills += 1
            exporter.start()
        report = await flood
        assert report.dropped == 0
        server = await server_counts(kube, namespace)
        assert len(server) == FLOOD_OBJECTS
        assert sum(server.values()) == FLOOD_OBJECTS * FLOOD_REPEATS
        await wait_for(
            lambda: {f"{u}:{c}" for u, c in server.items()} <= set(stored_ids(exporter.db)),
            "the exporter to store every final count",
        )
        code, _ = exporter.terminate(timeout=30)
        assert code == 0, exporter.logs()
    oracle.cancel()
    assert_exactly_once(exporter.db, server, shown)
    assert kills == 5 and exporter.starts == 6


async def test_sigterm_during_a_flood_drains_within_the_deadline(
    local_cluster: LocalCluster, kube: KubeClient, namespace: str, tmp_path: Path
) -> None:
    with exporter_process(local_cluster, tmp_path, namespace, "--shutdown-timeout", "10s") as exp:
        exp.start()
        flood = asyncio.create_task(record_flood(kube, namespace, objects=300, repeats=5))
        await wait_for(lambda: len(stored_ids(exp.db)) > 50, "the export to be under way")
        code, took = exp.terminate(timeout=30)
        assert code == 0, exp.logs()
        assert took < 10.5
        await flood
        checkpoint = load_checkpoint(exp.checkpoint)
        assert checkpoint is not None and checkpoint.resource_version
        # Everything the checkpoint calls stored is in the store: nothing acknowledged is lost.
        stored = set(stored_ids(exp.db))
        for uid, (count, _) in checkpoint.events.items():
            assert f"{uid}:{count}" in stored
        # A restart picks up the rest without duplicates.
        exp.start()
        server = await server_counts(kube, namespace)
        await wait_for(
            lambda: {f"{u}:{c}" for u, c in server.items()} <= set(stored_ids(exp.db)),
            "the restarted exporter to catch up",
        )
        exp.terminate(timeout=30)
    assert_exactly_once(exp.db, server)


async def test_a_compacted_checkpoint_relists_and_loses_nothing(
    local_cluster: LocalCluster, kube: KubeClient, namespace: str, tmp_path: Path
) -> None:
    with exporter_process(local_cluster, tmp_path, namespace) as exp:
        exp.start()
        await record_flood(kube, namespace, objects=50, repeats=2)
        first = await server_counts(kube, namespace)
        await wait_for(
            lambda: {f"{u}:{c}" for u, c in first.items()} <= set(stored_ids(exp.db)),
            "the first export",
        )
        assert exp.terminate(timeout=30)[0] == 0
        # While it is down: bumps and new Events, then etcd forgets the saved resourceVersion.
        await record_flood(kube, namespace, objects=80, repeats=4)
        local_cluster.compact_etcd()
        exp.start()
        server = await server_counts(kube, namespace)
        await wait_for(
            lambda: {f"{u}:{c}" for u, c in server.items()} <= set(stored_ids(exp.db)),
            "the relisted export",
        )
        exp.terminate(timeout=30)
        log = exp.logs()
    assert "gone" in log or "relisting" in log
    assert_exactly_once(exp.db, server)


def test_invalid_configuration_exits_2_naming_the_field(
    local_cluster: LocalCluster, tmp_path: Path
) -> None:
    import subprocess

    from .cluster_support import KUBEVENTS

    base = [*KUBEVENTS, "export", "--kubeconfig", str(local_cluster.kubeconfig), "--no-listen",
            "--db", str(tmp_path / "x.db")]  # fmt: skip
    config = tmp_path / "bad.yaml"
    cases = {
        "colour: red\n": "unknown field `colour`",
        "buffer: {flush_delay: soonish}\n": "buffer.flush_delay",
        "field_selector: 'type'\n": "field_selector",
        "field_selector: 'spec.nonsense=1'\n": "field_selector: rejected by the API server",
        "sinks: [{type: webhook, url: 'http://127.0.0.1:9', check_on_start: true}]\n": "sinks[",
        "sinks: [{type: jsonl, path: '-', rules: {match: [{message: '(['}]}}]\n": (
            "sinks[0].rules.match[0].message: invalid regular expression"
        ),
    }
    for text, expected in cases.items():
        config.write_text(text)
        result = subprocess.run(
            [*base, "--config", str(config)], capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 2, (text, result.stderr)
        assert expected in result.stderr, (text, result.stderr)
    unreachable = tmp_path / "kubeconfig"
    unreachable.write_text(json.dumps({
        "apiVersion": "v1", "kind": "Config", "current-context": "x",
        "clusters": [{"name": "x", "cluster": {"server": "https://127.0.0.1:9"}}],
        "contexts": [{"name": "x", "context": {"cluster": "x", "user": "x"}}],
        "users": [{"name": "x", "user": {"token": "t"}}],
    }))  # fmt: skip
    result = subprocess.run(
        [
            *KUBEVENTS,
            "export",
            "--kubeconfig",
            str(unreachable),
            "--no-listen",
            "--db",
            str(tmp_path / "y.db"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "not reachable" in result.stderr, result.stderr

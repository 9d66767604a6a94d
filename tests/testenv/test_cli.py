"""``kubevents-testenv`` as a developer runs it: ``workload`` against the shared local cluster,
``demo --local`` (what ``make run`` runs) against a fresh one of its own, ``cluster --build-only``.
"""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from kubevents.kube import KubeClient
from kubevents_testenv import LocalCluster
from support import eventually

pytestmark = pytest.mark.cluster

TESTENV = [sys.executable, "-m", "kubevents_testenv"]


async def run_testenv(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(
        subprocess.run, [*TESTENV, *args], capture_output=True, text=True, timeout=300, cwd=cwd
    )


def start_testenv(*args: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen([*TESTENV, *args], stdout=out, stderr=subprocess.STDOUT)


async def counts(kube: KubeClient, namespace: str) -> dict[tuple[str, str], list[int]]:
    """(object name, reason) -> the counts of its Events, sorted."""
    found: dict[tuple[str, str], list[int]] = {}
    for event in (await kube.events.list(namespace)).items:
        found.setdefault((event.involved_object.name, event.reason), []).append(event.count or 1)
    return {key: sorted(value) for key, value in found.items()}


async def test_workload_records_the_demo_story(
    local_cluster: LocalCluster, kube: KubeClient, namespace: str
) -> None:
    done = await run_testenv(
        "workload", "--kubeconfig", str(local_cluster.kubeconfig), "-n", namespace
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        f"27 events recorded into namespace {namespace} through kubevents.record "
        "(27 API writes, 0 dropped)\n"
    )
    found = await counts(kube, namespace)
    assert found[("worker-0", "BackOff")] == [6]  # one Event, count bumped
    # Nine separate messages, then one aggregate Event that the last two bump (client-go's
    # aggregation: the tenth similar message within the window is the first combined one).
    assert found[("batch-0", "FailedScheduling")] == [1] * 9 + [3]
    assert found[("web-2", "Started")] == [1]


async def test_workload_flood(
    local_cluster: LocalCluster, kube: KubeClient, namespace: str
) -> None:
    done = await run_testenv(
        "workload", "--kubeconfig", str(local_cluster.kubeconfig), "-n", namespace,
        "--flood", "4", "--repeats", "3",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"12 events recorded into namespace {namespace}")
    assert await counts(kube, namespace) == {(f"flood-{i}", "BackOff"): [3] for i in range(4)}


async def test_workload_without_a_kubeconfig_is_a_clear_error(tmp_path: Path) -> None:
    done = await run_testenv("workload", "--kubeconfig", str(tmp_path / "missing"))
    assert done.returncode == 1
    assert done.stderr.startswith("Error: ")
    assert "Traceback" not in done.stderr


async def test_demo_exports_a_fresh_local_cluster_and_queries_it(tmp_path: Path) -> None:
    done = await run_testenv("demo", "--local", "--workdir", str(tmp_path / "demo"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    db = tmp_path / "demo" / "kubevents.db"
    lines = done.stdout.splitlines()
    assert re.fullmatch(r"cluster:  kube-apiserver at https://127\.0\.0\.1:\d+ \(.*s\)", lines[1])
    assert "recorder: 27 events recorded through kubevents.record" in done.stdout
    table = lines[lines.index(f"$ kubevents query -A --db {db}") + 1 :]
    assert table[0].split() == [
        "NAMESPACE", "LAST", "SEEN", "TYPE", "REASON", "OBJECT", "COUNT", "MESSAGE",
    ]  # fmt: skip
    rows = [row.split(maxsplit=6) for row in table[1 : table.index("")]]
    assert len(rows) == 27  # every occurrence: the crash loop's six count bumps included
    backoff = [row[5] for row in rows if row[3] == "BackOff"]
    assert backoff == ["1", "2", "3", "4", "5", "6"]
    assert table[-1] == f"27 occurrences stored. Keep exporting with: kubevents export --db {db}"


def test_cluster_build_only_names_the_binaries() -> None:
    done = subprocess.run([*TESTENV, "cluster", "--build-only"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    paths = dict(line.split(":", 1) for line in done.stdout.splitlines())
    assert set(paths) == {"kube-apiserver", "etcd"}
    assert all(Path(path.strip()).is_file() for path in paths.values())


async def test_cluster_runs_until_sigterm(tmp_path: Path) -> None:
    log = tmp_path / "cluster.log"
    running = start_testenv("cluster", "--workdir", str(tmp_path / "cluster"), log=log)
    try:
        await eventually(lambda: "export KUBECONFIG=" in log.read_text(), "the cluster", within=120)
    finally:
        running.send_signal(signal.SIGTERM)
        exited = await asyncio.to_thread(running.wait, 60)
    output = log.read_text()
    assert exited == 0, output
    kubeconfig = Path(output.split("export KUBECONFIG=")[1].split()[0])
    assert kubeconfig.parent == tmp_path / "cluster"
    assert "kube-apiserver v1.34.4 ready at https://127.0.0.1:" in output
    assert output.rstrip().endswith("stopping ...")

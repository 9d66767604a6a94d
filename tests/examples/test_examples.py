"""Run the examples as users would, against the real kube-apiserver, as the limited user."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from kubevents.kube import KubeClient
from kubevents.model import Event
from kubevents_testenv import LocalCluster

pytestmark = pytest.mark.cluster

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
RUN_TIMEOUT = 120.0


@pytest.fixture
async def admin(local_cluster: LocalCluster) -> AsyncIterator[KubeClient]:
    async with await KubeClient.connect(local_cluster.kubeconfig) as client:
        yield client


@pytest.fixture
async def namespace(admin: KubeClient) -> str:
    name = f"ex-{uuid.uuid4().hex[:10]}"
    await admin._transport.request("POST", "/api/v1/namespaces", body={"metadata": {"name": name}})
    return name


async def run_example(script: str, cluster: LocalCluster, *args: str) -> dict[str, Any]:
    # KUBECONFIG as a user would set it; the limited identity proves the RBAC is enough.
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig_limited)}
    result = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, str(EXAMPLES / script), *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    summary: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return summary


async def events_in(client: KubeClient, namespace: str) -> list[Event]:
    return (await client.events.list(namespace)).items


async def test_threads_controller(
    local_cluster: LocalCluster, admin: KubeClient, namespace: str
) -> None:
    summary = await run_example(
        "threads_controller.py",
        local_cluster,
        "--namespace",
        namespace,
        "--objects",
        "6",
        "--resyncs",
        "3",
        "--workers",
        "3",
    )
    # 6 objects x 3 resyncs "Synced", plus 3 "NoData" for the empty one.
    assert summary == {"recorded": 21, "dropped": 0, "written": 21, "rejected": 0}
    events = await events_in(admin, namespace)
    by_reason = Counter(e.reason for e in events)
    assert by_reason == {"Synced": 6, "NoData": 1}
    # Repeats were counted onto one Event each, as a Go controller's would be.
    assert {e.count for e in events} == {3}
    assert {e.source.component for e in events} == {"threads-controller"}


async def test_kopf_handler_without_kopf(
    local_cluster: LocalCluster, admin: KubeClient, namespace: str
) -> None:
    summary = await run_example("kopf_handler.py", local_cluster, "--namespace", namespace)
    # 3 bodies x (2 "Seen" + 1 "Forgotten") + 2 "NoData" for the empty one.
    assert summary == {"recorded": 11, "dropped": 0, "written": 11, "rejected": 0}
    events = await events_in(admin, namespace)
    counts = {(e.involved_object.name, e.reason): e.count for e in events}
    assert counts == {
        ("demo-a", "Seen"): 2,
        ("demo-b", "Seen"): 2,
        ("demo-empty", "Seen"): 2,
        ("demo-empty", "NoData"): 2,
        ("demo-a", "Forgotten"): 1,
        ("demo-b", "Forgotten"): 1,
        ("demo-empty", "Forgotten"): 1,
    }
    assert {e.reporting_controller for e in events} == {"kopf-example"}


async def test_events_v1_controller(
    local_cluster: LocalCluster, admin: KubeClient, namespace: str
) -> None:
    summary = await run_example(
        "events_v1_controller.py",
        local_cluster,
        "--namespace",
        namespace,
        "--objects",
        "3",
        "--resyncs",
        "4",
    )
    # Per object: a create and a series patch; the 3rd and 4th occurrences are only counted,
    # then written by the heartbeat run before shutdown.
    assert summary == {
        "api": "events.k8s.io/v1", "recorded": 12, "written": 6, "series": 6,
        "refreshed": 3, "rejected": 0, "dropped": 0,
    }  # fmt: skip
    events = (await admin.events_v1.list(namespace)).items
    by_object = {
        e.regarding.name: (e.reason, e.action, e.series.count if e.series else 1) for e in events
    }
    assert by_object == {
        "settings-0": ("NoData", "Syncing", 4),
        "settings-1": ("Synced", "Syncing", 4),
        "settings-2": ("Synced", "Syncing", 4),
    }
    assert {e.reporting_controller for e in events} == {"kubevents.io/events-v1-example"}

"""``kubevents emit`` against the real apiserver: create, repeat (count patched through the state
file), both Event APIs, lookups, and an RBAC-limited identity that may not create Events."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from kubevents.kube import KubeClient
from kubevents_testenv import LocalCluster, create_token
from operators.support import admin, config_map, write_kubeconfig

pytestmark = pytest.mark.cluster

KUBEVENTS = [sys.executable, "-m", "kubevents.cli"]


def emit(kubeconfig: Path, state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*KUBEVENTS, "emit", "--kubeconfig", str(kubeconfig), "--state-file", str(state), *args],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


async def test_a_repeat_patches_the_count(
    local_cluster: LocalCluster, kube: KubeClient, namespace: str, tmp_path: Path
) -> None:
    cm = config_map(local_cluster, namespace, "web")
    state = tmp_path / "state.json"
    args = ("cm/web", "-n", namespace, "--type", "Warning", "--reason", "DeployFailed",
            "--message", "rollout of web failed")  # fmt: skip
    first = emit(local_cluster.kubeconfig, state, *args)
    assert first.returncode == 0, first.stderr
    assert first.stdout.endswith(" created (count 1)\n")
    second = emit(local_cluster.kubeconfig, state, *args)
    assert second.returncode == 0, second.stderr
    assert second.stdout.endswith(" patched (count 2)\n")
    (event,) = (await kube.events.list(namespace)).items
    assert (event.count, event.type, event.reason) == (2, "Warning", "DeployFailed")
    assert event.involved_object.uid == cm["metadata"]["uid"]
    assert event.involved_object.kind == "ConfigMap"
    assert event.source.component == "kubevents-emit"
    assert first.stdout.split()[1] == f"{namespace}/{event.metadata.name}"
    # Another message is another Event; without state, every run is a new Event.
    assert emit(local_cluster.kubeconfig, state, *args[:-1], "other").returncode == 0
    assert emit(local_cluster.kubeconfig, state, *args, "--no-state").returncode == 0
    counts = sorted(e.count for e in (await kube.events.list(namespace)).items)
    assert counts == [1, 1, 2]


async def test_events_k8s_io_v1_series(
    local_cluster: LocalCluster, kube: KubeClient, namespace: str, tmp_path: Path
) -> None:
    config_map(local_cluster, namespace, "web")
    state = tmp_path / "state.json"
    args = ("configmaps/web", "-n", namespace, "--api", "events.k8s.io/v1", "--reason",
            "Synced", "--action", "Sync", "--message", "in sync")  # fmt: skip
    outputs = [emit(local_cluster.kubeconfig, state, *args) for _ in range(3)]
    assert [o.returncode for o in outputs] == [0, 0, 0], [o.stderr for o in outputs]
    assert [o.stdout.split()[-3:] for o in outputs] == [
        ["created", "(count", "1)"], ["patched", "(count", "2)"], ["patched", "(count", "3)"],
    ]  # fmt: skip
    (event,) = (await kube.events_v1.list(namespace)).items
    assert event.series is not None and event.series.count == 3
    assert (event.action, event.reason, event.note) == ("Sync", "Synced", "in sync")
    assert event.reporting_controller == "kubevents-emit"


async def test_uid_needs_no_lookup_and_a_missing_object_fails(
    local_cluster: LocalCluster, kube: KubeClient, namespace: str, tmp_path: Path
) -> None:
    state = tmp_path / "state.json"
    given = emit(local_cluster.kubeconfig, state, "pod/ghost", "-n", namespace, "--uid", "1b2c",
                 "--reason", "Seen")  # fmt: skip
    assert given.returncode == 0, given.stderr
    (event,) = (await kube.events.list(namespace)).items
    assert (event.involved_object.kind, event.involved_object.uid) == ("Pod", "1b2c")
    missing = emit(local_cluster.kubeconfig, state, "pod/ghost", "-n", namespace, "--reason", "X")
    assert missing.returncode == 1
    assert missing.stderr.count("\n") == 1
    assert 'pods "ghost" not found' in missing.stderr


@pytest.mark.parametrize(
    ("target", "error"),
    [("web", "expected KIND/NAME"), ("nosuchkind/web", "no resource type 'nosuchkind'")],
)
def test_bad_targets_exit_2(
    local_cluster: LocalCluster, tmp_path: Path, target: str, error: str
) -> None:
    result = emit(local_cluster.kubeconfig, tmp_path / "s", target, "--reason", "X")
    assert result.returncode == 2
    assert result.stderr.startswith("kubevents emit: ")
    assert error in result.stderr


async def test_an_unreadable_state_file_loses_no_event(
    local_cluster: LocalCluster, kube: KubeClient, namespace: str, tmp_path: Path
) -> None:
    state = tmp_path / "state.json"
    state.write_text('{"v1": [{"count": "not a number"}]}')
    result = emit(local_cluster.kubeconfig, state, "pod/p", "-n", namespace, "--uid", "u",
                  "--reason", "Seen")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "ignoring the unreadable state file" in result.stderr
    assert len((await kube.events.list(namespace)).items) == 1


def test_an_unusable_state_file_is_a_usage_error(
    local_cluster: LocalCluster, tmp_path: Path
) -> None:
    (tmp_path / "file").write_text("")
    result = emit(local_cluster.kubeconfig, tmp_path / "file" / "state.json", "pod/p", "--uid",
                  "u", "--reason", "Seen")  # fmt: skip
    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"kubevents emit: state file {tmp_path / 'file' / 'state.json'}: ")


async def test_an_identity_without_create_events_gets_one_line_naming_it(
    local_cluster: LocalCluster, namespace: str, tmp_path: Path
) -> None:
    config_map(local_cluster, namespace, "web")
    rbac = "/apis/rbac.authorization.k8s.io/v1"
    admin(
        local_cluster,
        "POST",
        f"/api/v1/namespaces/{namespace}/serviceaccounts",
        {"metadata": {"name": "ci"}},
    )
    admin(
        local_cluster,
        "POST",
        f"{rbac}/namespaces/{namespace}/roles",
        {
            "metadata": {"name": "ci"},
            "rules": [
                {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]},
                {"apiGroups": [""], "resources": ["events"], "verbs": ["get", "patch"]},
            ],
        },
    )
    admin(local_cluster, "POST", f"{rbac}/namespaces/{namespace}/rolebindings", {
        "metadata": {"name": "ci"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "ci"},
        "subjects": [{"kind": "ServiceAccount", "name": "ci", "namespace": namespace}],
    })  # fmt: skip
    kubeconfig = write_kubeconfig(
        local_cluster, tmp_path / "ci", "ci", create_token(local_cluster, namespace, "ci")
    )
    async with await KubeClient.connect(kubeconfig) as ci:
        # The RBAC authorizer applies a new binding within moments (it reads from informers).
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while not await ci.can_i("get", "configmaps", namespace=namespace):
            assert loop.time() < deadline, "the RoleBinding never took effect"
            await asyncio.sleep(0.05)
        assert not await ci.can_i("create", "events", namespace=namespace)
    args = ("cm/web", "-n", namespace, "--reason", "DeployFailed", "--message", "failed")
    result = emit(kubeconfig, tmp_path / "state.json", *args)
    assert result.returncode == 1
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith("kubevents emit: 403 Forbidden: ")
    assert f'"system:serviceaccount:{namespace}:ci" cannot create resource "events"' in line

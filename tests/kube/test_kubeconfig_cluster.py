"""Kubeconfigs against the real kube-apiserver: a token, an exec plugin, a client certificate.

The server says which identity it authenticated (SelfSubjectReview), so each test shows that
the credential it meant is the one that went out. The last test connects from a fresh
interpreter and checks that no ``kubernetes`` module was imported on the way.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml

from kubevents.kube import KubeClient
from kubevents_testenv import CERT_ADMIN_USER, LocalCluster

from .kubeconfig_support import Plugin, credential, exec_user

pytestmark = pytest.mark.cluster

ADMIN = "kubevents-admin"  # the token user of the LocalCluster's kubeconfig


async def who_and_list(path: Path, namespace: str | None = None) -> tuple[str, int]:
    async with await KubeClient.connect(path) as kube:
        name = await kube.whoami()
        if namespace is not None:
            assert await kube.ensure_namespace(namespace)
        page = await kube.events.list(namespace or "default")
        return name, len(page.items)


async def test_a_token_kubeconfig(local_cluster: LocalCluster) -> None:
    assert (await who_and_list(local_cluster.kubeconfig))[0] == ADMIN


async def test_an_exec_plugin_kubeconfig(local_cluster: LocalCluster, tmp_path: Path) -> None:
    plugin = Plugin(tmp_path / "plugin")
    plugin.answer(credential(token=local_cluster.admin_token))
    doc = yaml.safe_load(local_cluster.kubeconfig.read_text())
    doc["users"][0]["user"] = exec_user(str(plugin.path), provideClusterInfo=True)
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(doc))
    assert await who_and_list(path, f"t-{uuid.uuid4().hex[:10]}") == (ADMIN, 0)
    (run,) = plugin.runs
    assert run["info"]["spec"]["cluster"]["server"] == local_cluster.url


async def test_a_client_certificate_kubeconfig(local_cluster: LocalCluster) -> None:
    # Its certificate paths are relative to the kubeconfig's folder.
    text = local_cluster.kubeconfig_cert.read_text()
    assert "client-pki/admin.pem" in text and "token" not in text
    assert (await who_and_list(local_cluster.kubeconfig_cert))[0] == CERT_ADMIN_USER


_CONNECT = """
import asyncio, json, sys
import kubevents.cli, kubevents.export
from kubevents.kube import KubeClient

async def main():
    async with await KubeClient.connect(sys.argv[1]) as kube:
        user = await kube.whoami()
        page = await kube.events.list()
    top = {m.split(".")[0] for m in sys.modules}
    loaded = sorted(top & {"kubernetes", "kubernetes_asyncio"})
    print(json.dumps({"user": user, "events": len(page.items), "kubernetes": loaded}))

asyncio.run(main())
"""


@pytest.mark.parametrize("kind", ["token", "cert"])
def test_a_process_that_connects_imports_no_kubernetes_module(
    local_cluster: LocalCluster, kind: str
) -> None:
    path = local_cluster.kubeconfig if kind == "token" else local_cluster.kubeconfig_cert
    done = subprocess.run(
        [sys.executable, "-c", _CONNECT, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["user"] == (ADMIN if kind == "token" else CERT_ADMIN_USER)
    assert result["kubernetes"] == []

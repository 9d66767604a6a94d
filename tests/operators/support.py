"""What the operator-integration tests share: admin calls to the real apiserver, kubeconfigs."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from kubevents_testenv import LocalCluster


def admin(cluster: LocalCluster, method: str, path: str, body: Any = None) -> Any:
    """One request as the cluster admin; the decoded answer. An error status fails the test."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(cluster.url + path, data=data, method=method)
    request.add_header("Authorization", f"Bearer {cluster.admin_token}")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, context=cluster.ssl_context(), timeout=30) as answer:
            return json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as exc:
        raise AssertionError(f"{method} {path}: HTTP {exc.code}: {exc.read()[:500]!r}") from exc


def config_map(cluster: LocalCluster, namespace: str, name: str) -> dict[str, Any]:
    """A ConfigMap created through the API (so it has a server-assigned uid)."""
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {"a": "1"}}
    created: dict[str, Any] = admin(
        cluster, "POST", f"/api/v1/namespaces/{namespace}/configmaps", body
    )
    return created


def write_kubeconfig(cluster: LocalCluster, path: Path, user: str, token: str) -> Path:
    """A kubeconfig for ``token`` against ``cluster`` (JSON is valid YAML)."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "local", "cluster": {"server": cluster.url,
                                          "certificate-authority": str(cluster.ca_file)}}
        ],
        "users": [{"name": user, "user": {"token": token}}],
        "contexts": [{"name": user, "context": {"cluster": "local", "user": user}}],
        "current-context": user,
    }  # fmt: skip
    path.write_text(json.dumps(config))
    path.chmod(0o600)
    return path

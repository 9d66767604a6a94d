"""Service-account tokens minted by the real apiserver (TokenRequest), as a kubelet projects them.

The local cluster signs them with its ``--service-account-signing-key-file``; a token bound to
a Secret stops working the moment that Secret is deleted, which is how tests retire a token
without waiting for the API's ten-minute minimum lifetime.
"""

from __future__ import annotations

import json
from urllib.parse import quote

from ._cluster import LocalCluster
from ._support import request

__all__ = ["create_token"]


def create_token(
    cluster: LocalCluster,
    namespace: str,
    service_account: str,
    *,
    expiration_seconds: int = 3600,
    bound_secret: str | None = None,
) -> str:
    """A token for ``system:serviceaccount:<namespace>:<service_account>``."""
    spec: dict[str, object] = {"expirationSeconds": expiration_seconds}
    if bound_secret is not None:
        path = f"/api/v1/namespaces/{quote(namespace)}/secrets/{quote(bound_secret)}"
        status, raw = _admin(cluster, "GET", path)
        if status != 200:
            raise RuntimeError(f"secret {namespace}/{bound_secret}: HTTP {status}: {raw[:300]!r}")
        uid = json.loads(raw)["metadata"]["uid"]
        spec["boundObjectRef"] = {"kind": "Secret", "apiVersion": "v1", "name": bound_secret,
                                  "uid": uid}  # fmt: skip
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}
    path = f"/api/v1/namespaces/{quote(namespace)}/serviceaccounts/{quote(service_account)}/token"
    status, raw = _admin(cluster, "POST", path, body)
    if status != 201:
        raise RuntimeError(
            f"TokenRequest for {namespace}/{service_account}: HTTP {status}: {raw[:300]!r}"
        )
    token: str = json.loads(raw)["status"]["token"]
    return token


def _admin(cluster: LocalCluster, method: str, path: str, body: object = None) -> tuple[int, bytes]:
    return request(
        method, cluster.url + path, token=cluster.admin_token, body=body,
        context=cluster.ssl_context(),
    )  # fmt: skip

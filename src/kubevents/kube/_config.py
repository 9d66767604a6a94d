"""Where the API server is and how to authenticate: kubeconfig, in-cluster or explicit."""

from __future__ import annotations

import logging
import os
from pathlib import Path

from kubevents.errors import ConfigError
from kubevents.kube._clusterconfig import ClusterConfig
from kubevents.kube._credentials import (
    TOKEN_MAX_AGE,
    Auth,
    Credentials,
    StaticCredentials,
    TokenFile,
    TokenFileCredentials,
)
from kubevents.kube._kubeconfig import load_kubeconfig

__all__ = [
    "ENV_SERVICE_ACCOUNT_DIR",
    "TOKEN_MAX_AGE",
    "ClusterConfig",
    "TokenFile",
    "in_cluster_namespace",
    "load_config",
    "service_account_dir",
]

log = logging.getLogger(__name__)

#: Where a pod's service-account token, CA and namespace are mounted; the environment variable
#: moves it (tests, or a sidecar that writes its own token).
SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")
ENV_SERVICE_ACCOUNT_DIR = "KUBEVENTS_SERVICE_ACCOUNT_DIR"


def _kubeconfig_path(explicit: str | os.PathLike[str] | None) -> Path | None:
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get("KUBECONFIG", "")
    for part in env.split(os.pathsep):
        if part and Path(part).expanduser().is_file():
            return Path(part).expanduser()
    home = Path("~/.kube/config").expanduser()
    return home if home.is_file() else None


async def load_config(
    kubeconfig: str | os.PathLike[str] | None = None,
    context: str | None = None,
    *,
    url: str | None = None,
    token: str | None = None,
    ca_file: str | os.PathLike[str] | None = None,
    insecure_skip_tls_verify: bool = False,
    in_cluster: bool | None = None,
) -> ClusterConfig:
    """Resolve a cluster configuration.

    Precedence: an explicit ``url`` (with ``token`` and ``ca_file``); else ``in_cluster=True``;
    else the ``kubeconfig`` path (or ``$KUBECONFIG`` / ``~/.kube/config``) with ``context``;
    else the in-cluster service account when running in a pod. An exec plugin in the
    kubeconfig runs once here, so a plugin that cannot run is a ``ConfigError`` now.
    """
    if url:
        credentials = (
            StaticCredentials(Auth(f"Bearer {token}"), "token") if token else Credentials()
        )
        cluster = ClusterConfig(
            host=url.rstrip("/"),
            source="explicit",
            credentials=credentials,
            ca_file=Path(ca_file) if ca_file else None,
            insecure_skip_tls_verify=insecure_skip_tls_verify,
        )
        if cluster.ca_file is not None:
            cluster.ssl_context()  # a CA that does not load is a ConfigError now
        return cluster

    if in_cluster:
        return _load_in_cluster()

    path = _kubeconfig_path(kubeconfig)
    if path is None:
        if in_cluster is None and (service_account_dir() / "token").is_file():
            return _load_in_cluster()
        raise ConfigError(
            "no cluster configuration: no kubeconfig (--kubeconfig, $KUBECONFIG, ~/.kube/config) "
            "and not running in a pod"
        )
    if not path.is_file():
        raise ConfigError(f"kubeconfig {str(path)!r} does not exist")
    return await load_kubeconfig(path, context, insecure_skip_tls_verify=insecure_skip_tls_verify)


def service_account_dir() -> Path:
    """The service-account directory (``$KUBEVENTS_SERVICE_ACCOUNT_DIR`` wins)."""
    override = os.environ.get(ENV_SERVICE_ACCOUNT_DIR)
    return Path(override).expanduser() if override else SERVICE_ACCOUNT_DIR


def in_cluster_namespace() -> str | None:
    """The pod's namespace from the service-account directory, None outside a pod."""
    try:
        namespace = (service_account_dir() / "namespace").read_text().strip()
    except OSError:
        return None
    return namespace or None


def _load_in_cluster() -> ClusterConfig:
    host = os.environ.get("KUBERNETES_SERVICE_HOST", "")
    port = os.environ.get("KUBERNETES_SERVICE_PORT", "")
    if not host or not port:
        raise ConfigError(
            "cannot load in-cluster configuration: KUBERNETES_SERVICE_HOST and "
            "KUBERNETES_SERVICE_PORT are not set (not running in a pod?)"
        )
    directory = service_account_dir()
    ca_file = directory / "ca.crt"
    try:
        if not ca_file.read_bytes().strip():
            raise ConfigError(f"cannot load in-cluster configuration: {ca_file} is empty")
    except OSError as exc:
        raise ConfigError(f"cannot load in-cluster configuration: {exc}") from None
    token = TokenFile(directory / "token")
    # IPv6 literals need brackets in a URL, like Go's net.JoinHostPort.
    netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    return ClusterConfig(
        host=f"https://{netloc}",
        source="in-cluster",
        credentials=TokenFileCredentials(token),
        ca_file=ca_file,
    )

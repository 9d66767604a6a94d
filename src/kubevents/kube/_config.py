"""Where the API server is and how to authenticate: kubeconfig, in-cluster or explicit."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["ClusterConfig", "ConfigError", "load_config"]

_SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class ConfigError(Exception):
    """No usable cluster configuration (the message says which source failed and why)."""


@dataclass(frozen=True)
class ClusterConfig:
    """A resolved connection: the library ``Configuration`` plus where it came from."""

    configuration: Any  # kubernetes.aio.client.Configuration (the library is untyped)
    source: str  # "kubeconfig:<path>[#context]", "in-cluster" or "explicit"

    @property
    def host(self) -> str:
        return str(self.configuration.host)


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
    else the in-cluster service account when running in a pod.
    """
    # Imported here, not at module level: the generated client is ~70 modules and ~50 000
    # GC-tracked objects, which every full collection of a recorder's process would scan even
    # when the recorder never connects (the fake recorder, tests, a custom sink).
    from kubernetes.aio.client import Configuration
    from kubernetes.aio.config import kube_config
    from kubernetes.aio.config.config_exception import ConfigException

    if url:
        conf = Configuration(host=url.rstrip("/"))
        if token:
            conf.api_key["BearerToken"] = f"Bearer {token}"
        if ca_file:
            conf.ssl_ca_cert = str(ca_file)
        conf.verify_ssl = not insecure_skip_tls_verify
        return ClusterConfig(conf, "explicit")

    if in_cluster:
        return _load_in_cluster()

    path = _kubeconfig_path(kubeconfig)
    if path is None:
        if in_cluster is None and (_SERVICE_ACCOUNT_DIR / "token").is_file():
            return _load_in_cluster()
        raise ConfigError(
            "no cluster configuration: no kubeconfig (--kubeconfig, $KUBECONFIG, ~/.kube/config) "
            "and not running in a pod"
        )
    if not path.is_file():
        raise ConfigError(f"kubeconfig {str(path)!r} does not exist")
    conf = Configuration()
    try:
        await kube_config.load_kube_config(
            config_file=str(path), context=context, client_configuration=conf,
            persist_config=False,
        )  # fmt: skip
    except (ConfigException, KeyError, ValueError, OSError) as exc:
        where = f"{path}" + (f" (context {context!r})" if context else "")
        raise ConfigError(f"cannot load kubeconfig {where}: {exc}") from exc
    if insecure_skip_tls_verify:
        conf.verify_ssl = False
    return ClusterConfig(conf, f"kubeconfig:{path}" + (f"#{context}" if context else ""))


def _load_in_cluster() -> ClusterConfig:
    from kubernetes.aio.client import Configuration
    from kubernetes.aio.config import incluster_config
    from kubernetes.aio.config.config_exception import ConfigException

    conf = Configuration()
    try:
        incluster_config.load_incluster_config(client_configuration=conf)
    except ConfigException as exc:
        raise ConfigError(f"cannot load in-cluster configuration: {exc}") from exc
    return ClusterConfig(conf, "in-cluster")

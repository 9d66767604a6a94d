"""Where the API server is and how to authenticate: kubeconfig, in-cluster or explicit."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kubevents.errors import ConfigError

__all__ = [
    "ENV_SERVICE_ACCOUNT_DIR",
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
# client-go re-reads the token file about every minute; a changed file is re-read at once.
TOKEN_MAX_AGE = 60.0


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
        if in_cluster is None and (service_account_dir() / "token").is_file():
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
            config_file=str(path),
            context=context,
            client_configuration=conf,
            persist_config=False,
        )
    except (ConfigException, KeyError, ValueError, OSError) as exc:
        where = f"{path}" + (f" (context {context!r})" if context else "")
        raise ConfigError(f"cannot load kubeconfig {where}: {exc}") from exc
    if insecure_skip_tls_verify:
        conf.verify_ssl = False
    return ClusterConfig(conf, f"kubeconfig:{path}" + (f"#{context}" if context else ""))


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


class TokenFile:
    """A bearer token read from a file, re-read when the file changes or every minute.

    Projected service-account tokens expire (one hour by default) and the kubelet replaces the
    file well before that by swapping a symlink, so the file's identity (inode, size, mtime) is
    checked on every request: a stat costs about a microsecond, and no request ever carries a
    token older than the file. If the file cannot be read the last token is kept.
    """

    def __init__(
        self,
        path: Path,
        *,
        max_age: float = TOKEN_MAX_AGE,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = path
        self._max_age = max_age
        self._monotonic = monotonic
        self._key: tuple[int, int, int, int] | None = None
        self._read_at = 0.0
        self._token = ""
        self.reads = 0
        self.token()
        if not self._token:
            raise ConfigError(f"service-account token file {str(path)!r} is empty")

    def token(self) -> str:
        try:
            st = self.path.stat()
        except OSError as exc:
            if not self._token:
                raise ConfigError(f"cannot read the service-account token: {exc}") from None
            return self._token
        key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        if key != self._key or self._monotonic() - self._read_at > self._max_age:
            try:
                token = self.path.read_text().strip()
            except OSError as exc:
                if not self._token:
                    raise ConfigError(f"cannot read the service-account token: {exc}") from None
                log.warning("cannot re-read the service-account token (%s): keeping the last", exc)
                return self._token
            if token:
                if self._token and token != self._token:
                    log.info("service-account token file changed: using the new token")
                self._token = token
                self.reads += 1
            self._key = key
            self._read_at = self._monotonic()
        return self._token


def _load_in_cluster() -> ClusterConfig:
    from kubernetes.aio.client import Configuration

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
    conf = Configuration(host=f"https://{netloc}")
    conf.ssl_ca_cert = str(ca_file)
    conf.api_key["BearerToken"] = f"Bearer {token.token()}"

    def refresh(configuration: Any) -> None:
        # The client library calls this before building every request's headers.
        configuration.api_key["BearerToken"] = f"Bearer {token.token()}"

    conf.refresh_api_key_hook = refresh
    return ClusterConfig(conf, "in-cluster")

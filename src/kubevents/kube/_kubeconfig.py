"""A kubeconfig context resolved into a ``ClusterConfig``, with client-go's semantics.

The context (given, else ``current-context``) names a cluster and a user. Relative paths in
the file (CA, client certificate and key, ``tokenFile``, an exec ``command`` with a path
separator in it) are relative to the file's directory, as in clientcmd's ``ResolvePaths``.
The user authenticates with, in client-go's order: a ``tokenFile`` (re-read when it changes)
or ``token``, else basic auth, else an ``auth-provider`` (only ``oidc``'s ``id-token``), else an
``exec`` plugin; a client certificate goes with any of them, and one stops the exec plugin
from running (client-go's ``UpdateTransportConfig``). Every problem is a ``ConfigError`` naming
the field, never its value.
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from kubevents.errors import ConfigError
from kubevents.kube._clusterconfig import ClusterConfig
from kubevents.kube._credentials import (
    Auth,
    CertPair,
    Credentials,
    StaticCredentials,
    TokenFile,
    TokenFileCredentials,
    basic_authorization,
)
from kubevents.kube._exec import EXEC_API_VERSIONS, ExecCredentials, ExecSpec
from kubevents.kube._kubeconfigfile import (
    AuthProvider,
    ClusterInfo,
    ExecConfig,
    UserInfo,
    read_kubeconfig,
)

__all__ = ["load_kubeconfig"]

log = logging.getLogger(__name__)

# The in-tree providers client-go dropped in 1.26, and what replaced them.
_REMOVED_PROVIDERS = {
    "gcp": "the exec plugin gke-gcloud-auth-plugin (gcloud components install "
    "gke-gcloud-auth-plugin; gcloud container clusters get-credentials writes the kubeconfig)",
    "azure": "the exec plugin kubelogin (kubelogin convert-kubeconfig rewrites the kubeconfig)",
}
_EXEC_CLUSTER_EXTENSION = "client.authentication.k8s.io/exec"


def _b64(value: str, field: str) -> bytes:
    try:
        return base64.b64decode("".join(value.split()), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(f"{field}: not valid base64") from None


def _pem_text(data: bytes, field: str) -> str:
    try:
        return data.decode("ascii")
    except UnicodeDecodeError:
        raise ConfigError(f"{field}: not a PEM certificate") from None


class _Resolver:
    """Paths relative to the kubeconfig's directory, and reads that name the field."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.base = path.parent

    def path_of(self, value: str) -> Path:
        p = Path(value)
        return p if p.is_absolute() else self.base / p

    def read(self, value: str, field: str) -> bytes:
        p = self.path_of(value)
        try:
            return p.read_bytes()
        except OSError as exc:
            raise ConfigError(f"{field}: cannot read {str(p)!r}: {exc.strerror or exc}") from None

    def readable(self, value: str, field: str) -> Path:
        p = self.path_of(value)
        if not os.access(p, os.R_OK) or not p.is_file():
            reason = "no such file" if not p.exists() else "not a readable file"
            raise ConfigError(f"{field}: cannot read {str(p)!r}: {reason}")
        return p


def _check_proxy(proxy_url: str, field: str) -> str:
    parts = urlsplit(proxy_url)
    if parts.scheme not in ("http", "https"):
        supported = " (socks5 is not supported here)" if parts.scheme.startswith("socks") else ""
        raise ConfigError(f"{field}: scheme {parts.scheme!r} is not http or https{supported}")
    if not parts.hostname:
        raise ConfigError(f"{field}: no host in the proxy URL")
    return proxy_url


def _server(info: ClusterInfo, field: str) -> str:
    server = info.server.strip()
    if not server:
        raise ConfigError(f"{field}.server: no server found for the cluster")
    if "://" not in server:
        server = "https://" + server  # client-go's DefaultServerURL
    parts = urlsplit(server)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{field}.server: {server!r} is not an http(s) URL")
    return server.rstrip("/")


def _client_cert(
    user: UserInfo, files: _Resolver, field: str
) -> tuple[CertPair | None, Path | None, Path | None]:
    """A certificate given as data (``CertPair``), or as files (paths), or none."""
    has_cert = bool(user.client_certificate or user.client_certificate_data)
    has_key = bool(user.client_key or user.client_key_data)
    if not has_cert and not has_key:
        return None, None, None
    if not has_key:
        raise ConfigError(
            f"{field}: client-key-data or client-key must be specified to use the client "
            "certificate"
        )
    if not has_cert:
        raise ConfigError(f"{field}: client-key is given without client-certificate(-data)")
    if user.client_certificate_data or user.client_key_data:
        cert = (
            _b64(user.client_certificate_data, f"{field}.client-certificate-data")
            if user.client_certificate_data
            else files.read(user.client_certificate, f"{field}.client-certificate")
        )
        key = (
            _b64(user.client_key_data, f"{field}.client-key-data")
            if user.client_key_data
            else files.read(user.client_key, f"{field}.client-key")
        )
        return CertPair(cert, key), None, None
    cert_file = files.readable(user.client_certificate, f"{field}.client-certificate")
    key_file = files.readable(user.client_key, f"{field}.client-key")
    return None, cert_file, key_file


def _auth_provider(provider: AuthProvider, field: str) -> str:
    name = provider.name
    if name == "oidc":
        token = (provider.config or {}).get("id-token", "")
        if not token:
            raise ConfigError(
                f"{field}.auth-provider: oidc has no id-token; kubevents does not run the OIDC "
                "refresh flow: use kubelogin's exec plugin (kubectl oidc-login) instead"
            )
        return token
    if name in _REMOVED_PROVIDERS:
        raise ConfigError(
            f"{field}.auth-provider: {name!r} was removed from client-go and kubectl in "
            f"Kubernetes 1.26: use {_REMOVED_PROVIDERS[name]}"
        )
    raise ConfigError(
        f"{field}.auth-provider: {name!r} is not supported: use an exec credential plugin"
    )


def _exec_spec(
    conf: ExecConfig,
    user_name: str,
    files: _Resolver,
    cluster: dict[str, Any],
    field: str,
) -> ExecSpec:
    if conf.api_version not in EXEC_API_VERSIONS:
        raise ConfigError(
            f"{field}.exec.apiVersion: {conf.api_version!r} is not one of "
            f"{', '.join(EXEC_API_VERSIONS)}"
        )
    if not conf.command:
        raise ConfigError(f"{field}.exec.command: must be specified")
    if conf.interactive_mode == "Always":
        raise ConfigError(
            f"{field}.exec.interactiveMode: Always needs a terminal, and kubevents runs the plugin "
            "without one (use Never or IfAvailable)"
        )
    if conf.interactive_mode not in ("", "Never", "IfAvailable"):
        raise ConfigError(f"{field}.exec.interactiveMode: invalid {conf.interactive_mode!r}")
    env = []
    for entry in conf.env or []:
        if not entry.name:
            raise ConfigError(f"{field}.exec.env: a variable has no name")
        env.append((entry.name, entry.value))
    command = conf.command
    if not os.path.isabs(command) and os.sep in command:
        command = str(files.path_of(command))
    return ExecSpec(
        user=user_name,
        api_version=conf.api_version,
        command=command,
        args=tuple(conf.args or ()),
        env=tuple(env),
        install_hint=conf.install_hint,
        cluster=cluster if conf.provide_cluster_info else None,
    )


def _exec_cluster(info: ClusterInfo, server: str, ca_pem: bytes | None) -> dict[str, Any]:
    """The ``spec.cluster`` of ``KUBERNETES_EXEC_INFO`` (clientauthentication's ``Cluster``)."""
    cluster: dict[str, Any] = {"server": server}
    if info.tls_server_name:
        cluster["tls-server-name"] = info.tls_server_name
    if info.insecure_skip_tls_verify:
        cluster["insecure-skip-tls-verify"] = True
    if ca_pem:
        cluster["certificate-authority-data"] = base64.b64encode(ca_pem).decode("ascii")
    if info.proxy_url:
        cluster["proxy-url"] = info.proxy_url
    if info.disable_compression:
        cluster["disable-compression"] = True
    for ext in info.extensions or []:
        if ext.name == _EXEC_CLUSTER_EXTENSION:
            cluster["config"] = ext.extension
    return cluster


async def load_kubeconfig(
    path: Path, context: str | None, *, insecure_skip_tls_verify: bool = False
) -> ClusterConfig:
    """The cluster and credentials of ``context`` (else the current one) in ``path``."""
    kc = read_kubeconfig(path)
    where = f"kubeconfig {str(path)!r}"
    name = context or kc.current_context
    if not name:
        raise ConfigError(f"{where}: no current-context is set and no context was given")
    ctx = next((c.context for c in kc.contexts or [] if c.name == name), None)
    if ctx is None:
        known = ", ".join(repr(c.name) for c in kc.contexts or []) or "none"
        raise ConfigError(f"{where}: context {name!r} not found (contexts: {known})")
    if not ctx.cluster:
        raise ConfigError(f"{where}: contexts[{name}].cluster: not specified")
    if not ctx.user:
        raise ConfigError(f"{where}: contexts[{name}].user: not specified")
    cluster = next((c.cluster for c in kc.clusters or [] if c.name == ctx.cluster), None)
    if cluster is None:
        raise ConfigError(f"{where}: cluster {ctx.cluster!r} of context {name!r} not found")
    user = next((u.user for u in kc.users or [] if u.name == ctx.user), None)
    if user is None:
        raise ConfigError(f"{where}: user {ctx.user!r} of context {name!r} not found")

    files = _Resolver(path)
    cfield, ufield = f"{where}: clusters[{ctx.cluster}]", f"{where}: users[{ctx.user}]"
    server = _server(cluster, cfield)
    ca_file: Path | None = None
    ca_pem: bytes | None = None
    if cluster.certificate_authority_data:
        ca_pem = _b64(cluster.certificate_authority_data, f"{cfield}.certificate-authority-data")
        if cluster.certificate_authority:
            log.warning("%s: certificate-authority-data overrides certificate-authority", cfield)
    elif cluster.certificate_authority:
        ca_pem = files.read(cluster.certificate_authority, f"{cfield}.certificate-authority")
        ca_file = files.path_of(cluster.certificate_authority)
    proxy = _check_proxy(cluster.proxy_url, f"{cfield}.proxy-url") if cluster.proxy_url else None

    cert, cert_file, key_file = _client_cert(user, files, ufield)
    if (user.token or user.token_file) and (user.username or user.password):
        raise ConfigError(
            f"{ufield}: more than one authentication method found (token, basicAuth), "
            "only one is allowed"
        )
    if user.exec is not None and user.auth_provider is not None:
        raise ConfigError(f"{ufield}: auth-provider cannot be combined with an exec plugin")

    credentials: Credentials
    first_cert = cert
    if user.token_file:
        token_path = files.path_of(user.token_file)
        credentials = TokenFileCredentials(TokenFile(token_path, what=f"{ufield}.tokenFile"), cert)
    elif user.token:
        credentials = StaticCredentials(Auth(f"Bearer {user.token}", cert), "token")
    elif user.username or user.password:
        auth = Auth(basic_authorization(user.username, user.password), cert)
        credentials = StaticCredentials(auth, "basic auth")
    elif user.auth_provider is not None:
        token = _auth_provider(user.auth_provider, ufield)
        credentials = StaticCredentials(Auth(f"Bearer {token}", cert), "oidc id-token")
    elif user.exec is not None and cert is None and cert_file is None:
        spec = _exec_spec(
            user.exec, ctx.user, files, _exec_cluster(cluster, server, ca_pem), ufield
        )
        exec_credentials = ExecCredentials(spec)
        # A plugin that cannot run is a ConfigError now, not at the first request.
        first_cert = (await exec_credentials.fetch()).cert
        credentials = exec_credentials
    elif cert is not None:
        credentials = StaticCredentials(Auth(None, cert), "client certificate")
    else:
        credentials = Credentials()

    config = ClusterConfig(
        host=server,
        source=f"kubeconfig:{path}" + (f"#{context}" if context else ""),
        credentials=credentials,
        ca_file=ca_file,
        ca_data=_pem_text(ca_pem, f"{cfield}.certificate-authority-data")
        if ca_pem is not None and ca_file is None
        else None,
        insecure_skip_tls_verify=cluster.insecure_skip_tls_verify or insecure_skip_tls_verify,
        tls_server_name=cluster.tls_server_name or None,
        proxy_url=proxy,
        cert_file=cert_file,
        key_file=key_file,
        namespace=ctx.namespace or None,
    )
    if ca_pem is not None or cert_file is not None or first_cert is not None:
        config.ssl_context(first_cert)  # TLS material that does not load is a ConfigError now
    return config

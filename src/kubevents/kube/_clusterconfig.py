"""A resolved connection to one API server: where it is, how TLS is set up, who we are."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path

from kubevents.kube._credentials import CertPair, Credentials
from kubevents.kube._tls import ssl_context

__all__ = ["ClusterConfig"]


@dataclass(frozen=True)
class ClusterConfig:
    """Everything a ``Transport`` needs; secrets live in ``credentials`` and never in ``repr``."""

    host: str  # "https://host:port", no trailing slash
    source: str  # "kubeconfig:<path>[#context]", "in-cluster" or "explicit"
    credentials: Credentials = field(default_factory=Credentials, repr=False)
    ca_file: Path | None = None
    ca_data: str | None = field(default=None, repr=False)  # PEM
    insecure_skip_tls_verify: bool = False
    tls_server_name: str | None = None
    proxy_url: str | None = None
    # A client certificate from files (kubeconfig client-certificate / client-key); data and
    # exec certificates come with each request's ``Auth`` instead.
    cert_file: Path | None = None
    key_file: Path | None = None
    namespace: str | None = None  # the context's namespace, if it names one

    def ssl_context(self, auth_cert: CertPair | None = None) -> ssl.SSLContext:
        """The TLS context for requests that carry ``auth_cert`` (``ConfigError`` if unusable)."""
        return ssl_context(
            ca_file=self.ca_file,
            ca_data=self.ca_data,
            insecure=self.insecure_skip_tls_verify,
            cert_file=self.cert_file,
            key_file=self.key_file,
            cert=auth_cert,
            what=self.source,
        )

"""Throwaway TLS material for the tests: a CA, a server and a client certificate (openssl CLI).

EC P-256 keys (unencrypted PKCS#8, which Kafka's PEM key stores and Python's ``ssl`` both
read), valid for two days; the server certificate names ``127.0.0.1`` and ``localhost``.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Pki", "issue_client_cert", "make_pki"]

_EC = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path


def _openssl(*args: str, cwd: Path) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("`openssl` is not on PATH: it makes the tests' TLS certificates")
    done = subprocess.run([openssl, *args], cwd=cwd, capture_output=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {done.stderr.decode(errors='replace')}")


def _issue(directory: Path, name: str, cn: str, extensions: str, subject: str = "") -> None:
    _openssl("req", *_EC, "-keyout", f"{name}.key", "-out", f"{name}.csr",
             "-subj", f"{subject}/CN={cn}", cwd=directory)  # fmt: skip
    (directory / f"{name}.ext").write_text(
        "basicConstraints=CA:FALSE\nsubjectKeyIdentifier=hash\n"
        f"authorityKeyIdentifier=keyid,issuer\n{extensions}\n"
    )
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", "2", "-out", f"{name}.pem",
             "-extfile", f"{name}.ext", cwd=directory)  # fmt: skip


def make_pki(directory: Path, *, ca_name: str = "kubevents test CA") -> Pki:
    """A new CA in ``directory`` and a server and a client certificate signed by it."""
    directory.mkdir(parents=True, exist_ok=True)
    _openssl("req", "-x509", *_EC, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
             "-subj", f"/CN={ca_name}",
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=directory)  # fmt: skip
    _issue(directory, "server", "127.0.0.1",
           "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth")  # fmt: skip
    _issue(directory, "client", "kubevents-exporter", "extendedKeyUsage=clientAuth")
    d = directory
    return Pki(d / "ca.pem", d / "server.pem", d / "server.key", d / "client.pem", d / "client.key")


def issue_client_cert(
    pki: Pki, name: str, cn: str, organizations: Sequence[str] = ()
) -> tuple[Path, Path]:
    """Another client certificate from ``pki``'s CA: ``<name>.pem`` and ``<name>.key``.

    Kubernetes' x509 authenticator reads the CN as the user name and each O as a group.
    """
    directory = pki.ca.parent
    subject = "".join(f"/O={org}" for org in organizations)
    _issue(directory, name, cn, "extendedKeyUsage=clientAuth", subject)
    return directory / f"{name}.pem", directory / f"{name}.key"

"""The TLS context of a connection to the API server: its CA, a client certificate, verification.

Built the way the Kubernetes Python client built it: ``ssl.create_default_context`` with the
CA file or data, ``load_cert_chain`` for a client certificate, and no verification when the
configuration says ``insecure-skip-tls-verify``. ``load_cert_chain`` reads only files, so
certificate and key data go through an anonymous memory file (``memfd``, never on disk), or on
systems without one a 0600 temporary file that is removed as soon as it is loaded.
"""

from __future__ import annotations

import contextlib
import os
import ssl
import tempfile
from collections.abc import Iterator
from pathlib import Path

from kubevents.errors import ConfigError
from kubevents.kube._credentials import CertPair

__all__ = ["ssl_context"]


@contextlib.contextmanager
def _secret_file(name: str, data: bytes) -> Iterator[str]:
    """A path that reads as ``data`` while the block runs, readable only by this process."""
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create(name, os.MFD_CLOEXEC)
        try:
            os.write(fd, data)
            yield f"/proc/self/fd/{fd}"
        finally:
            os.close(fd)
        return
    fd, path = tempfile.mkstemp(prefix=name)  # mkstemp creates it 0600
    try:
        os.write(fd, data)
        os.close(fd)
        fd = -1
        yield path
    finally:
        if fd >= 0:
            os.close(fd)
        os.unlink(path)


def ssl_context(
    *,
    ca_file: Path | None = None,
    ca_data: str | None = None,
    insecure: bool = False,
    cert_file: Path | None = None,
    key_file: Path | None = None,
    cert: CertPair | None = None,
    what: str = "cluster",
) -> ssl.SSLContext:
    """A client context; ``ConfigError`` names the field that does not load (never its bytes)."""
    try:
        context = ssl.create_default_context(
            cafile=None if insecure or ca_file is None else str(ca_file),
            cadata=None if insecure else ca_data,
        )
    except (ssl.SSLError, OSError, ValueError) as exc:
        field = "certificate-authority-data" if ca_data else "certificate-authority"
        raise ConfigError(f"{what}: {field}: cannot load the CA: {_reason(exc)}") from None
    try:
        if cert is not None:
            with (
                _secret_file("kubevents-client-cert", cert.cert_pem) as cert_path,
                _secret_file("kubevents-client-key", cert.key_pem) as key_path,
            ):
                context.load_cert_chain(cert_path, keyfile=key_path)
        elif cert_file is not None:
            context.load_cert_chain(
                str(cert_file), keyfile=str(key_file) if key_file is not None else None
            )
    except (ssl.SSLError, OSError, ValueError) as exc:
        source = "client-certificate-data / client-key-data" if cert else "client-certificate"
        raise ConfigError(f"{what}: {source}: cannot load: {_reason(exc)}") from None
    if insecure:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _reason(exc: BaseException) -> str:
    # An SSLError's text is the library and reason codes, never the PEM it was given.
    if isinstance(exc, ssl.SSLError):
        return exc.reason or str(exc)
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    return str(exc)

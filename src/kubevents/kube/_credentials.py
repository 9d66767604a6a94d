"""What a request authenticates with: a bearer token, basic auth or a client certificate.

Each source answers ``current()`` before every request and ``unauthorized(used)`` after a 401,
as client-go's round trippers do: a token file is re-read when it changes, an exec plugin's
credential is cached until shortly before it expires and fetched again then, or after a 401.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kubevents.errors import ConfigError

__all__ = [
    "TOKEN_MAX_AGE",
    "Auth",
    "CertPair",
    "Credentials",
    "StaticCredentials",
    "TokenFile",
    "TokenFileCredentials",
    "basic_authorization",
]

log = logging.getLogger(__name__)

# client-go re-reads the token file about every minute; a changed file is re-read at once.
TOKEN_MAX_AGE = 60.0


@dataclass(frozen=True, eq=False)
class CertPair:
    """A client certificate chain and its key, PEM, in memory (never logged: ``repr`` hides it)."""

    cert_pem: bytes = field(repr=False)
    key_pem: bytes = field(repr=False)


@dataclass(frozen=True, eq=False)
class Auth:
    """The credential of one request: the Authorization header and the TLS client certificate.

    A source hands out the same object until its credential changes, so the transport tells a
    refreshed credential (and a new certificate, which needs a new TLS context) by identity.
    """

    authorization: str | None = field(default=None, repr=False)
    cert: CertPair | None = None


def basic_authorization(username: str, password: str) -> str:
    """The ``Authorization`` value of HTTP basic auth (RFC 7617, UTF-8)."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode("ascii")


_NO_AUTH = Auth()


class Credentials:
    """A source of ``Auth``; this base class authenticates with nothing (anonymous)."""

    description = "none"

    async def current(self) -> Auth:
        return _NO_AUTH

    async def unauthorized(self, used: Auth) -> bool:
        """After a 401 with ``used``: True if a different credential is now current (retry)."""
        return False


class StaticCredentials(Credentials):
    """A token, basic auth or a client certificate fixed in the configuration."""

    def __init__(self, auth: Auth, description: str) -> None:
        self._auth = auth
        self.description = description

    async def current(self) -> Auth:
        return self._auth


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
        what: str = "service-account token",
    ) -> None:
        self.path = path
        self._what = what
        self._max_age = max_age
        self._monotonic = monotonic
        self._key: tuple[int, int, int, int] | None = None
        self._read_at = 0.0
        self._token = ""
        self.reads = 0
        self.token()
        if not self._token:
            raise ConfigError(f"{what} file {str(path)!r} is empty")

    def token(self, *, force: bool = False) -> str:
        """The token; ``force`` re-reads the file even if it looks unchanged."""
        try:
            st = self.path.stat()
        except OSError as exc:
            if not self._token:
                raise ConfigError(f"cannot read the {self._what}: {exc}") from None
            return self._token
        key = (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)
        if force or key != self._key or self._monotonic() - self._read_at > self._max_age:
            try:
                token = self.path.read_text().strip()
            except OSError as exc:
                if not self._token:
                    raise ConfigError(f"cannot read the {self._what}: {exc}") from None
                log.warning("cannot re-read the %s (%s): keeping the last", self._what, exc)
                return self._token
            if token:
                if self._token and token != self._token:
                    log.info("%s file changed: using the new token", self._what)
                self._token = token
                self.reads += 1
            self._key = key
            self._read_at = self._monotonic()
        return self._token


class TokenFileCredentials(Credentials):
    """A bearer token from a ``TokenFile`` (in-cluster, or a kubeconfig's ``tokenFile``)."""

    def __init__(self, token: TokenFile, cert: CertPair | None = None) -> None:
        self.token_file = token
        self.description = f"token file {token.path}"
        self._cert = cert
        self._auth = self._make(token.token())

    def _make(self, token: str) -> Auth:
        return Auth(f"Bearer {token}", self._cert)

    async def current(self) -> Auth:
        token = self.token_file.token()
        if self._auth.authorization != f"Bearer {token}":
            self._auth = self._make(token)
        return self._auth

    async def unauthorized(self, used: Auth) -> bool:
        # A writer may have replaced the token within the stat's resolution: read it now.
        token = self.token_file.token(force=True)
        if self._auth.authorization != f"Bearer {token}":
            self._auth = self._make(token)
        return self._auth is not used

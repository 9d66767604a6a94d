"""HTTP for the Elasticsearch / OpenSearch sink: hosts with failover, auth, TLS, gzip, SigV4.

One ``aiohttp`` session serves every host. A request goes to the host that answered last; a
connection error, a timeout or a 502/503/504 (a node or proxy that is down) moves it to the
next host, and only when every host failed does it raise ``SearchError``, which the pipeline
retries. Every other answer is returned to the caller, which knows what a status means for
its endpoint.

AWS SigV4 (Amazon OpenSearch Service ``es``, OpenSearch Serverless ``aoss``) is applied per
request with ``_es_sigv4``.

Secrets: hosts appear in logs and errors only redacted (``redact_url``), headers never; the
``*_file`` credentials are read at start and re-read when the file changes (a rotated Secret).
"""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import gzip
import hashlib
import logging
import ssl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
from yarl import URL

from kubevents.export._secrets import (
    SecretFile,
    looks_secret,
    redact_text,
    redact_url,
    url_has_secret,
)
from kubevents.export.sinks._base import HttpSinkError, SinkError
from kubevents.export.sinks._http import parse_retry_after
from kubevents.export.sinks.elasticsearch._sigv4 import (
    AwsCredentials,
    AwsSigV4,
    botocore_credentials,
    canonical_query,
    sigv4_authorization,
)

__all__ = [
    "AwsCredentials",
    "AwsSigV4",
    "Response",
    "SearchAuth",
    "SearchError",
    "Transport",
    "sigv4_authorization",
]

log = logging.getLogger(__name__)

# Statuses that say "this node (or the proxy in front of it) cannot serve now": another host
# may. 500 is not among them: it is the engine's own answer about this request.
_FAILOVER_STATUSES = frozenset({502, 503, 504})
# Larger bodies are compressed off the event loop; smaller ones cost less than the thread hop.
_GZIP_INLINE_LIMIT = 64 * 1024
# Level 1: NDJSON of events still shrinks 5-8x, at a fraction of level 6's CPU on a 2-core pod.
_GZIP_LEVEL = 1
_EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


class SearchError(HttpSinkError):
    """A retryable failure of the search engine; ``retry_after`` is its Retry-After (s)."""


@dataclass(frozen=True)
class SearchAuth:
    """Credentials and TLS; at most one of basic, API key, bearer token and SigV4.

    A ``*_file`` stands for its value (a mounted Secret): read when the transport opens, and
    re-read whenever the file changes.
    """

    username: str | None = None
    password: str | None = field(default=None, repr=False)
    api_key: str | None = field(default=None, repr=False)
    bearer_token: str | None = field(default=None, repr=False)
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    ca_file: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None
    insecure_skip_verify: bool = False
    aws: AwsSigV4 | None = None
    password_file: Path | None = None
    api_key_file: Path | None = None
    bearer_token_file: Path | None = None

    def secret_files(self) -> dict[str, Path]:
        """The credentials given as files: field name (without ``_file``) -> path."""
        files = {
            "password": self.password_file,
            "api_key": self.api_key_file,
            "bearer_token": self.bearer_token_file,
        }
        return {name: path for name, path in files.items() if path is not None}

    def carries_credentials(self) -> bool:
        return (
            self.username is not None
            or self.api_key is not None
            or self.bearer_token is not None
            or self.aws is not None
            or bool(self.secret_files())
            or any(looks_secret(h) for h in self.headers)
        )

    def authorization(self) -> str | None:
        if self.username is not None:
            pair = f"{self.username}:{self.password or ''}".encode()
            return "Basic " + base64.b64encode(pair).decode()
        if self.api_key is not None:
            key = self.api_key
            # "id:api_key" as Elasticsearch prints it is accepted as well as its base64 form.
            if ":" in key:
                key = base64.b64encode(key.encode()).decode()
            return "ApiKey " + key
        if self.bearer_token is not None:
            return "Bearer " + self.bearer_token
        return None


@dataclass(frozen=True)
class Response:
    status: int
    body: bytes
    host: str
    retry_after: float | None = None

    def json(self) -> Any:
        return msgspec.json.decode(self.body) if self.body else None

    def error_text(self, limit: int = 300) -> str:
        return self.body[:limit].decode("utf-8", "replace").strip()


def _tls_context(auth: SearchAuth) -> ssl.SSLContext:
    try:
        context = ssl.create_default_context(cafile=str(auth.ca_file) if auth.ca_file else None)
    except (OSError, ssl.SSLError) as exc:
        raise SinkError(f"cannot load ca_file {auth.ca_file}: {exc}", reason="tls_config") from None
    if auth.insecure_skip_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    if auth.client_cert:
        try:
            context.load_cert_chain(auth.client_cert, auth.client_key)
        except (OSError, ssl.SSLError) as exc:
            raise SinkError(
                f"cannot load client certificate {auth.client_cert}: {exc}", reason="tls_config"
            ) from None
    return context


def _compress(body: bytes) -> bytes:
    # mtime=0: a retried body is byte-identical, so its SigV4 payload hash is too.
    return gzip.compress(body, _GZIP_LEVEL, mtime=0)


def client_error(exc: BaseException, host: str) -> SearchError:
    """A transport failure as a retryable error with a bounded reason label.

    ``host`` is shown as given (pass it redacted); URLs in the library's message are redacted.
    """
    text = redact_text(str(exc))
    if isinstance(exc, TimeoutError):
        return SearchError(f"{host}: timed out", reason="timeout")
    if isinstance(exc, aiohttp.ClientSSLError):
        return SearchError(f"{host}: TLS error: {text}", reason="tls")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return SearchError(f"{host}: cannot connect: {text}", reason="connect")
    if isinstance(exc, aiohttp.ClientConnectionError):
        return SearchError(f"{host}: connection failed: {text}", reason="connection")
    return SearchError(f"{host}: request failed: {text}", reason="http_client")


class Transport:
    """Requests to a search cluster through one of several equivalent hosts."""

    def __init__(
        self,
        hosts: Sequence[str],
        auth: SearchAuth,
        *,
        timeout: float,
        compress: bool,
        name: str,
    ) -> None:
        if not hosts:
            raise SinkError("no hosts configured", reason="config")
        #: The hosts as logs and errors show them (no userinfo, no query values).
        self.shown_hosts = [redact_url(h.rstrip("/")) for h in hosts]
        try:
            self.hosts = [URL(h.rstrip("/")) for h in hosts]
        except (TypeError, ValueError) as exc:
            raise SinkError(f"invalid host URL: {redact_text(str(exc))}", reason="config") from None
        for url, shown in zip(self.hosts, self.shown_hosts, strict=True):
            if url.scheme not in ("http", "https") or not url.host:
                raise SinkError(f"not an http(s) URL: {shown}", reason="config")
        self.auth = auth
        self.timeout = timeout
        self.compress = compress
        self.name = name
        self._current = 0
        self._session: aiohttp.ClientSession | None = None
        self._credentials: Callable[[], AwsCredentials] | None = None
        self._secret_files: dict[str, SecretFile] = {}

    async def open(self) -> None:
        if self._session is not None:
            return
        if self.timeout <= 0:
            raise SinkError(f"timeout must be positive, got {self.timeout}", reason="config")
        tls: ssl.SSLContext | bool = True
        if any(url.scheme == "https" for url in self.hosts):
            tls = _tls_context(self.auth)
            if self.auth.insecure_skip_verify:
                log.warning("sink %s: TLS verification is disabled", self.name)
        aws = self.auth.aws
        if aws is not None:
            self._credentials = aws.credentials or botocore_credentials(aws.profile)
        self._secret_files = self._read_secret_files()
        self._warn_plain_credentials()
        headers = {"Accept": "application/json", **self.auth.headers}
        authorization = self.auth.authorization()
        if authorization is not None and not self._secret_files:
            headers["Authorization"] = authorization
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=tls),
            timeout=aiohttp.ClientTimeout(total=self.timeout, connect=min(10.0, self.timeout)),
            headers=headers,
        )

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def _read_secret_files(self) -> dict[str, SecretFile]:
        files: dict[str, SecretFile] = {}
        for name, path in self.auth.secret_files().items():
            secret = SecretFile(path, f"{name}_file")
            try:
                secret.read()
            except (OSError, ValueError) as exc:
                raise SinkError(
                    f"{name}_file {path}: {getattr(exc, 'strerror', None) or exc}",
                    reason="config",
                ) from None
            files[name] = secret
        return files

    def _file_authorization(self) -> dict[str, str]:
        """The Authorization header from the current content of the credential files."""
        if not self._secret_files:
            return {}
        auth = self.auth
        files = self._secret_files
        current = dataclasses.replace(
            auth,
            password=files["password"].value() if "password" in files else auth.password,
            api_key=files["api_key"].value() if "api_key" in files else auth.api_key,
            bearer_token=(
                files["bearer_token"].value() if "bearer_token" in files else auth.bearer_token
            ),
        )
        authorization = current.authorization()
        return {} if authorization is None else {"Authorization": authorization}

    def _warn_plain_credentials(self) -> None:
        plain = [
            shown
            for url, shown in zip(self.hosts, self.shown_hosts, strict=True)
            if url.scheme == "http"
            and (self.auth.carries_credentials() or url_has_secret(str(url)))
        ]
        if plain:
            log.warning(
                "sink %s: credentials go over plain http to %s: anyone on the path can read "
                "them (use https)",
                self.name,
                ", ".join(plain),
            )

    async def _sign(
        self, method: str, url: URL, query: Mapping[str, str], body: bytes
    ) -> dict[str, str]:
        aws = self.auth.aws
        assert aws is not None and self._credentials is not None
        credentials = await asyncio.to_thread(self._credentials)
        amz_date = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        payload = hashlib.sha256(body).hexdigest() if body else _EMPTY_SHA256
        host = url.raw_host or ""
        if url.explicit_port is not None and not url.is_default_port():
            host = f"{host}:{url.port}"
        signed = {"host": host, "x-amz-date": amz_date, "x-amz-content-sha256": payload}
        if credentials.token:
            signed["x-amz-security-token"] = credentials.token
        authorization = sigv4_authorization(
            method=method,
            path=url.raw_path,
            query=query,
            headers=signed,
            payload_sha256=payload,
            credentials=credentials,
            region=aws.region,
            service=aws.service,
            amz_date=amz_date,
        )
        headers = {k: v for k, v in signed.items() if k != "host"}
        headers["Authorization"] = authorization
        return headers

    async def request(
        self,
        method: str,
        path: str,
        *,
        body: bytes | None = None,
        query: Mapping[str, str] | None = None,
        content_type: str = "application/json",
        compress: bool = False,
    ) -> Response:
        """Send to the current host, failing over; return any answer but a failover one."""
        if self._session is None:
            await self.open()
        assert self._session is not None
        query = dict(query or {})
        headers = self._file_authorization()
        data = body
        if body is not None:
            headers["Content-Type"] = content_type
            if compress and self.compress:
                headers["Content-Encoding"] = "gzip"
                data = (
                    await asyncio.to_thread(_compress, body)
                    if len(body) > _GZIP_INLINE_LIMIT
                    else _compress(body)
                )
        last: SearchError | None = None
        count = len(self.hosts)
        for step in range(count):
            index = (self._current + step) % count
            base, shown = self.hosts[index], self.shown_hosts[index]
            url = base.with_path(base.path.rstrip("/") + path)
            if query:
                # Sent exactly in SigV4's canonical form (',' and '*' percent-encoded), so a
                # server that signs the raw query and one that re-encodes it agree with us.
                url = URL(f"{url}?{canonical_query(query)}", encoded=True)
            send_headers = dict(headers)
            if self.auth.aws is not None:
                send_headers.update(await self._sign(method, url, query, data or b""))
            try:
                async with self._session.request(
                    method, url, data=data, headers=send_headers, allow_redirects=False
                ) as response:
                    status = response.status
                    payload = await response.read()
                    retry_after = parse_retry_after(response.headers.get("Retry-After"))
            except (TimeoutError, aiohttp.ClientError) as exc:
                last = client_error(exc, shown)
                log.warning("sink %s: %s; trying the next host", self.name, last)
                continue
            if status in _FAILOVER_STATUSES:
                last = SearchError(
                    f"{shown} answered HTTP {status}",
                    reason=f"http_{status}",
                    status=status,
                    retry_after=retry_after,
                )
                continue
            self._current = index
            return Response(status, payload, shown, retry_after)
        assert last is not None
        if count > 1:
            last = SearchError(
                f"all {count} hosts failed, last: {last}",
                reason=last.reason,
                status=last.status,
                retry_after=last.retry_after,
            )
        raise last

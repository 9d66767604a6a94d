"""HTTP requests to the API server on one aiohttp session, errors mapped to ``kubevents.errors``.

The session is what the Kubernetes Python client used to make (100 connections, ``trust_env``
so ``HTTPS_PROXY`` / ``NO_PROXY`` apply) with a smaller read buffer (below); the
``ClusterConfig`` says where and how to authenticate, and its credentials are asked before
every request. Bodies are encoded and decoded with msgspec.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from typing import Any
from urllib.parse import quote

import aiohttp
import msgspec
import yarl

from kubevents import __version__
from kubevents.errors import (
    ConfigError,
    RequestConstructionError,
    StatusError,
    TransportError,
)
from kubevents.kube._clusterconfig import ClusterConfig
from kubevents.kube._credentials import Auth, CertPair
from kubevents.model import DECODE_ERRORS

__all__ = [
    "CONTENT_TYPE_JSON",
    "CONTENT_TYPE_JSON_PATCH",
    "CONTENT_TYPE_MERGE_PATCH",
    "CONTENT_TYPE_STRATEGIC_MERGE_PATCH",
    "Transport",
]

CONTENT_TYPE_JSON = "application/json"
CONTENT_TYPE_STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
CONTENT_TYPE_MERGE_PATCH = "application/merge-patch+json"
CONTENT_TYPE_JSON_PATCH = "application/json-patch+json"

USER_AGENT = f"kubevents/{__version__}"
DEFAULT_REQUEST_TIMEOUT = 60.0
CONNECTION_LIMIT = 100
# How much of a response aiohttp buffers before it stops reading the socket: twice this. The
# watch takes whatever is buffered (``readany``) and joins a line split across reads itself,
# so a line longer than this is still read whole; what the size bounds is the backlog held in
# memory while the sinks are slower than the watch (a burst: the library's 2 MiB held up to
# 4 MiB of it, about 8 MiB of peak RSS with its allocations). One socket read is 256 KiB.
READ_BUFSIZE = 2**18
# Errors that mean the request never completed; the recorder retries these like client-go does.
_TRANSPORT_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError, ssl.SSLError, OSError)


class _Status(msgspec.Struct):
    kind: str = ""
    code: int = 0
    reason: str = ""
    message: str = ""
    details: dict[str, Any] | None = None


_status_decoder = msgspec.json.Decoder(_Status)
_encoder = msgspec.json.Encoder()
log = logging.getLogger(__name__)


def status_error(http_code: int, http_reason: str, body: bytes) -> StatusError:
    """Turn an error response into a ``StatusError`` (a ``Status`` body, else the HTTP code)."""
    try:
        status = _status_decoder.decode(body)
    except DECODE_ERRORS:  # the body is the server's (or a proxy's): anything can be in it
        status = None
    if status is not None and status.kind == "Status":
        return StatusError.from_status(msgspec.structs.asdict(status), http_code)
    text = body[:512].decode("utf-8", "replace").strip()
    return StatusError.from_status(
        {"code": http_code, "reason": http_reason, "message": text or http_reason}, http_code
    )


def _encode_body(body: Any) -> bytes | str | None:
    """JSON for objects (compact, as client-go sends it); bytes and text go as they are."""
    if body is None or isinstance(body, bytes | str):
        return body
    if isinstance(body, bytearray | memoryview):
        return bytes(body)
    return _encoder.encode(body)


class Transport:
    """One authenticated connection pool to one API server."""

    def __init__(self, cluster: ClusterConfig, *, user_agent: str = USER_AGENT) -> None:
        self.cluster = cluster
        self._user_agent = user_agent
        # Created on the first request: a session belongs to the loop it is created in.
        self._session: aiohttp.ClientSession | None = None
        # The TLS context for the last client certificate seen (None = no per-request one).
        # Connections are pooled per context, so a new certificate gets new connections.
        self._ssl: tuple[CertPair | None, ssl.SSLContext] | None = None
        self._extra: dict[str, Any] = {}
        if cluster.proxy_url:
            self._extra["proxy"] = cluster.proxy_url
        if cluster.tls_server_name:
            self._extra["server_hostname"] = cluster.tls_server_name

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _session_now(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=CONNECTION_LIMIT),
                trust_env=True,
                read_bufsize=READ_BUFSIZE,
            )
        return self._session

    def _ssl_context(self, cert: CertPair | None) -> ssl.SSLContext:
        cached = self._ssl
        if cached is not None and cached[0] is cert:
            return cached[1]
        context = self.cluster.ssl_context(cert)
        self._ssl = (cert, context)
        return context

    async def _auth(self, method: str, path: str) -> tuple[Auth, ssl.SSLContext]:
        try:
            auth = await self.cluster.credentials.current()
            return auth, self._ssl_context(auth.cert)
        except ConfigError as exc:
            # A plugin that fails now may work on the next try (its network, its cache).
            which = self.cluster.credentials.description
            raise TransportError(f"{method} {path}: credentials ({which}): {exc}") from None

    async def _send(
        self,
        method: str,
        url: yarl.URL,
        headers: dict[str, str],
        data: bytes | str | None,
        client_timeout: aiohttp.ClientTimeout,
        auth: Auth,
        context: ssl.SSLContext,
    ) -> aiohttp.ClientResponse:
        if auth.authorization is not None:
            headers = {**headers, "Authorization": auth.authorization}
        return await self._session_now().request(
            method,
            url,
            headers=headers,
            data=data,
            timeout=client_timeout,
            ssl=context,
            **self._extra,
        )

    async def open(
        self,
        method: str,
        path: str,
        *,
        query: list[tuple[str, str]] | None = None,
        body: Any = None,
        content_type: str = CONTENT_TYPE_JSON,
        request_timeout: aiohttp.ClientTimeout | float | None = DEFAULT_REQUEST_TIMEOUT,
        accept: str = CONTENT_TYPE_JSON,
    ) -> aiohttp.ClientResponse:
        """Send a request and return the open response (2xx only); the caller must release it.

        ``accept`` is the media type asked for (content negotiation, e.g. metadata only). A 401
        makes the credentials refresh (an exec plugin runs again, a token file is re-read);
        if that gives a different credential the request is sent once more with it.
        """
        headers = {
            "Accept": accept,
            "Content-Type": content_type,
            "User-Agent": self._user_agent,
        }
        try:
            data = _encode_body(body)
            target = self.cluster.host + path
            if query:
                target += "?" + "&".join(f"{k}={quote(str(v))}" for k, v in query)
            url = yarl.URL(target, encoded=True)
        except (TypeError, ValueError, msgspec.EncodeError) as exc:
            raise RequestConstructionError(f"cannot build {method} {path}: {exc}") from exc
        client_timeout = (
            request_timeout
            if isinstance(request_timeout, aiohttp.ClientTimeout)
            else aiohttp.ClientTimeout(total=request_timeout)
        )
        auth, context = await self._auth(method, path)
        try:
            response = await self._send(method, url, headers, data, client_timeout, auth, context)
            if response.status == 401 and await self._refreshed(auth):
                response.release()
                auth, context = await self._auth(method, path)
                response = await self._send(
                    method, url, headers, data, client_timeout, auth, context
                )
        except _TRANSPORT_ERRORS as exc:
            raise TransportError(f"{method} {path}: {type(exc).__name__}: {exc}") from exc
        if not 200 <= response.status <= 299:
            try:
                data_read = await response.read()
            except _TRANSPORT_ERRORS as exc:
                raise TransportError(f"{method} {path}: reading error body: {exc}") from exc
            finally:
                response.release()
            raise status_error(response.status, response.reason or "", data_read)
        return response

    async def _refreshed(self, used: Auth) -> bool:
        try:
            return await self.cluster.credentials.unauthorized(used)
        except ConfigError as exc:
            which = self.cluster.credentials.description
            log.warning("refreshing the credentials (%s) after a 401 failed: %s", which, exc)
            return False

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: list[tuple[str, str]] | None = None,
        body: Any = None,
        content_type: str = CONTENT_TYPE_JSON,
        request_timeout: float | None = DEFAULT_REQUEST_TIMEOUT,
        accept: str = CONTENT_TYPE_JSON,
    ) -> bytes:
        """Send a request and return the whole 2xx body."""
        response = await self.open(
            method,
            path,
            query=query,
            body=body,
            content_type=content_type,
            request_timeout=request_timeout,
            accept=accept,
        )
        try:
            return await response.read()
        except _TRANSPORT_ERRORS as exc:
            raise TransportError(f"{method} {path}: reading body: {exc}") from exc
        finally:
            response.release()

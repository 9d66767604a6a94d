"""HTTP requests through the Kubernetes client library, with errors mapped to ``kubevents.errors``.

The library does authentication (tokens, client certificates, exec plugins, in-cluster token
refresh) and TLS; kubevents reads and decodes the bytes itself with msgspec, which is an order
of magnitude faster than the library's model deserialisation.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

import aiohttp
import msgspec

from kubevents import __version__
from kubevents.errors import RequestConstructionError, StatusError, TransportError
from kubevents.kube._config import ClusterConfig
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
# Errors that mean the request never completed; the recorder retries these like client-go does.
_TRANSPORT_ERRORS = (aiohttp.ClientError, asyncio.TimeoutError, ssl.SSLError, OSError)


class _Status(msgspec.Struct):
    kind: str = ""
    code: int = 0
    reason: str = ""
    message: str = ""
    details: dict[str, Any] | None = None


_status_decoder = msgspec.json.Decoder(_Status)


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


class Transport:
    """One authenticated connection pool to one API server."""

    def __init__(self, cluster: ClusterConfig, *, user_agent: str = USER_AGENT) -> None:
        # Lazy for the same reason as in _config: only a process that connects pays for it.
        from kubernetes.aio.client import ApiClient
        from kubernetes.aio.client.exceptions import ApiException

        self._api_exception: type[Exception] = ApiException
        self.cluster = cluster
        self._api = ApiClient(cluster.configuration)
        self._api.user_agent = user_agent

    async def close(self) -> None:
        await self._api.close()

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

        ``accept`` is the media type asked for (content negotiation, e.g. metadata only).
        """
        headers = {"Accept": accept, "Content-Type": content_type}
        try:
            method, url, headers, body, _ = await self._api.param_serialize(
                method,
                path,
                query_params=query or [],
                header_params=headers,
                body=body,
                auth_settings=["BearerToken"],
            )
        except (TypeError, ValueError) as exc:
            raise RequestConstructionError(f"cannot build {method} {path}: {exc}") from exc
        client_timeout = (
            request_timeout
            if isinstance(request_timeout, aiohttp.ClientTimeout)
            else aiohttp.ClientTimeout(total=request_timeout)
        )
        try:
            rest = await self._api.call_api(
                method, url, header_params=headers, body=body, _request_timeout=client_timeout
            )
        except self._api_exception as exc:
            # The library raises this only when it cannot serialise the request.
            raise RequestConstructionError(f"cannot build {method} {path}: {exc}") from exc
        except (TypeError, ValueError) as exc:
            raise RequestConstructionError(f"cannot build {method} {path}: {exc}") from exc
        except _TRANSPORT_ERRORS as exc:
            raise TransportError(f"{method} {path}: {type(exc).__name__}: {exc}") from exc
        response: aiohttp.ClientResponse = rest.response
        if not 200 <= response.status <= 299:
            try:
                data = await response.read()
            except _TRANSPORT_ERRORS as exc:
                raise TransportError(f"{method} {path}: reading error body: {exc}") from exc
            finally:
                response.release()
            raise status_error(response.status, response.reason or "", data)
        return response

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

"""Webhook: one HTTP POST per batch of export documents.

Response handling (``docs/sinks/jsonl-and-webhook.md`` has the table):

- 2xx: the batch is stored.
- 413: the batch is split in halves and each half is sent again, recursively, so only documents
  that are too large even alone are rejected (``http_413``).
- 400, 415, 422 and the other 4xx not listed below: the receiver refuses the content for good;
  the whole batch is rejected with reason ``http_<code>`` (dead letters, never a silent drop).
- 408, 409, 425, 429, 5xx, 3xx, 401, 403, 404, 405, 407, timeouts, connection and TLS errors:
  ``WebhookError`` (a ``SinkError``), which the pipeline retries. Auth, routing and redirect
  answers are retried rather than rejected because they say the configuration is wrong, not the
  data: rejecting would dead-letter every event until an operator fixed a token.

Idempotency: every document carries its ``id`` and each request has an ``Idempotency-Key``
header, the SHA-256 of the batch's ids, identical when the same batch is retried.

Secrets: the URL appears in logs and errors only redacted (``redact_url``: no userinfo, no
query values) and headers never appear. ``bearer_token_file`` is re-read when it changes, so a
rotated Secret is sent from the next request on.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Literal

import aiohttp
from yarl import URL

from kubevents.export._occurrence import Occurrence
from kubevents.export._secrets import (
    SecretFile,
    looks_secret,
    redact_text,
    redact_url,
    url_has_secret,
)
from kubevents.export.sinks._base import HttpSinkError, Rejected, SinkError, WriteResult
from kubevents.export.sinks._http import PERMANENT_STATUSES, parse_retry_after
from kubevents.export.sinks.webhook._encoder import encode_body, gzip_body, idempotency_key

__all__ = ["WebhookError", "WebhookSink"]

log = logging.getLogger(__name__)

_RETRYABLE_4XX = frozenset({401, 403, 404, 405, 407, 408, 409, 425, 429})
_CONTENT_TYPES = {"array": "application/json", "jsonl": "application/x-ndjson"}
# Bodies this large are compressed off the event loop; smaller ones are cheaper inline.
_GZIP_INLINE_LIMIT = 64 * 1024
_ERROR_BODY_LIMIT = 200


class WebhookError(HttpSinkError):
    """A retryable webhook failure. ``retry_after`` is the receiver's ``Retry-After`` in seconds.

    The pipeline waits at least ``retry_after`` (capped) before retrying the batch; the sink
    itself never sleeps while holding a write slot.
    """


class WebhookSink:
    """POST batches of export documents to ``url``.

    ``batch_format="array"`` sends a JSON array (``application/json``); ``"jsonl"`` sends JSON
    Lines (``application/x-ndjson``). TLS verification is on by default; ``ca_file`` replaces
    the system trust store (like a kubeconfig's ``certificate-authority``).
    """

    def __init__(
        self,
        url: str,
        *,
        name: str = "webhook",
        headers: Mapping[str, str] | None = None,
        bearer_token_file: Path | None = None,
        timeout: float = 10.0,
        ca_file: Path | None = None,
        client_cert: Path | None = None,
        client_key: Path | None = None,
        insecure_skip_verify: bool = False,
        batch_format: Literal["array", "jsonl"] = "array",
        gzip: bool = False,
        check_on_start: bool = False,
    ) -> None:
        self.url = url
        #: The URL as logs and errors show it.
        self.shown_url = redact_url(url)
        self._name = name
        self._headers = dict(headers or {})
        self._token = (
            SecretFile(bearer_token_file, "bearer_token_file") if bearer_token_file else None
        )
        self._timeout = timeout
        self._ca_file = ca_file
        self._client_cert = client_cert
        self._client_key = client_key
        self._insecure = insecure_skip_verify
        self._format = batch_format
        self._gzip = gzip
        self._check_on_start = check_on_start
        self._session: aiohttp.ClientSession | None = None

    @property
    def name(self) -> str:
        return self._name

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self) -> None:
        if self._session is not None:
            return
        url = self._validate()
        if self._format not in _CONTENT_TYPES:
            raise SinkError(f"unknown batch format {self._format!r}", reason="config")
        if self._timeout <= 0:
            raise SinkError(f"timeout must be positive, got {self._timeout}", reason="config")
        if "@" in url.raw_authority and (
            self._token is not None or any(h.lower() == "authorization" for h in self._headers)
        ):
            # aiohttp sends the userinfo as basic auth and refuses a second Authorization.
            raise SinkError(
                "credentials in the URL and an Authorization header: choose one", reason="config"
            )
        if self._token is not None:
            try:
                self._token.read()
            except (OSError, ValueError) as exc:
                reason = getattr(exc, "strerror", None) or exc
                raise SinkError(
                    f"bearer_token_file {self._token.path}: {reason}", reason="config"
                ) from None
        tls = self._tls_context() if url.scheme == "https" else None
        if url.scheme == "http":
            if self._ca_file or self._client_cert:
                log.warning(
                    "sink %s: TLS settings are ignored for the plain-http %s",
                    self._name,
                    self.shown_url,
                )
            self._warn_plain_credentials()
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=tls if tls is not None else True),
            timeout=aiohttp.ClientTimeout(total=self._timeout),
            headers=self._headers,
        )
        if self._check_on_start:
            try:
                await self._probe()
            except BaseException:
                await self.close()
                raise

    async def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    def _validate(self) -> URL:
        shown = self.shown_url
        try:
            url = URL(self.url)
        except (TypeError, ValueError) as exc:
            reason = redact_text(str(exc).replace(self.url, shown))
            raise SinkError(f"invalid URL {shown!r}: {reason}", reason="config") from None
        if url.scheme not in ("http", "https"):
            raise SinkError(f"URL {shown!r}: scheme must be http or https", reason="config")
        if not url.host:
            raise SinkError(f"URL {shown!r}: no host", reason="config")
        return url

    def _warn_plain_credentials(self) -> None:
        carried = [
            *(["userinfo or a token in the URL"] if url_has_secret(self.url) else []),
            *(["bearer_token_file"] if self._token is not None else []),
            *(f"header {h}" for h in self._headers if looks_secret(h)),
        ]
        if carried:
            log.warning(
                "sink %s: %s goes over plain http to %s: anyone on the path can read it "
                "(use https)",
                self._name,
                ", ".join(carried),
                self.shown_url,
            )

    def _request_headers(self, headers: dict[str, str]) -> dict[str, str]:
        if self._token is not None:
            headers["Authorization"] = "Bearer " + self._token.value()
        return headers

    def _tls_context(self) -> ssl.SSLContext:
        if self._client_key and not self._client_cert:
            raise SinkError("client_key given without client_cert", reason="config")
        try:
            context = ssl.create_default_context(
                cafile=str(self._ca_file) if self._ca_file else None
            )
        except (OSError, ssl.SSLError) as exc:
            raise SinkError(
                f"cannot load ca_file {self._ca_file}: {exc}", reason="tls_config"
            ) from None
        if self._insecure:
            log.warning("sink %s: TLS verification of %s is disabled", self._name, self.shown_url)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        if self._client_cert:
            try:
                context.load_cert_chain(
                    self._client_cert, self._client_key if self._client_key else None
                )
            except (OSError, ssl.SSLError) as exc:
                raise SinkError(
                    f"cannot load client certificate {self._client_cert}: {exc}",
                    reason="tls_config",
                ) from None
        return context

    async def _probe(self) -> None:
        """Check that the receiver answers at all (any status but 401/403 will do)."""
        assert self._session is not None
        shown = self.shown_url
        try:
            async with self._session.head(
                self.url, headers=self._request_headers({}), allow_redirects=False
            ) as response:
                status = response.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            error = _client_error(exc)
            raise SinkError(f"{shown} is not reachable: {error}", reason=error.reason) from None
        if status in (401, 403):
            raise SinkError(
                f"{shown} refused our credentials (HTTP {status})", reason=f"http_{status}"
            )

    # -- writing -------------------------------------------------------------------------------

    async def write(self, batch: Sequence[Occurrence]) -> WriteResult:
        if not batch:
            return WriteResult()
        if self._session is None:
            await self.start()
        rejected: list[Rejected] = []
        await self._send(batch, rejected)
        return WriteResult(rejected)

    async def _send(self, batch: Sequence[Occurrence], rejected: list[Rejected]) -> None:
        status, detail = await self._post(batch)
        if 200 <= status < 300:
            return
        if status == 413 and len(batch) > 1:
            middle = len(batch) // 2
            await self._send(batch[:middle], rejected)
            await self._send(batch[middle:], rejected)
            return
        reason = f"http_{status}"
        log.warning(
            "sink %s: %s refused %d documents with HTTP %d: %s",
            self._name,
            self.shown_url,
            len(batch),
            status,
            detail.strip(),
        )
        rejected.extend(Rejected(occ, reason) for occ in batch)

    async def _post(self, batch: Sequence[Occurrence]) -> tuple[int, str]:
        """POST ``batch``; return a 2xx or permanent-refusal status (and the start of the
        answer's body), raise ``WebhookError`` on retryable ones."""
        assert self._session is not None
        body = encode_body(batch, self._format)
        headers = self._request_headers(
            {
                "Content-Type": _CONTENT_TYPES[self._format],
                "Idempotency-Key": idempotency_key(batch),
            }
        )
        if self._gzip:
            headers["Content-Encoding"] = "gzip"
            if len(body) > _GZIP_INLINE_LIMIT:
                body = await asyncio.to_thread(gzip_body, body)
            else:
                body = gzip_body(body)
        try:
            async with self._session.post(
                self.url, data=body, headers=headers, allow_redirects=False
            ) as response:
                status = response.status
                detail = ""
                if status >= 300:
                    detail = (await response.content.read(_ERROR_BODY_LIMIT)).decode(
                        "utf-8", "replace"
                    )
                else:
                    await response.read()  # let the connection be reused
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise _client_error(exc) from None
        if status < 200 or 300 <= status < 400 or status in _RETRYABLE_4XX or status >= 500:
            message = f"{self.shown_url} answered HTTP {status}"
            if detail:
                message += f": {detail.strip()}"
            if retry_after is not None:
                message += f" (Retry-After {retry_after:g}s)"
            raise WebhookError(
                message,
                reason=f"http_{status}",
                status=status,
                retry_after=retry_after,
                permanent=status in PERMANENT_STATUSES,
            )
        return status, detail


def _client_error(exc: BaseException) -> WebhookError:
    """Map a transport failure to a retryable error with a bounded reason label.

    The library's message can quote the request URL: it is redacted like ours.
    """
    text = redact_text(str(exc))
    if isinstance(exc, TimeoutError):
        return WebhookError(f"timed out: {text or 'no answer in time'}", reason="timeout")
    if isinstance(exc, aiohttp.ClientSSLError):
        return WebhookError(f"TLS error: {text}", reason="tls")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return WebhookError(f"cannot connect: {text}", reason="connect")
    if isinstance(exc, aiohttp.ClientConnectionError):
        return WebhookError(f"connection failed: {text}", reason="connection")
    return WebhookError(f"request failed: {text}", reason="http_client")

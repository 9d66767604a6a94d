"""The webhook sink against a real aiohttp receiver on 127.0.0.1 (plain HTTP and TLS)."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import json
import socket
import ssl
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from multidict import CIMultiDictProxy

from kubevents.export._document import encode_array, encode_lines
from kubevents.export.sinks._base import Sink, SinkError
from kubevents.export.sinks._http import parse_retry_after
from kubevents.export.sinks.webhook import WebhookError, WebhookSink, idempotency_key
from kubevents_testenv import Pki, make_pki

from .._factory import make_batch, make_occurrence
from ..conftest import server_context


@dataclass
class Request:
    method: str
    headers: CIMultiDictProxy[str]
    body: bytes  # as sent on the wire (still compressed, if it was)
    peer_cn: str | None
    status: int = 0  # what the receiver answered

    def documents(self) -> list[dict[str, Any]]:
        data = gzip.decompress(self.body) if self.headers.get("Content-Encoding") else self.body
        if self.headers["Content-Type"] == "application/x-ndjson":
            return [json.loads(line) for line in data.splitlines()]
        docs: list[dict[str, Any]] = json.loads(data)
        return docs


@dataclass
class Receiver:
    """Answers scripted statuses first, then ``decide(documents)`` (200 by default)."""

    url: str = ""
    requests: list[Request] = field(default_factory=list)
    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    decide: Callable[[list[dict[str, Any]]], int] = lambda docs: 200
    hold: asyncio.Event | None = None

    async def handle(self, request: web.Request) -> web.Response:
        peer = request.transport.get_extra_info("peercert") if request.transport else None
        cn = dict(x[0] for x in peer["subject"]).get("commonName") if peer else None
        seen = Request(request.method, request.headers, await request.read(), cn)
        self.requests.append(seen)
        if self.hold is not None:
            await self.hold.wait()
        if request.method != "POST":
            return web.Response(status=200)
        if self.script:
            seen.status, headers = self.script.pop(0)
            return web.Response(status=seen.status, headers=headers, text=f"scripted {seen.status}")
        seen.status = self.decide(seen.documents())
        return web.Response(status=seen.status)

    @property
    def stored_ids(self) -> list[str]:
        return [d["id"] for r in self.requests if r.status == 200 for d in r.documents()]


@asynccontextmanager
async def serve(tls: ssl.SSLContext | None = None) -> AsyncIterator[Receiver]:
    receiver = Receiver()
    app = web.Application()
    app.router.add_route("*", "/hook", receiver.handle)
    # auto_decompress=False: the test checks the gzip body exactly as it was sent.
    runner = web.AppRunner(app, auto_decompress=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=tls)
    await site.start()
    port = runner.addresses[0][1]
    receiver.url = f"{'https' if tls else 'http'}://127.0.0.1:{port}/hook"
    try:
        yield receiver
    finally:
        if receiver.hold is not None:
            receiver.hold.set()
        await runner.cleanup()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with serve() as r:
        yield r


@asynccontextmanager
async def started(sink: WebhookSink) -> AsyncIterator[WebhookSink]:
    await sink.start()
    try:
        yield sink
    finally:
        await sink.close()


def ids_key(ids: list[str]) -> str:
    return hashlib.sha256("".join(f"{i}\n" for i in ids).encode()).hexdigest()


async def test_a_2xx_stores_the_batch_as_a_json_array(receiver: Receiver) -> None:
    batch = make_batch(3)
    headers = {"Authorization": "Bearer s3cret", "X-Tenant": "t1"}
    async with started(WebhookSink(receiver.url, headers=headers)) as sink:
        assert isinstance(sink, Sink) and sink.name == "webhook"
        result = await sink.write(batch)
    assert list(result.rejected) == []
    [request] = receiver.requests
    assert request.body == encode_array(batch)
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Authorization"] == "Bearer s3cret"
    assert request.headers["X-Tenant"] == "t1"
    assert request.headers["Idempotency-Key"] == ids_key(["u0:1", "u1:1", "u2:1"])
    assert request.headers["Idempotency-Key"] == idempotency_key(batch)
    assert [d["id"] for d in request.documents()] == ["u0:1", "u1:1", "u2:1"]


async def test_json_lines_and_gzip(receiver: Receiver) -> None:
    batch = make_batch(2)
    async with started(WebhookSink(receiver.url, batch_format="jsonl", gzip=True)) as sink:
        await sink.write(batch)
    [request] = receiver.requests
    assert request.headers["Content-Type"] == "application/x-ndjson"
    assert request.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(request.body) == encode_lines(batch)


async def test_a_large_gzip_body_is_intact(receiver: Receiver) -> None:
    batch = [make_occurrence(f"u{i}", message="x" * 500) for i in range(200)]  # > 64 KiB
    async with started(WebhookSink(receiver.url, gzip=True)) as sink:
        await sink.write(batch)
    assert gzip.decompress(receiver.requests[0].body) == encode_array(batch)


async def test_503_is_retryable_then_200_stores(receiver: Receiver) -> None:
    receiver.script = [(503, {"Retry-After": "7"})]
    batch = make_batch(2)
    async with started(WebhookSink(receiver.url)) as sink:
        with pytest.raises(SinkError) as caught:
            await sink.write(batch)
        assert caught.value.reason == "http_503"
        assert isinstance(caught.value, WebhookError)
        assert caught.value.retry_after == 7.0 and caught.value.status == 503
        assert "scripted 503" in str(caught.value)
        result = await sink.write(batch)  # the pipeline's retry
    assert list(result.rejected) == []
    first, second = receiver.requests
    assert first.body == second.body
    assert first.headers["Idempotency-Key"] == second.headers["Idempotency-Key"]


@pytest.mark.parametrize("status", [400, 422])
async def test_a_permanent_4xx_rejects_the_whole_batch(receiver: Receiver, status: int) -> None:
    receiver.script = [(status, {})]
    batch = make_batch(3)
    async with started(WebhookSink(receiver.url)) as sink:
        result = await sink.write(batch)
    assert [(r.occurrence.id, r.reason) for r in result.rejected] == [
        (o.id, f"http_{status}") for o in batch
    ]
    assert len(receiver.requests) == 1


@pytest.mark.parametrize("status", [401, 403, 404, 408, 409, 429, 500, 502, 307])
async def test_config_and_transient_answers_are_retried(receiver: Receiver, status: int) -> None:
    receiver.script = [(status, {"Location": receiver.url})]
    async with started(WebhookSink(receiver.url)) as sink:
        with pytest.raises(SinkError) as caught:
            await sink.write(make_batch(1))
    assert caught.value.reason == f"http_{status}"
    assert len(receiver.requests) == 1  # a redirect is not followed


async def test_413_splits_the_batch_in_halves(receiver: Receiver) -> None:
    receiver.decide = lambda docs: 413 if len(docs) > 2 else 200
    batch = make_batch(4)
    async with started(WebhookSink(receiver.url)) as sink:
        result = await sink.write(batch)
    assert list(result.rejected) == []
    assert [len(r.documents()) for r in receiver.requests] == [4, 2, 2]
    assert receiver.stored_ids == ["u0:1", "u1:1", "u2:1", "u3:1"]


async def test_413_rejects_only_what_is_too_large_alone(receiver: Receiver) -> None:
    receiver.decide = lambda docs: 413 if any(d["message"] == "huge" for d in docs) else 200
    batch = make_batch(5)
    batch[3] = make_occurrence("big", message="huge")
    async with started(WebhookSink(receiver.url)) as sink:
        result = await sink.write(batch)
    assert [(r.occurrence.id, r.reason) for r in result.rejected] == [("big:1", "http_413")]
    assert sorted(receiver.stored_ids) == ["u0:1", "u1:1", "u2:1", "u4:1"]


async def test_a_timeout_is_retryable(receiver: Receiver) -> None:
    receiver.hold = asyncio.Event()  # the receiver never answers
    async with started(WebhookSink(receiver.url, timeout=0.2)) as sink:
        with pytest.raises(SinkError) as caught:
            await sink.write(make_batch(1))
    assert caught.value.reason == "timeout"


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


async def test_an_unreachable_receiver() -> None:
    url = f"http://127.0.0.1:{closed_port()}/hook"
    async with started(WebhookSink(url)) as sink:  # not checked at start by default
        with pytest.raises(SinkError) as caught:
            await sink.write(make_batch(1))
        assert caught.value.reason == "connect"
    checked = WebhookSink(url, check_on_start=True)
    with pytest.raises(SinkError) as caught:
        await checked.start()
    assert url in str(caught.value) and caught.value.reason == "connect"
    await checked.close()


async def test_check_on_start_probes_a_live_receiver(receiver: Receiver) -> None:
    async with started(WebhookSink(receiver.url, check_on_start=True)):
        pass
    assert [r.method for r in receiver.requests] == ["HEAD"]


@pytest.mark.parametrize("url", ["ftp://example.com/x", "http://", "not a url", "/relative"])
async def test_a_bad_url_fails_at_start(url: str) -> None:
    sink = WebhookSink(url)
    with pytest.raises(SinkError) as caught:
        await sink.start()
    assert caught.value.reason == "config"


def test_retry_after_parsing() -> None:
    now = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("120", now) == 120.0
    assert parse_retry_after("Wed, 01 May 2024 12:00:30 GMT", now) == 30.0
    assert parse_retry_after("Wed, 01 May 2024 11:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None
    # str.isdigit() accepts both, float() refuses "²": delta-seconds are ASCII digits only.
    assert parse_retry_after("²", now) is None
    assert parse_retry_after("1\u0663", now) is None
    assert parse_retry_after("6 Nov 4 9:3095516160", now) is None  # found by tests/fuzz


# -- TLS ---------------------------------------------------------------------------------------


PKI = Pki


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> PKI:
    return make_pki(tmp_path_factory.mktemp("pki"))


async def test_tls_verification_is_on_by_default(pki: PKI) -> None:
    async with serve(server_context(pki)) as receiver:
        async with started(WebhookSink(receiver.url)) as sink:
            with pytest.raises(SinkError) as caught:
                await sink.write(make_batch(1))
        assert caught.value.reason == "tls"
        assert receiver.requests == []


async def test_tls_with_the_ca_file(pki: PKI) -> None:
    async with serve(server_context(pki)) as receiver:
        async with started(WebhookSink(receiver.url, ca_file=pki.ca)) as sink:
            result = await sink.write(make_batch(2))
        assert list(result.rejected) == [] and receiver.stored_ids == ["u0:1", "u1:1"]
        assert receiver.requests[0].peer_cn is None  # no client certificate was sent


async def test_tls_with_verification_skipped(pki: PKI) -> None:
    async with serve(server_context(pki)) as receiver:
        async with started(WebhookSink(receiver.url, insecure_skip_verify=True)) as sink:
            await sink.write(make_batch(1))
        assert receiver.stored_ids == ["u0:1"]


async def test_tls_client_certificate(pki: PKI) -> None:
    async with serve(server_context(pki, require_client_cert=True)) as receiver:
        async with started(WebhookSink(receiver.url, ca_file=pki.ca)) as anonymous:
            with pytest.raises(SinkError):
                await anonymous.write(make_batch(1))
        sink = WebhookSink(
            receiver.url, ca_file=pki.ca, client_cert=pki.client_cert, client_key=pki.client_key
        )
        async with started(sink):
            await sink.write(make_batch(1))
        assert [r.peer_cn for r in receiver.requests] == ["kubevents-exporter"]


async def test_unreadable_tls_files_fail_at_start(pki: PKI, tmp_path: Path) -> None:
    bad_ca = WebhookSink("https://127.0.0.1:1/hook", ca_file=tmp_path / "missing.pem")
    with pytest.raises(SinkError) as caught:
        await bad_ca.start()
    assert caught.value.reason == "tls_config" and "missing.pem" in str(caught.value)
    bad_pair = WebhookSink(
        "https://127.0.0.1:1/hook", client_cert=pki.client_cert, client_key=pki.server_key
    )
    with pytest.raises(SinkError) as caught:
        await bad_pair.start()
    assert caught.value.reason == "tls_config"

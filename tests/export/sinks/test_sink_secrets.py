"""Credentials of the HTTP sinks never reach a log line or an error, rotate from files, and
trigger a warning when they travel over plain http.

Real aiohttp receivers on 127.0.0.1 stand in for the destinations: what is under test is what
the exporter prints and sends, and a refusing or failing receiver is a fault on demand.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from aiohttp import web

from kubevents.export import AckLog, BatchSettings, EventTracker, ExportMetrics, Pipeline
from kubevents.export.sinks import SearchAuth, SinkError, WebhookSink
from kubevents.export.sinks.elasticsearch._transport import SearchError, Transport
from support import eventually

from ._factory import make_batch

SECRETS = ("hunter2", "s3cret", "h3ader", "t0ken")


def assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} leaked: {text}"


@asynccontextmanager
async def answering(
    statuses: list[int], seen: list[dict[str, str]] | None = None
) -> AsyncIterator[int]:
    """A receiver answering ``statuses`` in turn (then 200); yields its port."""

    async def handle(request: web.Request) -> web.Response:
        if seen is not None:
            seen.append(dict(request.headers))
        await request.read()
        status = statuses.pop(0) if statuses else 200
        return web.Response(status=status, text='{"version":{"number":"8.0.0"}}')

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app, access_log=None)  # the receiver's log is not ours
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield runner.addresses[0][1]
    finally:
        await runner.cleanup()


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def secret_url(port: int) -> str:
    return f"http://user:hunter2@127.0.0.1:{port}/hook?token=s3cret&plain=1"


# -- webhook -----------------------------------------------------------------------------------


async def test_webhook_errors_and_refusals_show_the_url_redacted(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with answering([503, 400]) as port:
        sink = WebhookSink(secret_url(port), headers={"X-Api-Key": "h3ader"})
        await sink.start()
        try:
            with pytest.raises(SinkError) as info:
                await sink.write(make_batch(2))
            assert "http://***@127.0.0.1:" in str(info.value) and "token=***" in str(info.value)
            assert_no_secret(str(info.value))
            result = await sink.write(make_batch(2))  # 400: rejected, with a warning
            assert [r.reason for r in result.rejected] == ["http_400", "http_400"]
        finally:
            await sink.close()
    assert "refused 2 documents" in caplog.text
    assert_no_secret(caplog.text)


async def test_webhook_connection_errors_show_the_url_redacted() -> None:
    sink = WebhookSink(secret_url(closed_port()), check_on_start=True)
    with pytest.raises(SinkError) as info:
        await sink.start()
    assert info.value.reason == "connect"
    assert_no_secret(str(info.value))


async def test_the_pipeline_retry_warning_carries_no_secret(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with answering([503, 503]) as port:
        sink = WebhookSink(secret_url(port), headers={"X-Auth-Token": "h3ader"})
        pipeline = Pipeline(
            [sink],
            EventTracker(),
            AckLog("0"),
            ExportMetrics(),
            BatchSettings(flush_delay=0.01, retry_initial_delay=0.01, retry_max_delay=0.02),
        )
        await sink.start()
        await pipeline.start()
        try:
            batch = make_batch(1)
            pipeline.tracker.decide(batch[0].uid, batch[0].count)
            await pipeline.submit(batch[0], "1")
            await eventually(lambda: pipeline.acknowledged == 1, "the retried batch")
        finally:
            await pipeline.stop()
            await sink.close()
    retries = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
    assert len(retries) == 2 and "HTTP 503" in retries[0]
    assert_no_secret(caplog.text)


def _write_token(path: Path, value: str) -> None:
    # Rotated the way kubelet updates a mounted Secret: a new file renamed over the old one.
    tmp = path.with_name(path.name + ".new")
    tmp.write_text(value + "\n")
    os.replace(tmp, path)


async def test_webhook_bearer_token_file_is_reread_when_rotated(tmp_path: Path) -> None:
    token = tmp_path / "token"
    _write_token(token, "t0ken-one")
    seen: list[dict[str, str]] = []
    async with answering([], seen) as port:
        sink = WebhookSink(f"http://127.0.0.1:{port}/hook", bearer_token_file=token)
        await sink.start()
        try:
            await sink.write(make_batch(1))
            _write_token(token, "t0ken-two")
            await sink.write(make_batch(1, start=1))
        finally:
            await sink.close()
    assert [h["Authorization"] for h in seen] == ["Bearer t0ken-one", "Bearer t0ken-two"]


async def test_an_unreadable_bearer_token_file_fails_the_start(tmp_path: Path) -> None:
    sink = WebhookSink("https://hooks.example/", bearer_token_file=tmp_path / "missing")
    with pytest.raises(SinkError) as info:
        await sink.start()
    assert info.value.reason == "config" and "bearer_token_file" in str(info.value)


@pytest.mark.parametrize(
    ("make", "carried"),
    [
        (lambda p, f: WebhookSink(secret_url(p)), "userinfo or a token in the URL"),
        (
            lambda p, f: WebhookSink(f"http://127.0.0.1:{p}/", headers={"Authorization": "x"}),
            "header Authorization",
        ),
        (lambda p, f: WebhookSink(f"http://127.0.0.1:{p}/", bearer_token_file=f), "bearer_token"),
    ],
    ids=["userinfo", "header", "token-file"],
)
async def test_credentials_over_plain_http_are_warned_about_once(
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    make: Callable[[int, Path], WebhookSink],
    carried: str,
) -> None:
    token = tmp_path / "token"
    _write_token(token, "t0ken")
    sink = make(closed_port(), token)
    await sink.start()
    await sink.close()
    warnings = [r.getMessage() for r in caplog.records if "plain http" in r.getMessage()]
    assert len(warnings) == 1 and carried in warnings[0]
    assert_no_secret(caplog.text)


async def test_no_warning_without_credentials(caplog: pytest.LogCaptureFixture) -> None:
    sink = WebhookSink(f"http://127.0.0.1:{closed_port()}/hook?page=1")
    await sink.start()
    await sink.close()
    assert "plain http" not in caplog.text


# -- Elasticsearch / OpenSearch transport --------------------------------------------------------


async def test_search_hosts_are_redacted_in_errors_and_logs(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    async with answering([503]) as port:
        hosts = [f"http://elastic:hunter2@127.0.0.1:{closed_port()}", secret_url(port)]
        transport = Transport(hosts, SearchAuth(), timeout=5, compress=False, name="es")
        await transport.open()
        try:
            with pytest.raises(SearchError) as info:
                await transport.request("GET", "/")
            response = await transport.request("GET", "/")  # the second answer is a 200
        finally:
            await transport.close()
    assert "all 2 hosts failed" in str(info.value) and "http://***@127.0.0.1" in str(info.value)
    assert_no_secret(str(info.value))
    assert response.status == 200 and response.host.startswith("http://***@127.0.0.1:")
    assert "trying the next host" in caplog.text and "credentials go over plain http" in caplog.text
    assert_no_secret(caplog.text)


async def test_search_credential_files_are_reread_when_rotated(tmp_path: Path) -> None:
    password = tmp_path / "password"
    _write_token(password, "hunter2-one")
    seen: list[dict[str, str]] = []
    async with answering([], seen) as port:
        auth = SearchAuth(username="kubevents", password_file=password)
        transport = Transport(
            [f"http://127.0.0.1:{port}"], auth, timeout=5, compress=False, name="es"
        )
        await transport.open()
        try:
            await transport.request("GET", "/")
            _write_token(password, "hunter2-two")
            await transport.request("GET", "/")
        finally:
            await transport.close()
    expected = [
        SearchAuth(username="kubevents", password=p).authorization()
        for p in ("hunter2-one", "hunter2-two")
    ]
    assert [h["Authorization"] for h in seen] == expected


async def test_an_unreadable_search_credential_file_fails_the_start(tmp_path: Path) -> None:
    auth = SearchAuth(api_key_file=tmp_path / "missing")
    transport = Transport(["https://es:9200"], auth, timeout=5, compress=False, name="es")
    with pytest.raises(SinkError) as info:
        await transport.open()
    assert info.value.reason == "config" and "api_key_file" in str(info.value)


def test_search_auth_repr_hides_secrets() -> None:
    auth = SearchAuth(username="u", password="hunter2", headers={"X-Key": "h3ader"})
    assert_no_secret(repr(auth))


async def test_userinfo_and_an_authorization_header_are_refused_at_start() -> None:
    sink = WebhookSink(secret_url(closed_port()), headers={"authorization": "Bearer h3ader"})
    with pytest.raises(SinkError) as info:
        await sink.start()
    assert info.value.reason == "config"
    assert_no_secret(str(info.value))

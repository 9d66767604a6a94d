"""Watch decoding faults a real server cannot produce on demand, from a scripted fake server."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web

from kubevents.errors import GoneError, StatusError, TransportError, UnexpectedObjectError
from kubevents.kube import ADDED, BOOKMARK, ConfigError, KubeClient

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def line(kind: str, obj: object) -> bytes:
    return json.dumps({"type": kind, "object": obj}).encode() + b"\n"


def event(name: str, rv: str) -> dict[str, object]:
    return {
        "metadata": {"name": name, "namespace": "ns", "resourceVersion": rv},
        "involvedObject": {"kind": "Pod", "name": "p"},
        "count": 1,
        "reason": "R",
    }


@pytest.fixture
async def fake_server() -> AsyncIterator[Callable[[Handler], Awaitable[KubeClient]]]:
    runners: list[web.AppRunner] = []
    clients: list[KubeClient] = []

    async def start(handler: Handler) -> KubeClient:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        client = await KubeClient.connect(url=f"http://127.0.0.1:{port}", token="t")
        clients.append(client)
        return client

    yield start
    for client in clients:
        await client.close()
    for runner in runners:
        await runner.cleanup()


def streaming(*chunks: bytes) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse()
        response.content_type = "application/json"
        await response.prepare(request)
        for chunk in chunks:
            await response.write(chunk)
        await response.write_eof()
        return response

    return handler


async def test_malformed_lines_are_logged_counted_and_skipped(
    fake_server: Callable[[Handler], Awaitable[KubeClient]], caplog: pytest.LogCaptureFixture
) -> None:
    good = line(ADDED, event("a", "10"))
    # An object whose count is a string: the resourceVersion is still read so resume skips it.
    bad_object = line(ADDED, {**event("b", "11"), "count": "seven"})
    not_json = b"{this is not json\n"
    # Split one valid line across chunks to prove reassembly.
    tail = line(ADDED, event("c", "12"))
    client = await fake_server(
        streaming(good + bad_object, not_json + tail[:17], tail[17:], b'{"type":"ADDED","obj')
    )
    caplog.set_level(logging.WARNING)
    async with await client.events.watch(resource_version="9", timeout_seconds=5) as stream:
        names = [ev.object.name async for ev in stream if ev.object is not None]
    assert names == ["a", "c"]
    assert stream.malformed == 3  # bad object, not JSON, torn last line
    assert stream.received == 2
    assert stream.resource_version == "12"
    assert sum("malformed watch line" in r.message for r in caplog.records) == 3


async def test_a_skipped_object_still_advances_the_resource_version(
    fake_server: Callable[[Handler], Awaitable[KubeClient]],
) -> None:
    client = await fake_server(streaming(line(ADDED, {**event("b", "11"), "count": "x"})))
    async with await client.events.watch(resource_version="9", timeout_seconds=5) as stream:
        assert [ev async for ev in stream] == []
    assert stream.resource_version == "11"


async def test_error_line_410_raises_gone(
    fake_server: Callable[[Handler], Awaitable[KubeClient]],
) -> None:
    status = {
        "kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 410,
        "reason": "Expired", "message": "too old resource version: 1 (5)",
    }  # fmt: skip
    client = await fake_server(streaming(line(ADDED, event("a", "10")), line("ERROR", status)))
    stream = aiter(await client.events.watch(resource_version="1", timeout_seconds=5))
    assert (await anext(stream)).type == ADDED
    with pytest.raises(GoneError) as info:
        await anext(stream)
    assert (info.value.code, info.value.reason) == (410, "Expired")
    assert "too old" in info.value.message


async def test_bookmarks_advance_the_resource_version(
    fake_server: Callable[[Handler], Awaitable[KubeClient]],
) -> None:
    bookmark = {
        "kind": "Event", "apiVersion": "v1",
        "metadata": {"resourceVersion": "99", "annotations": {"k8s.io/initial-events-end": "true"}},
    }  # fmt: skip
    client = await fake_server(streaming(line(BOOKMARK, bookmark)))
    async with await client.events.watch(resource_version="1", timeout_seconds=5) as stream:
        events = [ev async for ev in stream]
    assert [(e.type, e.resource_version, e.object) for e in events] == [(BOOKMARK, "99", None)]
    assert events[0].is_initial_events_end
    assert stream.resource_version == "99"


async def test_http_errors_map_to_status_errors(
    fake_server: Callable[[Handler], Awaitable[KubeClient]],
) -> None:
    async def handler(request: web.Request) -> web.Response:
        if request.method == "PATCH":
            return web.Response(status=503, text="<html>upstream down</html>")
        if request.method == "POST":
            return web.json_response({"kind": "Pod", "metadata": {}})
        status = {"kind": "Status", "code": 429, "reason": "TooManyRequests", "message": "slow"}
        return web.json_response(status, status=429)

    client = await fake_server(handler)
    with pytest.raises(StatusError) as info:
        await client.events.get("ns", "x")
    assert (info.value.code, info.value.reason, info.value.message) == (
        429, "TooManyRequests", "slow",
    )  # fmt: skip
    with pytest.raises(StatusError) as info:
        await client.events.patch("ns", "x", {"count": 2})
    assert info.value.code == 503 and "upstream down" in info.value.message
    # A 2xx body that is not an Event is an UnexpectedObjectError (retried by the recorder).
    from kubevents.model import Event, ObjectMeta

    with pytest.raises(UnexpectedObjectError):
        await client.events.create(Event(metadata=ObjectMeta(name="x", namespace="ns")))


async def test_connection_refused_is_a_transport_error() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    async with await KubeClient.connect(url=f"http://127.0.0.1:{port}") as client:
        with pytest.raises(TransportError):
            await client.events.get("ns", "x")


async def test_missing_kubeconfig_is_a_config_error(tmp_path: object) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        await KubeClient.connect(f"{tmp_path}/nope")

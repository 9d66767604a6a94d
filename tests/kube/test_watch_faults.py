"""Watch decoding faults a real server cannot produce on demand, from a scripted fake server."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web

from kubevents.errors import GoneError, StatusError, TransportError, UnexpectedObjectError
from kubevents.kube import ADDED, BOOKMARK, ConfigError, KubeClient, WatchStream
from kubevents.kube._transport import READ_BUFSIZE
from kubevents.model import Event

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


async def test_a_line_in_many_chunks_is_joined_and_one_without_end_is_bounded(
    fake_server: Callable[[Handler], Awaitable[KubeClient]], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("kubevents.kube._watch.MAX_LINE_BYTES", 4000)
    long = line(ADDED, {**event("long", "10"), "message": "m" * 3000})
    pieces = [long[i : i + 100] for i in range(0, len(long), 100)]
    endless = [b'{"type":"ADDED","object":{"message":"', *([b"x" * 500] * 20)]
    client = await fake_server(streaming(*pieces, line(ADDED, event("b", "11")), *endless))
    names: list[str] = []

    async def read(stream: WatchStream[Event]) -> None:
        async for ev in stream:
            assert ev.object is not None
            names.append(ev.object.name)

    async with await client.events.watch(resource_version="9", timeout_seconds=5) as stream:
        with pytest.raises(TransportError, match="longer than 4000 bytes"):
            await read(stream)
    assert names == ["long", "b"] and stream.malformed == 1


async def test_a_line_longer_than_the_read_buffer_arrives_whole(
    fake_server: Callable[[Handler], Awaitable[KubeClient]],
) -> None:
    # aiohttp stops reading the socket at twice the transport's buffer: a longer line comes in
    # several reads, paused in between, and must still be joined into one object.
    size = 3 * READ_BUFSIZE
    big = line(ADDED, {**event("big", "10"), "message": "m" * size})
    client = await fake_server(streaming(big + line(ADDED, event("after", "11"))))
    got: list[tuple[str, int]] = []
    async with await client.events.watch(resource_version="9", timeout_seconds=5) as stream:
        async for ev in stream:
            assert ev.object is not None
            got.append((ev.object.name, len(ev.object.message or "")))
    assert got == [("big", size), ("after", 0)] and stream.malformed == 0


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
        429,
        "TooManyRequests",
        "slow",
    )
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


# -- input that used to escape the decoders ----------------------------------------------------

DEEP = b"[" * 3000 + b"]" * 3000  # deeper than the interpreter's recursion limit


def with_field(obj: dict[str, object], key: str, value: bytes) -> bytes:
    """``obj`` as JSON with ``key`` set to the raw JSON ``value`` (which json.dumps cannot make)."""
    return json.dumps(obj).encode()[:-1] + b', "%s": %s}' % (key.encode(), value)


BAD_OBJECTS = {
    "invalid UTF-8 in a field": with_field(event("x", "11"), "reason", b'"\xff"'),
    "nesting in an unknown field": with_field(event("x", "11"), "extra", DEEP),
    "time past year 9999 in UTC": with_field(
        event("x", "11"), "lastTimestamp", b'"9999-12-31T23:59:59-01:00"'
    ),
    "time before year 1 in UTC": with_field(
        event("x", "11"), "firstTimestamp", b'"0001-01-01T00:00:00+01:00"'
    ),
    "count beyond int64": with_field(event("x", "11"), "count", b"9223372036854775808"),
    "count beyond int32": with_field(event("x", "11"), "count", b"2147483648"),
}


@pytest.mark.parametrize(
    "bad",
    [
        *(b'{"type":"ADDED","object":%s}\n' % obj for obj in BAD_OBJECTS.values()),
        b'{"type":"ADD\xffED","object":{}}\n',  # invalid UTF-8 in the envelope
        b'{"type":"ADDED","object":{},"x":%s}\n' % DEEP,  # nesting in the envelope
        b'{"type":"BOOKMARK","object":{"metadata":{"x":%s}}}\n' % DEEP,
        b'{"type":"ERROR","object":{"kind":"Status","details":%s}}\n' % DEEP,
    ],
    ids=[*BAD_OBJECTS, "utf8 envelope", "nested envelope", "nested bookmark", "nested error"],
)
async def test_bad_watch_lines_are_counted_and_skipped(
    fake_server: Callable[[Handler], Awaitable[KubeClient]], bad: bytes
) -> None:
    client = await fake_server(streaming(bad, line(ADDED, event("good", "12"))))
    async with await client.events.watch(resource_version="9", timeout_seconds=5) as stream:
        names = [ev.object.name async for ev in stream if ev.object is not None]
    assert names == ["good"]
    assert stream.malformed == 1
    assert stream.resource_version == "12"


@pytest.mark.parametrize(
    "status",
    [
        b'{"kind":"Status","code":"abc","message":"odd"}',
        b'{"kind":"Status","code":1.5,"message":"odd"}',
        b'{"kind":"Status","code":true,"message":"odd"}',
        b'{"kind":"Status","code":99999999999999999999,"message":"odd"}',
        b'{"kind":"Status","message":["not","a","string"],"details":{"causes":7}}',
        b'{"kind":"Status","code":410,"message":"\xff"}',
    ],
    ids=["code abc", "code float", "code bool", "code huge", "odd types", "utf8"],
)
async def test_an_unreadable_error_line_is_a_status_error(
    fake_server: Callable[[Handler], Awaitable[KubeClient]], status: bytes
) -> None:
    client = await fake_server(streaming(b'{"type":"ERROR","object":%s}\n' % status))
    stream = aiter(await client.events.watch(resource_version="1", timeout_seconds=5))
    with pytest.raises(StatusError) as info:
        await anext(stream)
    # Without a usable code the watch failed for a reason the client cannot read: a 500.
    assert info.value.code == 500
    assert info.value.causes == [] and not info.value.has_cause("x")


@pytest.mark.parametrize(
    "body",
    [
        b'{"kind":"Status","code":"abc","reason":"TooManyRequests","message":"slow"}',
        b'{"kind":"Status","code":429,"message":"sl\xffow"}',
        b'{"kind":"Status","code":429,"details":{"causes":%s}}' % DEEP,
    ],
    ids=["code abc", "utf8", "nested"],
)
async def test_an_unreadable_error_body_is_a_status_error_with_the_http_code(
    fake_server: Callable[[Handler], Awaitable[KubeClient]], body: bytes
) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(status=503, body=body, content_type="application/json")

    client = await fake_server(handler)
    with pytest.raises(StatusError) as info:
        await client.events.get("ns", "x")
    assert info.value.code == 503


def list_page(*items: bytes, metadata: bytes = b'{"resourceVersion":"7"}') -> bytes:
    return b'{"kind":"EventList","metadata":%s,"items":[%s]}' % (metadata, b",".join(items))


async def test_bad_list_items_are_counted_and_skipped(
    fake_server: Callable[[Handler], Awaitable[KubeClient]], caplog: pytest.LogCaptureFixture
) -> None:
    good = json.dumps(event("good", "5")).encode()
    # Last, a time the decoder's error message quotes: huge, with a terminal escape sequence.
    quoted = b'{"lastTimestamp":"\\u001b]0;owned\\u0007%s"}' % (b"x" * 100_000)
    body = list_page(good, *BAD_OBJECTS.values(), quoted)

    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    client = await fake_server(handler)
    caplog.set_level(logging.WARNING)
    page = await client.events.list()
    assert [e.name for e in page.items] == ["good"] and page.raw_items == [good]
    assert page.malformed == len(BAD_OBJECTS) + 1
    assert page.resource_version == "7"
    # Bounded, and no raw control character from the input reaches a log line.
    for record in caplog.records:
        text = record.getMessage()
        assert len(text) < 700 and "\x1b" not in text and "\x07" not in text


@pytest.mark.parametrize(
    "body",
    [
        list_page(metadata=b'{"resourceVersion":"7","continue":"\xff"}'),
        list_page(metadata=b'{"resourceVersion":"7","x":%s}' % DEEP),
        b'{"kind":"EventList","items":[%s' % DEEP[:3000],
    ],
    ids=["utf8 continue", "nested metadata", "nested and torn"],
)
async def test_an_unreadable_list_page_is_an_unexpected_object_error(
    fake_server: Callable[[Handler], Awaitable[KubeClient]], body: bytes
) -> None:
    async def handler(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    client = await fake_server(handler)
    with pytest.raises(UnexpectedObjectError):
        await client.events.list()

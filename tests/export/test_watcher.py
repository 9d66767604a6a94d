"""The list-watch loop against a scripted API: 410, expiry, malformed objects, errors."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from kubevents.export import (
    AckLog,
    BatchSettings,
    EventFields,
    EventTracker,
    ExportMetrics,
    ListWatchSettings,
    ListWatchSource,
    Pipeline,
    Transforms,
)
from kubevents.export import _source as source_module
from kubevents.export.sinks import Sink
from kubevents.export.sinks.sqlite import SQLiteSink
from kubevents.kube import KubeClient
from support import eventually

from .fake_apiserver import FakeAPIServer, WatchScript, event_object, gone, line, serve
from .memory_sink import MemorySink


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(source_module, "BACKOFF_INITIAL", 0.01)
    monkeypatch.setattr(source_module, "BACKOFF_MAX", 0.02)


class Harness:
    def __init__(
        self,
        client: KubeClient,
        rules: Callable[..., str | None] | None = None,
        more_sinks: Sequence[Sink] = (),
    ) -> None:
        self.sink = MemorySink()
        self.metrics = ExportMetrics()
        self.pipeline = Pipeline(
            [self.sink, *more_sinks],
            EventTracker(),
            AckLog(None),
            self.metrics,
            BatchSettings(flush_delay=0.01),
        )
        transforms = Transforms(
            self.pipeline.submit,
            self.pipeline.tracker,
            self.metrics,
            cluster="test",
            rules=rules,
        )
        self.watcher = ListWatchSource(
            client,
            transforms,
            self.metrics,
            settings=ListWatchSettings(page_size=2, watch_timeout=60),
        )
        self.task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> Harness:
        return await self.start(None)

    async def start(self, resource_version: str | None) -> Harness:
        await self.pipeline.start()
        self.task = asyncio.create_task(self.watcher.run(resource_version))
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.task is not None
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        await self.pipeline.stop()

    async def until(self, condition: Callable[[], bool], what: str) -> None:
        await eventually(condition, f"{what} (stored: {sorted(self.sink.stored)})")

    def value(self, metric: str, *labels: str) -> float:
        m = getattr(self.metrics, metric)
        return float((m.labels(*labels) if labels else m)._value.get())


@pytest.fixture
async def api() -> AsyncIterator[tuple[FakeAPIServer, KubeClient]]:
    server = FakeAPIServer()
    gen = serve(server)
    client = await anext(gen)
    yield server, client
    with contextlib.suppress(StopAsyncIteration):
        await anext(gen)


async def test_relist_after_410_reconciles_without_gap_or_duplicate(
    api: tuple[FakeAPIServer, KubeClient],
) -> None:
    server, client = api
    before = [event_object("a", 1, 10), event_object("b", 1, 11), event_object("c", 2, 12)]
    # While the watch was gone, "a" reached 4 and "d" appeared; "b" and "c" did not change.
    after = [
        event_object("a", 4, 20), event_object("b", 1, 11), event_object("c", 2, 12),
        event_object("d", 1, 21),
    ]  # fmt: skip
    server.list_states = [(before, 12), (after, 21)]
    server.watches = [
        WatchScript([line("MODIFIED", event_object("a", 2, 13)), gone()]),
        WatchScript(hold=True),
    ]
    async with Harness(client) as h:
        await h.until(lambda: "d:1" in h.sink.stored, "the relisted new event")
        await h.until(lambda: h.pipeline.acklog.resource_version == "21", "the checkpoint")
    assert sorted(h.sink.stored) == ["a:1", "a:2", "a:4", "b:1", "c:2", "d:1"]
    assert h.sink.duplicates == 0
    assert h.value("count_gaps") == 1  # a:3 was never shown to us
    assert h.value("relists", "gone") == 1
    assert server.list_calls() == 2


async def test_a_watch_that_closes_at_once_is_treated_as_expired(
    api: tuple[FakeAPIServer, KubeClient],
) -> None:
    server, client = api
    server.objects = [event_object("a", 1, 5)]
    server.list_rv = 5
    server.watches = [WatchScript(), WatchScript(hold=True)]  # first: empty, closes at once
    async with Harness(client) as h:
        await h.until(lambda: server.list_calls() == 2, "a relist")
        await h.until(lambda: h.watcher.watching, "the second watch")
        await h.until(lambda: "a:1" in h.sink.stored, "the listed event")
    assert h.value("relists", "expired") == 1
    assert list(h.sink.stored) == ["a:1"]  # the relist found nothing new


async def test_a_clean_watch_end_resumes_from_the_last_resource_version(
    api: tuple[FakeAPIServer, KubeClient],
) -> None:
    server, client = api
    server.list_rv = 5
    bookmark = {"kind": "Event", "apiVersion": "v1", "metadata": {"resourceVersion": "9"}}
    server.watches = [
        WatchScript([line("ADDED", event_object("a", 1, 7)), line("BOOKMARK", bookmark)]),
        WatchScript(hold=True),
    ]
    async with Harness(client) as h:
        await h.until(lambda: len([r for r in server.requests if r[0] == "watch"]) == 2, "rewatch")
    watches = [q for kind, q in server.requests if kind == "watch"]
    assert [q["resourceVersion"] for q in watches] == ["5", "9"]
    assert watches[0]["allowWatchBookmarks"] == "true"
    assert server.list_calls() == 1


async def test_malformed_objects_and_deletions_are_skipped(
    api: tuple[FakeAPIServer, KubeClient],
) -> None:
    server, client = api
    server.objects = [event_object("a", 1, 5)]
    server.raw_list_items = [json.dumps({**event_object("x", 1, 6), "count": "many"}).encode()]
    server.list_rv = 6
    server.watches = [
        WatchScript([
            b'{"type":"ADDED","object":{not json}\n',
            line("DELETED", event_object("a", 1, 8)),
            line("ADDED", {**event_object("y", 1, 9), "metadata": {"resourceVersion": "9"}}),
            line("ADDED", event_object("b", 1, 10)),
        ], hold=True),
    ]  # fmt: skip
    async with Harness(client) as h:
        await h.until(lambda: "b:1" in h.sink.stored, "the valid event after the bad ones")
        await h.until(lambda: h.pipeline.acklog.resource_version == "10", "the checkpoint")
    assert sorted(h.sink.stored) == ["a:1", "b:1"]
    assert h.value("malformed", "list") == 1  # the bad list item
    assert h.value("malformed", "watch") == 1  # the bad watch line
    assert h.value("malformed", "occurrence") == 1  # the Event without uid


async def test_watch_errors_back_off_and_retry_the_same_resource_version(
    api: tuple[FakeAPIServer, KubeClient],
) -> None:
    server, client = api
    server.list_rv = 5
    server.watches = [WatchScript(http_status=500), WatchScript(http_status=503),
                      WatchScript([line("ADDED", event_object("a", 1, 6))], hold=True)]  # fmt: skip
    async with Harness(client) as h:
        await h.until(lambda: "a:1" in h.sink.stored, "the event after the errors")
    watches = [q["resourceVersion"] for kind, q in server.requests if kind == "watch"]
    assert watches == ["5", "5", "5"]
    assert server.list_calls() == 1
    assert h.value("watch_restarts", "error") == 2


async def test_received_counts_every_notification_while_the_watch_is_open(
    api: tuple[FakeAPIServer, KubeClient],
) -> None:
    # Counted per chunk of the stream, not per notification: the count must still be exact
    # whenever the stream waits for more (here: held open after three notifications).
    server, client = api
    server.list_rv = 5
    server.watches = [WatchScript([
        line("ADDED", event_object("a", 1, 6)), line("MODIFIED", event_object("a", 2, 7)),
        line("ADDED", event_object("b", 1, 8)),
    ], hold=True)]  # fmt: skip
    async with Harness(client) as h:
        await h.until(lambda: "b:1" in h.sink.stored, "the third notification stored")
        assert h.value("received", "watch") == 3
        assert h.value("received", "list") == 0


async def test_rules_drop_without_blocking_the_checkpoint(
    api: tuple[FakeAPIServer, KubeClient],
) -> None:
    server, client = api
    server.objects = [event_object("a", 1, 5, namespace="kube-system"), event_object("b", 1, 6)]
    server.list_rv = 6

    def drop(event: EventFields) -> str | None:
        return "system" if event.metadata.namespace == "kube-system" else None

    async with Harness(client, rules=drop) as h:
        await h.until(lambda: h.pipeline.acklog.resource_version == "6", "the checkpoint")
    assert list(h.sink.stored) == ["b:1"]
    assert h.value("filtered", "system") == 1


async def test_a_checkpoint_ahead_of_the_server_relists(
    api: tuple[FakeAPIServer, KubeClient],
) -> None:
    # A rebuilt cluster: its revisions restarted below the saved resume point.
    server, client = api
    server.objects = [event_object("a", 1, 5)]
    server.list_rv = 5
    h = Harness(client)
    await h.start("99999")
    try:
        await h.until(lambda: "a:1" in h.sink.stored, "the relisted event")
    finally:
        await h.__aexit__()
    watches = [q["resourceVersion"] for kind, q in server.requests if kind == "watch"]
    assert watches[0] == "5"


async def test_a_valid_checkpoint_resumes_the_watch_without_listing(
    api: tuple[FakeAPIServer, KubeClient],
) -> None:
    server, client = api
    server.list_rv = 50
    server.watches = [WatchScript([line("MODIFIED", event_object("a", 3, 51))], hold=True)]
    h = Harness(client)
    await h.start("40")
    try:
        await h.until(lambda: "a:3" in h.sink.stored, "the resumed change")
    finally:
        await h.__aexit__()
    watches = [q["resourceVersion"] for kind, q in server.requests if kind == "watch"]
    assert watches == ["40"]
    assert server.list_calls() == 1  # only the cheap limit=1 check, no relist
    assert h.value("relists", "checkpoint") == 0


# -- bad input never stops the loop ------------------------------------------------------------


async def test_a_list_item_with_an_out_of_range_time_is_skipped(
    api: tuple[FakeAPIServer, KubeClient],
) -> None:
    # Python cannot represent this instant in UTC; it used to end the watcher at every LIST.
    server, client = api
    bad = {**event_object("x", 1, 6), "lastTimestamp": "9999-12-31T23:59:59-01:00"}
    server.objects = [event_object("a", 1, 5), bad, event_object("b", 1, 7)]
    server.list_rv = 7
    async with Harness(client) as h:
        await h.until(lambda: h.pipeline.acklog.resource_version == "7", "the checkpoint")
    assert sorted(h.sink.stored) == ["a:1", "b:1"]
    assert h.value("malformed", "list") == 1


async def test_an_error_line_with_an_unreadable_code_backs_off_and_rewatches(
    api: tuple[FakeAPIServer, KubeClient],
) -> None:
    server, client = api
    server.list_rv = 5
    status = {"kind": "Status", "code": "abc", "message": "odd"}
    server.watches = [
        WatchScript([line("ERROR", status)]),
        WatchScript([line("ADDED", event_object("a", 1, 6))], hold=True),
    ]
    async with Harness(client) as h:
        await h.until(lambda: "a:1" in h.sink.stored, "the event after the error")
    watches = [q["resourceVersion"] for kind, q in server.requests if kind == "watch"]
    assert watches == ["5", "5"]
    assert h.value("watch_restarts", "error") == 1


async def test_an_unexpected_error_is_logged_counted_and_retried(
    api: tuple[FakeAPIServer, KubeClient],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    server, client = api
    server.list_rv = 5
    server.watches = [WatchScript([line("ADDED", event_object("a", 1, 6))], hold=True)]
    real_watch = client.events.decoding(EventFields).watch
    failures = 2

    async def failing_watch(*args: Any, **kwargs: Any) -> Any:
        nonlocal failures
        if failures:
            failures -= 1
            raise RuntimeError("a bug nobody foresaw")
        return await real_watch(*args, **kwargs)

    monkeypatch.setattr(client.events.decoding(EventFields), "watch", failing_watch)
    async with Harness(client) as h:
        await h.until(lambda: "a:1" in h.sink.stored, "the event after the errors")
    # Cancellation still ends the loop: it is not an error to retry.
    assert h.task is not None and h.task.cancelled()
    assert h.value("watch_restarts", "unexpected") == 2
    logged = [r for r in caplog.records if r.levelno == logging.ERROR and r.exc_info]
    assert len(logged) == 2
    assert all(isinstance(r.exc_info[1], RuntimeError) for r in logged if r.exc_info)


async def test_an_event_the_exporter_cannot_handle_is_skipped(
    api: tuple[FakeAPIServer, KubeClient],
) -> None:
    server, client = api
    server.objects = [event_object("a", 1, 5), event_object("b", 1, 6)]
    server.list_rv = 6

    def drop(event: Any) -> str | None:
        if event.metadata.uid == "a":
            raise ValueError("a rule that fails on this event")
        return None

    async with Harness(client, rules=drop) as h:
        await h.until(lambda: h.pipeline.acklog.resource_version == "6", "the checkpoint")
    assert list(h.sink.stored) == ["b:1"]
    assert h.value("malformed", "occurrence") == 1


async def test_an_out_of_range_count_never_reaches_the_store(
    api: tuple[FakeAPIServer, KubeClient], tmp_path: Path
) -> None:
    # Kubernetes counts are int32; 2**63 used to fail every insert of its batch, for ever.
    server, client = api
    server.list_rv = 5
    huge = {**event_object("x", 1, 6), "count": 2**63}
    server.watches = [
        WatchScript([line("ADDED", huge), line("ADDED", event_object("b", 1, 7))], hold=True)
    ]
    store = SQLiteSink(tmp_path / "events.db", retention_days=None)
    await store.start()
    try:
        async with Harness(client, more_sinks=[store]) as h:
            await h.until(lambda: h.pipeline.acklog.resource_version == "7", "the checkpoint")
    finally:
        await store.close()
    assert list(h.sink.stored) == ["b:1"]
    assert h.value("malformed", "watch") == 1


async def test_an_event_dated_outside_the_time_window_is_filed_at_a_sane_time(
    api: tuple[FakeAPIServer, KubeClient],
) -> None:
    server, client = api
    now = datetime.now(UTC).replace(microsecond=0)
    created = {"creationTimestamp": f"{now:%Y-%m-%dT%H:%M:%SZ}"}
    future = event_object("f", 1, 5)
    future["metadata"] |= created
    future["lastTimestamp"] = "9999-12-31T23:59:59Z"
    past = event_object("p", 1, 6)  # no creationTimestamp: filed at the edge of the window
    past["firstTimestamp"] = past["lastTimestamp"] = "0001-01-01T00:00:01Z"
    normal = event_object("n", 1, 7)
    normal["lastTimestamp"] = created["creationTimestamp"]
    server.objects = [future, past, normal]
    server.list_rv = 7
    async with Harness(client) as h:
        await h.until(lambda: len(h.sink.stored) == 3, "the three events")
    far, old, usual = (h.sink.stored[k] for k in ("f:1", "p:1", "n:1"))
    assert far.time == datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC)  # the original time
    assert far.filing_time == now  # its creation, which the API server sets
    assert old.time == datetime(1, 1, 1, 0, 0, 1, tzinfo=UTC)
    edge = old.filing_time - (datetime.now(UTC) - timedelta(days=30))
    assert timedelta(seconds=-60) < edge <= timedelta(0)
    assert usual.filing_time == usual.time == now
    assert h.value("clamped", "future") == 1
    assert h.value("clamped", "past") == 1


@pytest.mark.parametrize("saved", ["1" * 5000, "²"], ids=["past int() limit", "unicode digit"])
async def test_an_odd_checkpoint_resource_version_is_not_a_crash(
    api: tuple[FakeAPIServer, KubeClient], saved: str
) -> None:
    # Both pass str.isdigit(), and int() refuses both.
    server, client = api
    server.list_rv = 50
    server.watches = [WatchScript([line("MODIFIED", event_object("a", 3, 51))], hold=True)]
    h = Harness(client)
    await h.start(saved)
    try:
        await h.until(lambda: "a:3" in h.sink.stored, "the watched change")
    finally:
        await h.__aexit__()

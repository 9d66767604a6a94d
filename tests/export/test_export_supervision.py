"""No silent stall: the checkpoint loop, the writes and the dead letters, on the real cluster."""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import pytest

from kubevents.export import ConfigError, EventTracker, Exporter, Occurrence
from kubevents.export.sinks import Rejected, WriteResult
from kubevents.kube import KubeClient
from kubevents_testenv import LocalCluster
from kubevents_testenv.workload import record_flood

from .cluster_support import config, run_exporter, server_counts, wait_for
from .memory_sink import MemorySink

pytestmark = pytest.mark.cluster


def saves(exporter: Exporter) -> float:
    return float(exporter.metrics.checkpoints._value.get())


def checkpointed_uids(path: Path) -> set[str]:
    if not path.is_file():
        return set()
    return set(msgspec.json.decode(path.read_bytes())["events"])


async def healthz(exporter: Exporter) -> tuple[int, dict[str, Any]]:
    assert exporter.server is not None and exporter.server.port
    url = f"http://127.0.0.1:{exporter.server.port}/healthz"
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.json()


class _RacingEntries(dict[str, Any]):
    """A tracker map that lets the event loop change it while another thread iterates it.

    This is the interleaving that killed the checkpoint loop: the loop keeps deciding new
    uids while a snapshot is taken. It is made deterministic here: an iteration off the loop
    thread pauses after its first item until the loop has added an entry.
    """

    loop: asyncio.AbstractEventLoop
    loop_thread: threading.Thread

    def items(self) -> Iterator[tuple[str, Any]]:  # type: ignore[override]
        for i, item in enumerate(super().items()):
            yield item
            if i == 0 and threading.current_thread() is not self.loop_thread:
                added = threading.Event()
                self.loop.call_soon_threadsafe(self.add_on_loop, added)
                added.wait(10)

    def add_on_loop(self, added: threading.Event) -> None:
        self[f"racer-{len(self)}"] = next(iter(self.values()))
        added.set()


async def test_the_checkpoint_follows_a_tracker_that_changes_while_it_is_saved(
    local_cluster: LocalCluster,
    kube: KubeClient,
    namespace: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original_init = EventTracker.__init__
    loop = asyncio.get_running_loop()

    def racing_init(self: EventTracker, *args: Any, **kwargs: Any) -> None:
        original_init(self, *args, **kwargs)
        entries = _RacingEntries(self._entries)
        entries.loop, entries.loop_thread = loop, threading.current_thread()
        self._entries = entries

    monkeypatch.setattr(EventTracker, "__init__", racing_init)
    sink = MemorySink()
    cfg = config(tmp_path, namespace, checkpoint_interval="50ms")
    exporter = Exporter(cfg, client=kube, sinks=[sink])
    checkpoint = tmp_path / "checkpoint"
    async with run_exporter(exporter) as run:
        await record_flood(kube, namespace, objects=20, repeats=1)
        first = await server_counts(kube, namespace)
        await wait_for(lambda: set(first) <= checkpointed_uids(checkpoint), "the first save")
        await record_flood(kube, namespace, objects=40, repeats=2)
        uids = set(await server_counts(kube, namespace))
        await wait_for(lambda: uids <= checkpointed_uids(checkpoint), "every uid checkpointed")
        assert exporter.health().healthy, exporter.health().problems
        assert await run.exit_code() == 0
    assert saves(exporter) >= 2


async def test_an_unwritable_checkpoint_turns_health_red_once_and_recovers(
    local_cluster: LocalCluster,
    kube: KubeClient,
    namespace: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sink = MemorySink()
    checkpoint = tmp_path / "checkpoint"
    cfg = config(
        tmp_path,
        namespace,
        checkpoint_interval="50ms",
        health={"checkpoint_stale_after": "1s"},
    )
    exporter = Exporter(cfg, client=kube, sinks=[sink])
    async with run_exporter(exporter) as run:
        await record_flood(kube, namespace, objects=10, repeats=1)
        await wait_for(lambda: len(checkpointed_uids(checkpoint)) == 10, "a first checkpoint")
        # Even root cannot write a file where a directory stands.
        checkpoint.unlink()
        checkpoint.mkdir()
        flood = asyncio.create_task(record_flood(kube, namespace, objects=100, repeats=3))
        failures = exporter.metrics.checkpoint_failures.labels("eisdir")
        await wait_for(lambda: failures._value.get() >= 3, "failed saves to be counted")
        await wait_for(lambda: not exporter.health().healthy, "health to turn red")
        status, body = await healthz(exporter)
        assert status == 503
        assert any("checkpoint not saved" in p for p in body["problems"]), body
        await flood
        stored = len(sink.stored)
        await wait_for(lambda: failures._value.get() >= 6, "more failed attempts")
        assert len(sink.stored) >= stored  # exporting went on meanwhile
        causes = [r for r in caplog.records if "cannot save the checkpoint" in r.getMessage()]
        assert len(causes) == 1, [r.getMessage() for r in causes]
        checkpoint.rmdir()
        uids = set(await server_counts(kube, namespace))
        await wait_for(lambda: uids <= checkpointed_uids(checkpoint), "the checkpoint to recover")
        await wait_for(lambda: exporter.health().healthy, "health to recover", within=30)
        assert await run.exit_code() == 0


async def test_a_dying_write_turns_health_red_and_the_exit_code_non_zero(
    local_cluster: LocalCluster,
    kube: KubeClient,
    namespace: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def broken(self: EventTracker, uid: str, count: int) -> None:
        raise RuntimeError("injected bug in the acknowledgement path")

    monkeypatch.setattr(EventTracker, "stored", broken)
    exporter = Exporter(config(tmp_path, namespace), client=kube, sinks=[MemorySink()])
    async with run_exporter(exporter) as run:
        await record_flood(kube, namespace, objects=3, repeats=1)
        await wait_for(lambda: not exporter.health().healthy, "health to turn red")
        problems = exporter.health().problems
        assert any("write-memory" in p and "injected bug" in p for p in problems), problems
        # The exporter stops by itself, without a signal, and says it failed.
        assert await asyncio.wait_for(asyncio.shield(run.task), 30) == 1
    failures = exporter.metrics.registry.get_sample_value(
        "kubevents_task_failures_total", {"task": "write-memory"}
    )
    assert failures is not None and failures >= 1  # one per lane that met the bug


class PoisonSink(MemorySink):
    """Stores everything, but rejects Events whose reason is ``Poison``."""

    async def write(self, batch: Any) -> WriteResult:
        await super().write(batch)
        occurrences: list[Occurrence] = list(batch)
        return WriteResult(
            [Rejected(o, "poison") for o in occurrences if o.event.reason == "Poison"]
        )


async def test_a_failing_dead_letter_write_is_retried_counted_and_named(
    local_cluster: LocalCluster, kube: KubeClient, namespace: str, tmp_path: Path
) -> None:
    from kubevents.model import Event, EventSource, ObjectMeta, ObjectReference

    folder = tmp_path / "dead"
    folder.mkdir()
    dead = folder / "letters.jsonl"
    cfg = config(
        tmp_path,
        namespace,
        dead_letter=str(dead),
        health={"sink_failing_after": "500ms"},
        buffer={"flush_delay": "50ms"},
    )
    sink = PoisonSink("poisoned")
    exporter = Exporter(cfg, client=kube, sinks=[sink])
    async with run_exporter(exporter) as run:
        shutil.rmtree(folder)
        folder.write_text("a file where the dead-letter directory was\n")
        event = Event(
            metadata=ObjectMeta(name="poison.1", namespace=namespace),
            involved_object=ObjectReference(kind="Pod", namespace=namespace, name="p"),
            reason="Poison",
            message="rejected for good",
            type="Warning",
            source=EventSource(component="test"),
        )
        created = await kube.events.create(event)
        await wait_for(lambda: not exporter.health().healthy, "health to name the sink")
        problems = exporter.health().problems
        assert any("sink poisoned" in p and "dead-letter" in p for p in problems), problems
        failures = exporter.metrics.dead_letter_failures.labels("poisoned")
        assert failures._value.get() >= 1
        assert exporter.pipeline is not None
        assert exporter.pipeline.acknowledged == 0  # not acknowledged while not on disk
        folder.unlink()
        await wait_for(lambda: dead.is_file(), "the dead letters to be written")
        await wait_for(lambda: exporter.health().healthy, "health to recover")
        assert exporter.pipeline.acknowledged == 1
        assert await run.exit_code() == 0
    letters = [msgspec.json.decode(line) for line in dead.read_bytes().splitlines()]
    assert [letter["document"]["uid"] for letter in letters] == [created.metadata.uid]


async def test_a_dead_letter_file_that_cannot_be_opened_stops_the_start(
    local_cluster: LocalCluster, kube: KubeClient, namespace: str, tmp_path: Path
) -> None:
    dead = tmp_path / "dead.jsonl"
    cfg = config(tmp_path, namespace, dead_letter=str(dead))
    dead.mkdir()  # after validation: the start itself must notice
    exporter = Exporter(cfg, client=kube, sinks=[MemorySink()])
    with pytest.raises(ConfigError, match=r"dead_letter: .*directory"):
        await exporter.run(asyncio.Event())

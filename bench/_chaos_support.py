"""What the chaos run drives: a rate-limited flood of creates and count bumps, an independent
watch log, a webhook receiver that can be taken away, and the exporter as a killable process.

Kept apart from ``chaos.py`` (the run: the schedule of faults and the verdict).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import msgspec
from aiohttp import web
from bench._exporter_support import story_event

from kubevents.errors import GoneError, KubeError, StatusError
from kubevents.export.sinks.sqlite import uid_text
from kubevents.kube import KubeClient
from kubevents.model import Time

__all__ = ["ExporterProcess", "Flood", "Receiver", "WatchLog", "stored_ids"]

# The share of operations that bump an existing Event's count rather than create a new one,
# and the highest count a bump goes to (a crash-looping pod's BackOff reaches dozens).
BUMP_SHARE = 0.7
MAX_COUNT = 40
OPERATION_RETRIES = 5
# The exporter's log line when a (re)list is complete.
_LISTED = re.compile(r"^listed \d+ events at resourceVersion (\d+)$")


@dataclass
class Flood:
    """``operations`` API writes at ``rate`` per second: Event creates and ``count`` bumps.

    Each Event belongs to one worker, so its bumps are sequential and every count from 1 to
    its final one is written exactly once; ``finals`` is what the flood wrote last.
    """

    client: KubeClient
    namespace: str
    operations: int
    rate: float
    workers: int
    rng: random.Random
    # Event names are ``<prefix>-<number>``: floods with different prefixes share a namespace.
    prefix: str = "chaos"
    finals: dict[str, int] = field(default_factory=dict)  # Event name -> last count written
    # "uid:count" -> the resourceVersion the server gave that write
    written: dict[str, int] = field(default_factory=dict)
    failed: int = 0
    retried: int = 0
    expired: int = 0  # bumps of Events the TTL had deleted

    def _plan(self) -> list[list[tuple[int, int, int]]]:
        """Per worker, (operation number, Event index, count) in time order."""
        lanes: list[list[tuple[int, int, int]]] = [[] for _ in range(self.workers)]
        counts: list[int] = []
        for op in range(self.operations):
            candidates = self.rng.sample(range(len(counts)), min(8, len(counts)))
            bumpable = [i for i in candidates if counts[i] < MAX_COUNT]
            if bumpable and self.rng.random() < BUMP_SHARE:
                index = bumpable[0]
                counts[index] += 1
            else:
                index = len(counts)
                counts.append(1)
            lanes[index % self.workers].append((op, index, counts[index]))
        return lanes

    def _name(self, index: int) -> str:
        return f"{self.prefix}-{index:07d}"

    async def run(self) -> None:
        started = asyncio.get_running_loop().time()
        await asyncio.gather(*(self._lane(lane, started) for lane in self._plan()))

    async def _lane(self, lane: list[tuple[int, int, int]], started: float) -> None:
        loop = asyncio.get_running_loop()
        for op, index, count in lane:
            delay = started + op / self.rate - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if await self._write(index, count):
                self.finals[self._name(index)] = count

    async def _write(self, index: int, count: int) -> bool:
        for attempt in range(OPERATION_RETRIES):
            try:
                if count == 1:
                    event = story_event(self.namespace, index, datetime.now(UTC))
                    event = msgspec.structs.replace(
                        event,
                        metadata=msgspec.structs.replace(event.metadata, name=self._name(index)),
                        count=1,
                    )
                    stored = await self.client.events.create(event)
                else:
                    now = Time.of(datetime.now(UTC)).wire()
                    stored = await self.client.events.patch(
                        self.namespace, self._name(index), {"count": count, "lastTimestamp": now}
                    )
                self.written[f"{stored.uid}:{count}"] = int(stored.metadata.resource_version)
                return True
            except StatusError as exc:
                if exc.code == 409 and count == 1:
                    return True  # a retried create whose first attempt had landed
                if exc.code == 404 and count > 1:
                    self.expired += 1  # the apiserver's Event TTL deleted it meanwhile
                    return False
                if exc.code < 500 and exc.code != 429:
                    break
            except KubeError:
                pass
            self.retried += 1
            await asyncio.sleep(0.2 * (attempt + 1))
        self.failed += 1
        return False


class WatchLog:
    """Every (uid, count) the server showed in a namespace, from one watch never interrupted.

    This is the independent record the exporter's output is checked against. Should its own
    watch expire (it asks for an hour), it relists and says so in ``relists``: the counts
    superseded during that gap are then unknown to it as well.
    """

    def __init__(self, client: KubeClient, namespace: str) -> None:
        self._client = client
        self._namespace = namespace
        self.shown: set[str] = set()
        self.relists = 0
        self.ready = asyncio.Event()

    async def run(self) -> None:
        rv = await self._list()
        self.ready.set()
        while True:
            try:
                stream = await self._client.events.watch(
                    self._namespace, resource_version=rv, timeout_seconds=3600
                )
                async with stream:
                    async for change in stream:
                        if change.object is not None and change.object.uid:
                            self.shown.add(f"{change.object.uid}:{change.object.count or 1}")
                    rv = stream.resource_version or rv
            except GoneError:
                self.relists += 1
                rv = await self._list()

    async def _list(self) -> str:
        page = await self._client.events.list(self._namespace, limit=None)
        self.shown.update(f"{e.uid}:{e.count or 1}" for e in page.items)
        return page.resource_version

    async def finals(self) -> dict[str, int]:
        """uid -> count of every Event in the namespace now."""
        page = await self._client.events.list(self._namespace, limit=None)
        return {e.uid: e.count or 1 for e in page.items}


class Receiver:
    """A webhook receiver that can be taken down and brought back on the same port, or made to
    answer ``status`` (a 503, a 401) instead of accepting."""

    def __init__(self) -> None:
        self.deliveries: dict[str, int] = {}  # occurrence id -> times received
        self.arrivals: list[str] = []  # every id, in the order received
        self.status = 204
        self.refused = 0
        self.port = 0
        self._runner: web.AppRunner | None = None

    async def _handle(self, request: web.Request) -> web.Response:
        body = await request.read()
        if self.status >= 300:
            self.refused += 1
            return web.Response(status=self.status, text="refused on purpose")
        for document in msgspec.json.decode(body):
            self.deliveries[document["id"]] = self.deliveries.get(document["id"], 0) + 1
            self.arrivals.append(document["id"])
        return web.Response(status=204)

    def out_of_order(self) -> list[str]:
        """Ids that arrived after a higher count of the same Event."""
        highest: dict[str, int] = {}
        late = []
        for occurrence_id in self.arrivals:
            uid, _, count = occurrence_id.rpartition(":")
            if int(count) < highest.get(uid, 0):
                late.append(occurrence_id)
            highest[uid] = max(highest.get(uid, 0), int(count))
        return late

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/events"

    async def up(self) -> None:
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/events", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()
        self.port = self._runner.addresses[0][1]

    async def down(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None


@dataclass
class Observed:
    namespace: str
    watch_log: WatchLog
    receiver: Receiver


@contextlib.asynccontextmanager
async def observed_namespace(kube: KubeClient, prefix: str) -> AsyncIterator[Observed]:
    """A fresh namespace, an independent watch of it that is never interrupted, and a webhook
    receiver: what every outage and chaos scenario checks the exporter against."""
    namespace = f"{prefix}-{uuid.uuid4().hex[:8]}"
    await kube.ensure_namespace(namespace)
    watch_log = WatchLog(kube, namespace)
    watching = asyncio.create_task(watch_log.run())
    try:
        await watch_log.ready.wait()
        receiver = Receiver()
        await receiver.up()
        try:
            yield Observed(namespace, watch_log, receiver)
        finally:
            await receiver.down()
    finally:
        watching.cancel()


class ExporterProcess:
    """``kubevents export -c <config>`` as a child process, killed and restarted at will."""

    def __init__(self, config: Path, log: Path) -> None:
        self.args = [sys.executable, "-m", "kubevents.cli", "export", "-c", str(config)]
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.kills = 0

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                self.args,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ},
                start_new_session=True,
            )
        self.starts += 1

    def kill(self) -> None:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise RuntimeError(f"the exporter had already exited ({self.proc.returncode})")
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)
        self.kills += 1

    def terminate(self, timeout: float) -> tuple[int, float]:
        """SIGTERM; (exit code, seconds to exit)."""
        assert self.proc is not None
        began = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout), time.monotonic() - began

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)

    def _log_lines(self) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        lines = []
        for line in self.log.read_bytes().splitlines():
            try:
                lines.append(msgspec.json.decode(line))
            except msgspec.DecodeError:
                lines.append({"message": line.decode(errors="replace")})
        return lines

    def tracebacks(self) -> int:
        return sum(
            "Traceback" in str(entry.get("message")) or "exception" in entry
            for entry in self._log_lines()
        )

    def relists(self) -> list[int]:
        """The resourceVersion of every complete LIST the exporter logged, in order."""
        found = []
        for entry in self._log_lines():
            match = _LISTED.match(str(entry.get("message", "")))
            if match is not None:
                found.append(int(match.group(1)))
        return found


def stored_ids(db: Path) -> list[str]:
    """Every occurrence id in the SQLite store (a duplicate would appear twice)."""
    if not db.exists():
        return []
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        try:
            rows = conn.execute("SELECT uid, count FROM occurrences").fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return []
            raise
    return [f"{uid_text(uid)}:{count}" for uid, count in rows]


def exporter_config(
    path: Path, *, kubeconfig: Path, namespace: str, db: Path, webhook: str
) -> dict[str, Any]:
    """The exporter's configuration for a chaos run, written to ``path``."""
    config: dict[str, Any] = {
        "cluster_name": "chaos",
        "kubeconfig": str(kubeconfig),
        "namespace": namespace,
        "checkpoint": str(path.with_suffix(".checkpoint")),
        "listen": "127.0.0.1:0",
        "log_format": "json",
        "shutdown_timeout": "20s",
        "buffer": {"flush_delay": "200ms"},
        "sinks": [
            {"type": "sqlite", "path": str(db)},
            {"type": "webhook", "url": webhook, "timeout": "2s"},
        ],
    }
    path.write_bytes(msgspec.json.encode(config))  # JSON is YAML
    return config

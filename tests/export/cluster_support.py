"""Helpers for the exporter's end-to-end tests on the real local cluster."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import yaml

from kubevents.export import ExportConfig, Exporter, load_export_config
from kubevents.export.sinks.sqlite import uid_text
from kubevents.kube import KubeClient
from kubevents_testenv import LocalCluster
from support import eventually

KUBEVENTS = [sys.executable, "-m", "kubevents.cli"]


def stored_ids(db: Path) -> list[str]:
    """Every stored occurrence id (duplicates would show up twice)."""
    if not db.exists():
        return []
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        try:
            rows = conn.execute("SELECT uid, count FROM occurrences").fetchall()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):  # the exporter is still creating the schema
                return []
            raise
    return [f"{uid_text(uid)}:{count}" for uid, count in rows]


async def server_counts(client: KubeClient, namespace: str) -> dict[str, int]:
    """uid -> current count of every Event in ``namespace``."""
    counts: dict[str, int] = {}
    async for page in client.events.list_pages(namespace, limit=500):
        for event in page.items:
            counts[event.uid] = event.count or 1
    return counts


async def wait_for(condition: Callable[[], bool], what: str, within: float = 180) -> None:
    """Poll a condition on an external process's output, with a deadline."""
    await eventually(condition, what, within=within, interval=0.2)


class ExporterProcess:
    """``kubevents export`` as a child process, as a user runs it."""

    def __init__(self, cluster: LocalCluster, workdir: Path, namespace: str, *extra: str) -> None:
        self.db = workdir / "events.db"
        self.checkpoint = workdir / "events.checkpoint"
        self.log = workdir / "exporter.log"
        self.args = [
            *KUBEVENTS, "export", "--kubeconfig", str(cluster.kubeconfig_limited),
            "--cluster-name", "e2e", "-n", namespace, "--db", str(self.db),
            "--checkpoint", str(self.checkpoint), "--listen", "127.0.0.1:0",
            "--log-format", "json", "--no-progress", *extra,
        ]  # fmt: skip
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                self.args,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ},
                start_new_session=True,
            )
        self.starts += 1

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def terminate(self, timeout: float) -> tuple[int, float]:
        """SIGTERM; return (exit code, seconds it took to exit)."""
        assert self.proc is not None
        started = time.monotonic()
        self.proc.send_signal(signal.SIGTERM)
        code = self.proc.wait(timeout)
        return code, time.monotonic() - started

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)

    def logs(self) -> str:
        return self.log.read_text(errors="replace")[-5000:] if self.log.exists() else ""


class SinkExporter(ExporterProcess):
    """``kubevents export`` with one configured sink only (no SQLite store) and dead letters."""

    def __init__(
        self, cluster: LocalCluster, workdir: Path, namespace: str, sink: Mapping[str, object]
    ) -> None:
        self.dead_letters = workdir / "dead-letters.jsonl"
        config = workdir / "export.yaml"
        config.write_text(
            yaml.safe_dump({"sinks": [dict(sink)], "dead_letter": str(self.dead_letters)})
        )
        super().__init__(cluster, workdir, namespace, "--config", str(config))
        at = self.args.index("--db")
        del self.args[at : at + 2]

    async def initial_list_done(self) -> None:
        """Wait for the exporter's first LIST. A count bumped before it is never seen (the LIST
        shows only the latest count), so a flood must not start until then."""
        await wait_for(
            lambda: self.log.exists() and '"message":"listed ' in self.log.read_text(),
            "the exporter's initial list",
            within=60,
        )


@contextmanager
def exporter_process(
    cluster: LocalCluster, workdir: Path, namespace: str, *extra: str
) -> Iterator[ExporterProcess]:
    process = ExporterProcess(cluster, workdir, namespace, *extra)
    try:
        yield process
    finally:
        process.stop()


def config(tmp_path: Path, namespace: str, **fields: object) -> ExportConfig:
    """An in-process exporter's configuration for one test namespace."""
    base: dict[str, object] = {
        "cluster_name": "svc", "namespace": namespace, "listen": "127.0.0.1:0",
        "checkpoint": str(tmp_path / "checkpoint"), "shutdown_timeout": "10s",
    }  # fmt: skip
    base.update(fields)
    return load_export_config(overrides=base, environ={})


def sqlite_and_webhook(
    tmp_path: Path, namespace: str, url: str, **webhook: object
) -> tuple[ExportConfig, Path]:
    """An in-process exporter's configuration with two sinks, each flushing batches at once:
    SQLite (``events.db``, returned) and a webhook named ``alerts`` with ``webhook``'s fields."""
    db = tmp_path / "events.db"
    fast = {"flush_delay": "50ms"}
    sinks = [
        {"type": "sqlite", "path": str(db), "buffer": fast},
        {"type": "webhook", "name": "alerts", "url": url, "buffer": fast, **webhook},
    ]
    return config(tmp_path, namespace, sinks=sinks), db


class Running:
    """An in-process exporter's run: ``stop`` ends it, ``exit_code`` is what it returned."""

    def __init__(self, task: asyncio.Task[int], stop: asyncio.Event) -> None:
        self.task = task
        self.stop = stop

    async def exit_code(self, within: float = 30) -> int:
        self.stop.set()
        return await asyncio.wait_for(asyncio.shield(self.task), within)


@contextlib.asynccontextmanager
async def run_exporter(exporter: Exporter) -> AsyncIterator[Running]:
    """Run ``exporter`` in this loop until the block ends (start-up errors are raised)."""
    stop = asyncio.Event()
    task = asyncio.create_task(exporter.run(stop))
    started = asyncio.create_task(exporter.wait_started())
    await asyncio.wait([task, started], return_when=asyncio.FIRST_COMPLETED)
    if task.done():
        started.cancel()
        task.result()
    run = Running(task, stop)
    try:
        yield run
    finally:
        stop.set()
        with contextlib.suppress(BaseException):
            await asyncio.wait_for(task, 30)


@contextlib.asynccontextmanager
async def running(exporter: Exporter) -> AsyncIterator[asyncio.Event]:
    """``run_exporter`` for runs that must end cleanly: exit code 0 is asserted."""
    async with run_exporter(exporter) as run:
        yield run.stop
        assert await run.exit_code() == 0

"""What the exporter benchmark drives: the seeded events, OpenSearch counts, measured processes.

Kept apart from ``exporter.py`` (the suite: what is measured and how it is reported).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import msgspec
import yaml

from kubevents.kube import KubeClient
from kubevents.model import Event, EventSource, ObjectMeta, ObjectReference, Time
from kubevents_testenv import LocalCluster, free_ports

__all__ = [
    "AppendedRecords",
    "MeasuredProcess",
    "ProcessSample",
    "Progress",
    "call",
    "delete_events",
    "indexed",
    "kubevents_export",
    "process_cpu_seconds",
    "seed_events",
    "story_event",
    "wait_until_indexed",
]

SEED_CONCURRENCY = 48
DELETE_ATTEMPTS = 10
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

# What a busy cluster's Events look like: kubelet and scheduler reasons with their real message
# shapes, Pods in Deployments (hashed names), a few Warnings.
_STORY = [
    ("Normal", "Scheduled", "default-scheduler", "",
     "Successfully assigned {ns}/{pod} to {node}"),
    ("Normal", "Pulling", "kubelet", "spec.containers{app}",
     'Pulling image "registry.example.com/shop/{app}:v1.{i}.3"'),
    ("Normal", "Pulled", "kubelet", "spec.containers{app}",
     'Successfully pulled image "registry.example.com/shop/{app}:v1.{i}.3" in 1.204s '
     "(1.204s including waiting). Image size: 48311950 bytes."),
    ("Normal", "Created", "kubelet", "spec.containers{app}", "Created container: app"),
    ("Normal", "Started", "kubelet", "spec.containers{app}", "Started container app"),
    ("Warning", "BackOff", "kubelet", "spec.containers{app}",
     "Back-off restarting failed container app in pod {pod}_{ns}({uid})"),
    ("Warning", "Unhealthy", "kubelet", "spec.containers{app}",
     "Readiness probe failed: Get \"http://10.244.{i}.17:8080/healthz\": dial tcp "
     "10.244.{i}.17:8080: connect: connection refused"),
    ("Normal", "Killing", "kubelet", "spec.containers{app}",
     "Stopping container app"),
]  # fmt: skip


def story_event(namespace: str, i: int, now: datetime) -> Event:
    """Event number ``i`` of the seeded story (the same on every run)."""
    rng = random.Random(i)  # the same events on every run
    kind, reason, component, field_path, template = _STORY[i % len(_STORY)]
    app = f"svc-{i % 97}"
    pod = f"{app}-7d9f{i % 13:x}c{i % 7}b-{i:05x}"
    uid = f"{i:08x}-1111-4222-8333-{i * 7919 % 10**12:012d}"
    node = f"node-{i % 23}"
    message = template.format(ns=namespace, pod=pod, node=node, app=app, i=i % 250, uid=uid)
    when = now - timedelta(seconds=rng.randint(0, 600))
    count = 1 if kind == "Normal" else rng.randint(1, 5)
    return Event(
        metadata=ObjectMeta(name=f"{pod}.{i:016x}", namespace=namespace),
        involved_object=ObjectReference(
            kind="Pod",
            namespace=namespace,
            name=pod,
            uid=uid,
            api_version="v1",
            resource_version=str(1000 + i),
            field_path=field_path,
        ),
        reason=reason,
        message=message,
        source=EventSource(component=component, host="" if component != "kubelet" else node),
        first_timestamp=Time.of(when - timedelta(seconds=30 * (count - 1))),
        last_timestamp=Time.of(when),
        count=count,
        type=kind,
        reporting_controller=component,
        reporting_instance=node if component == "kubelet" else "",
    )


async def seed_events(
    cluster: LocalCluster, namespaces: list[str], total: int, first: int = 0
) -> float:
    """Create ``total`` Events spread over ``namespaces``; returns the creates per second.

    Plain aiohttp with pre-encoded bodies rather than ``KubeClient``: the generator shares the
    machine with the exporter under test, so it should cost as little CPU as possible.
    """
    now = datetime.now(UTC).replace(microsecond=0)
    async with await KubeClient.connect(cluster.kubeconfig) as client:
        for namespace in namespaces:
            await client.ensure_namespace(namespace)
    bodies = []
    for i in range(first, first + total):
        namespace = namespaces[i % len(namespaces)]
        bodies.append((namespace, msgspec.json.encode(story_event(namespace, i, now).to_dict())))
    headers = {
        "Authorization": f"Bearer {cluster.admin_token}",
        "Content-Type": "application/json",
        "Accept": "application/json",
    }
    connector = aiohttp.TCPConnector(ssl=cluster.ssl_context(), limit=SEED_CONCURRENCY)
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
        pending = iter(bodies)

        async def worker() -> None:
            for namespace, body in pending:
                url = f"{cluster.url}/api/v1/namespaces/{namespace}/events"
                async with session.post(url, data=body) as response:
                    if response.status != 201:
                        raise RuntimeError(
                            f"create: HTTP {response.status}: {await response.text()}"
                        )
                    await response.read()

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(SEED_CONCURRENCY)))
        return total / (time.perf_counter() - began)


async def delete_events(cluster: LocalCluster, namespace: str) -> None:
    """Delete every Event of ``namespace``: a later backfill of the whole cluster lists only the
    Events it is meant to.

    One deletecollection of tens of thousands of Events can outlast the apiserver's request
    timeout (504) on a busy machine; what it deleted by then stays deleted, so it is sent
    again until a LIST finds nothing left.
    """
    headers = {"Authorization": f"Bearer {cluster.admin_token}"}
    connector = aiohttp.TCPConnector(ssl=cluster.ssl_context())
    async with aiohttp.ClientSession(connector=connector, headers=headers) as session:
        url = f"{cluster.url}/api/v1/namespaces/{namespace}/events"
        for _ in range(DELETE_ATTEMPTS):
            async with session.delete(url) as response:
                await response.read()
                if response.status == 200:
                    return
                if response.status not in (500, 503, 504):
                    raise RuntimeError(f"deletecollection: HTTP {response.status}")
            async with session.get(url, params={"limit": "1"}) as response:
                if response.status == 200 and not (await response.json()).get("items"):
                    return
        raise RuntimeError(f"deletecollection: {namespace} not empty after {DELETE_ATTEMPTS}")


def call(url: str, method: str = "GET", body: Any = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def indexed(engine_url: str, pattern: str) -> int:
    """Searchable documents in the indices matching ``pattern`` (refreshed first)."""
    try:
        call(f"{engine_url}/{pattern}/_refresh?allow_no_indices=true&ignore_unavailable=true",
             "POST")  # fmt: skip
        answer = call(
            f"{engine_url}/{pattern}/_count?allow_no_indices=true&ignore_unavailable=true"
        )
    except urllib.error.HTTPError as error:
        # 503: an index just created whose primary shard has not started (slow on a loaded
        # machine); nothing in it is searchable yet.
        if error.code != 503:
            raise
        return 0
    return int(answer["count"])


class AppendedRecords:
    """Records in a file another process appends lines to, counted as they arrive.

    ``count`` reads only the whole lines appended since its last call and counts ``mark`` in
    them (a writer may be half-way through a line): cheap enough to poll while the writer, which
    shares the 2 cores, is being measured.
    """

    def __init__(self, path: Path, mark: bytes) -> None:
        self.path = path
        self.mark = mark
        self._offset = 0
        self._records = 0

    def count(self) -> int:
        try:
            with self.path.open("rb") as handle:
                handle.seek(self._offset)
                chunk = handle.read()
        except FileNotFoundError:
            return 0
        end = chunk.rfind(b"\n") + 1
        self._records += chunk[:end].count(self.mark)
        self._offset += end
        return self._records

    poll_interval = 0.1

    def discard(self) -> None:
        self.path.unlink(missing_ok=True)  # up to a few hundred MB

    def lines(self) -> Iterator[bytes]:
        """Every whole line of the file, from the start."""
        with self.path.open("rb") as handle:
            for line in handle:
                if line.endswith(b"\n"):
                    yield line


@dataclass
class ProcessSample:
    cpu_seconds: float
    peak_rss: int  # bytes (VmHWM)


def process_cpu_seconds(pid: int) -> float:
    """utime + stime of a running process (e.g. the search engine) so far."""
    return _sample(pid).cpu_seconds


def _sample(pid: int) -> ProcessSample:
    with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
        # Fields after the command name (which may contain spaces) start after the last ')'.
        fields = stat.read().rsplit(")", 1)[1].split()
    cpu = (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS  # utime + stime
    peak = 0
    with open(f"/proc/{pid}/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                peak = int(line.split()[1]) * 1024
    return ProcessSample(cpu, peak)


@dataclass
class MeasuredProcess:
    """A child process whose CPU time and peak RSS are read from /proc while it runs."""

    args: list[str]
    log: Path
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    proc: subprocess.Popen[bytes] | None = None
    started: float = 0.0

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                self.args,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=self.env,
                start_new_session=True,
            )
        self.started = time.perf_counter()

    def sample(self) -> ProcessSample:
        assert self.proc is not None
        if self.proc.poll() is not None:
            tail = self.log.read_text(errors="replace")[-3000:]
            raise RuntimeError(f"{self.args[0]} exited with {self.proc.returncode}:\n{tail}")
        return _sample(self.proc.pid)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@dataclass
class Progress:
    """Documents indexed over time, sampled while waiting."""

    target: int
    seconds: float  # until every document was searchable (or the deadline)
    done: int
    first_doc_seconds: float | None
    cpu_seconds: float
    peak_rss: int
    engine_cpu_seconds: float
    timeline: list[tuple[float, int]]


def wait_until_indexed(
    engine_url: str,
    pattern: str,
    target: int,
    *,
    began: float,
    deadline: float,
    process: MeasuredProcess | None = None,
    engine_pid: int | None = None,
    interval: float = 0.25,
) -> Progress:
    """Poll until ``target`` documents are searchable or ``deadline`` seconds have passed."""
    engine_cpu0 = _sample(engine_pid).cpu_seconds if engine_pid else 0.0
    timeline: list[tuple[float, int]] = []
    first: float | None = None
    last = ProcessSample(0.0, 0)
    while True:
        if process is not None:
            last = process.sample()
        done = indexed(engine_url, pattern)
        elapsed = time.perf_counter() - began
        timeline.append((round(elapsed, 2), done))
        if done and first is None:
            first = elapsed
        if done >= target or elapsed >= deadline:
            break
        time.sleep(interval)
    engine_cpu = (_sample(engine_pid).cpu_seconds - engine_cpu0) if engine_pid else 0.0
    return Progress(target, elapsed, done, first, last.cpu_seconds, last.peak_rss, engine_cpu,
                    timeline)  # fmt: skip


def kubevents_export(
    cluster: LocalCluster, workdir: Path, name: str, sink: dict[str, Any], namespace: str | None
) -> tuple[MeasuredProcess, int]:
    """``kubevents export`` into ``sink`` (not started), and the port of its /readyz."""
    config = workdir / f"{name}.yaml"
    config.write_text(
        yaml.safe_dump({"sinks": [sink], "dead_letter": str(workdir / f"{name}.dead.jsonl")})
    )
    (port,) = free_ports(1)
    args = [
        sys.executable, "-m", "kubevents.cli", "export", "--config", str(config),
        "--kubeconfig", str(cluster.kubeconfig), "--cluster-name", "bench",
        "--checkpoint", str(workdir / f"{name}.checkpoint"), "--listen", f"127.0.0.1:{port}",
        "--log-format", "json", "--log-level", "warning", "--no-progress",
        *(["-n", namespace] if namespace else []),
    ]  # fmt: skip
    return MeasuredProcess(args, workdir / f"{name}.log"), port

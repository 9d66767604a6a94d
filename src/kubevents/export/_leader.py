"""High availability: several replicas, one exporting, chosen by leader election on a Lease.

A standby holds no watch and no sink open: it only polls the Lease (one GET every retry
period), so extra replicas add no load on the API server. When elected it runs the ordinary
``Exporter``, starting from the resume point the previous leader published on the Lease:

- At every renewal the leader writes its *acknowledged* resourceVersion (everything up to it
  is stored by every sink) into the Lease's annotations, so the hand-over costs no extra
  request and no extra RBAC. A new leader watches from there, so what happened while nobody
  led (at most a lease duration after a crash) is replayed, not lost; what the old leader had
  already stored is sent again under the same ids, which the sinks absorb. If that point has
  been compacted away (410) the exporter relists, as after any restart.
- On SIGTERM the leader drains as usual (renewing meanwhile), then releases the Lease with
  its final resume point, so a standby takes over at its next poll.
- When a renewal fails within the renew deadline, or another holder appears, the leader stops
  exporting at once (its pipeline is cancelled, not drained) and the process exits with code
  1. Like a client-go controller, it does not try to lead again from a state that may be
  stale: Kubernetes restarts the container, which comes back as a clean standby.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import socket
import time
import uuid
from pathlib import Path
from typing import IO

import msgspec
from prometheus_client import Counter, Gauge

from kubevents.clock import RealClock
from kubevents.export._access import check_access
from kubevents.export._config import (
    ConfigError,
    ExportConfig,
    SQLiteSinkConfig,
)
from kubevents.export._heartbeat import heartbeat_object
from kubevents.export._metrics import ExportMetrics
from kubevents.export._server import HealthReport, MetricsServer, serve
from kubevents.export._service import Exporter
from kubevents.kube import JITTER_FACTOR, KubeClient, LeaderElector, LeaseLock, in_cluster_namespace

__all__ = [
    "CLUSTER_ANNOTATION",
    "EXIT_LEADERSHIP_LOST",
    "RESUME_ANNOTATION",
    "LeaderElectedExporter",
    "default_identity",
]

log = logging.getLogger(__name__)

RESUME_ANNOTATION = "kubevents.io/resume-resource-version"
CLUSTER_ANNOTATION = "kubevents.io/cluster-name"
EXIT_LEADERSHIP_LOST = 1


def default_identity() -> str:
    """``$POD_NAME`` (else the host name, which is the pod's name) plus a random suffix.

    The suffix, as kube-controller-manager adds one, keeps two processes apart that share a
    name (a restarted container, pods on the host network): an identity must never be shared,
    or both would believe they hold the lease.
    """
    base = os.environ.get("POD_NAME") or socket.gethostname() or "kubevents"
    return f"{base}_{uuid.uuid4().hex[:8]}"


class _LeaderMetrics:
    def __init__(self, metrics: ExportMetrics) -> None:
        r = metrics.registry
        self.leader = Gauge(
            "kubevents_leader",
            "1 while this replica holds the leader lease and exports",
            registry=r,
        )
        self.transitions = Counter(
            "kubevents_leader_transitions",
            "Changes of the leader lease's holder seen by this replica (itself included)",
            registry=r,
        )


def _lock_sqlite_stores(config: ExportConfig) -> list[IO[bytes]]:
    """Refuse to start when another replica already uses one of our SQLite files.

    Replicas of one Deployment that mount one volume would otherwise take turns writing one
    file while each keeps its own checkpoint; an exclusive lock next to the file says so at
    start instead. (flock works on local volumes; on network file systems it may not.)
    """
    held: list[IO[bytes]] = []
    for i, sink in enumerate(config.effective_sinks()):
        if not isinstance(sink, SQLiteSinkConfig):
            continue
        path = Path(sink.path).expanduser()
        lock_path = path.with_name(path.name + ".replica-lock")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(lock_path, "ab")  # noqa: SIM115 - held for the process's life
        except OSError as exc:
            raise ConfigError(f"sinks[{i}] ({sink.name}): {exc}") from None
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            for other in held:
                other.close()
            raise ConfigError(
                f"sinks[{i}] ({sink.name}): {path} is already used by another kubevents "
                "replica. Replicas cannot share one SQLite file: with leader election use a "
                "remote sink (opensearch, elasticsearch, webhook), or give each replica its "
                "own store"
            ) from None
        held.append(handle)
    return held


class LeaderElectedExporter:
    """``await run(stop)``: stand by, lead, export; returns the process exit code."""

    def __init__(
        self,
        config: ExportConfig,
        *,
        metrics: ExportMetrics | None = None,
        progress: bool = False,
    ) -> None:
        self.config = config
        self.metrics = metrics or ExportMetrics()
        self._leader_metrics = _LeaderMetrics(self.metrics)
        self._progress = progress
        le = config.leader_election
        self.identity = le.identity or default_identity()
        self.namespace = le.namespace or in_cluster_namespace() or ""
        if not self.namespace:
            raise ConfigError(
                "leader_election.namespace: not set, and there is no service-account namespace "
                "file (not running in a pod)"
            )
        heartbeat_object(config)  # known wrong now rather than once elected (exit 2 either way)
        self.elector: LeaderElector | None = None
        self.exporter: Exporter | None = None
        self.server: MetricsServer | None = None
        self._clock = RealClock()
        self._lock: LeaseLock | None = None

    # -- what the Lease carries ------------------------------------------------------------

    def _published(self) -> dict[str, str]:
        exporter = self.exporter
        pipeline = exporter.pipeline if exporter is not None else None
        # The stored point, not the spooled one: a successor cannot read this replica's spool.
        rv = pipeline.delivered_resource_version() if pipeline is not None else None
        if not rv:
            return {}  # keep what the previous leader published until there is something newer
        return {RESUME_ANNOTATION: rv, CLUSTER_ANNOTATION: self.config.cluster_name}

    def _resume_point(self) -> str | None:
        assert self._lock is not None
        annotations = self._lock.observed_annotations()
        rv = annotations.get(RESUME_ANNOTATION)
        if not rv:
            return None
        if annotations.get(CLUSTER_ANNOTATION) != self.config.cluster_name:
            log.warning(
                "the lease's resume point belongs to cluster %r, not %r: ignoring it",
                annotations.get(CLUSTER_ANNOTATION),
                self.config.cluster_name,
            )
            return None
        return rv

    def _new_leader(self, holder: str) -> None:
        if holder:
            self._leader_metrics.transitions.inc()

    # -- health ----------------------------------------------------------------------------

    def health(self) -> HealthReport:
        elector = self.elector
        if self.exporter is not None:
            report = self.exporter.health()
            leading = {**report.details, "role": "leader", "identity": self.identity}
            return HealthReport(report.healthy, report.ready, report.problems, leading)
        details: dict[str, object] = {
            "role": "standby",
            "identity": self.identity,
            "leader": elector.leader if elector is not None else "",
        }
        if elector is None or elector.last_attempt is None:
            return HealthReport(False, False, ("starting",), details)
        # A standby is healthy while its candidate loop runs: it tries the lease at least
        # every jittered retry period, each try bounded by the renew deadline.
        quiet = (self._clock.now() - elector.last_attempt).total_seconds()
        limit = elector.retry_period * (1 + JITTER_FACTOR) + elector.renew_deadline + 5.0
        if quiet > limit:
            return HealthReport(False, False, (f"lease not tried for {quiet:.0f}s",), details)
        # Ready: a standby is a correct member of the Deployment (rollouts wait for it).
        return HealthReport(True, True, (), details)

    # -- the run ---------------------------------------------------------------------------

    async def _connect(self) -> KubeClient:
        c = self.config
        try:
            client = await KubeClient.connect(c.kubeconfig, c.context, in_cluster=c.in_cluster)
        except ConfigError as exc:
            raise ConfigError(f"kubeconfig: {exc}") from None
        try:
            await check_access(client, c, lease_namespace=self.namespace)
        except ConfigError:
            await client.close()
            raise
        return client

    async def run(self, stop: asyncio.Event) -> int:
        """Run until ``stop`` is set (exit 0) or leadership is lost (exit 1)."""
        c, le = self.config, self.config.leader_election
        stores = _lock_sqlite_stores(c)
        client: KubeClient | None = None
        tasks: list[asyncio.Task[object]] = []
        try:
            client = await self._connect()
            self._lock = LeaseLock(
                client.leases,
                self.namespace,
                le.lease_name,
                self.identity,
                annotations=self._published,
            )
            self.elector = LeaderElector(
                self._lock,
                lease_duration=le.lease_duration,
                renew_deadline=le.renew_deadline,
                retry_period=le.retry_period,
                on_new_leader=self._new_leader,
            )
            if c.listen is not None:
                self.server = await serve(self.metrics.registry, self.health, c.listen)
            stopper: asyncio.Task[object] = asyncio.create_task(stop.wait())
            acquire: asyncio.Task[object] = asyncio.create_task(self.elector.acquire())
            tasks = [stopper, acquire]
            log.info(
                "standing by as %s for leader lease %s/%s",
                self.identity,
                self.namespace,
                le.lease_name,
            )
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            if not acquire.done():
                return 0  # stopped while standing by: nothing held, nothing to release
            acquire.result()
            return await self._lead(stop, stopper, tasks)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            self._leader_metrics.leader.set(0)
            if self.server is not None:
                await self.server.stop()
            if client is not None:
                await client.close()
            for handle in stores:
                handle.close()

    async def _lead(
        self, stop: asyncio.Event, stopper: asyncio.Task[object], tasks: list[asyncio.Task[object]]
    ) -> int:
        assert self.elector is not None
        resume = self._resume_point()
        log.info(
            "leading as %s; resuming from %s",
            self.identity,
            f"resourceVersion {resume} (published by the previous leader)"
            if resume
            else "the local checkpoint, else a relist",
        )
        self._leader_metrics.leader.set(1)
        exporter_stop = asyncio.Event()
        # The Lease's namespace as resolved here: the heartbeat may be about the Lease.
        election = msgspec.structs.replace(self.config.leader_election, namespace=self.namespace)
        self.exporter = Exporter(
            msgspec.structs.replace(self.config, listen=None, leader_election=election),
            metrics=self.metrics,
            progress=self._progress,
            resume_resource_version=resume,
        )
        export: asyncio.Task[object] = asyncio.create_task(self.exporter.run(exporter_stop))
        renew: asyncio.Task[object] = asyncio.create_task(self.elector.renew())
        tasks += [export, renew]
        waiting = {export, renew, stopper}
        while True:
            done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if renew in done:
                return await self._lost(export)
            if export in done:
                break
            # SIGTERM: drain (bounded by shutdown_timeout) while the lease is still renewed.
            exporter_stop.set()
            waiting.discard(stopper)
        renew.cancel()
        await asyncio.gather(renew, return_exceptions=True)
        self._leader_metrics.leader.set(0)
        started = time.monotonic()
        released = await self.elector.release()
        log.info(
            "%s leader lease after %.2fs",
            "released" if released else "could not release",
            time.monotonic() - started,
        )
        code = export.result()
        assert isinstance(code, int)
        return code

    async def _lost(self, export: asyncio.Task[object]) -> int:
        assert self.elector is not None
        # Stop acting at once: another replica may be exporting already. Nothing is lost:
        # only acknowledged resume points were ever published.
        export.cancel()
        await asyncio.gather(export, return_exceptions=True)
        self._leader_metrics.leader.set(0)
        with contextlib.suppress(Exception):
            await self.elector.release()
        log.error(
            "leadership lost: stopped exporting; exiting with code %d so that this replica "
            "restarts as a standby",
            EXIT_LEADERSHIP_LOST,
        )
        return EXIT_LEADERSHIP_LOST

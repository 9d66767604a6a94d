"""``Exporter``: wires config, cluster, sinks, pipeline, source, checkpoint and endpoints.

Shutdown (SIGTERM/SIGINT, or ``stop`` set): stop reading the watch, flush what is queued
within the deadline, save the checkpoint for what every sink acknowledged, exit 0. Anything
not acknowledged by then is simply not checkpointed, so the next start exports it again.
A background task that dies takes the same path, and the exit code is then 1.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from kubevents.errors import KubeError, StatusError
from kubevents.export._access import check_access
from kubevents.export._acklog import AckLog
from kubevents.export._capture import CaptureWriter
from kubevents.export._checkpointer import Checkpointer
from kubevents.export._config import (
    ConfigError,
    ExportConfig,
    SinkConfig,
)
from kubevents.export._heartbeatconfig import HeartbeatTarget
from kubevents.export._metrics import ExportMetrics
from kubevents.export._pipeline import Pipeline
from kubevents.export._rules import compile_rules
from kubevents.export._source import ListWatchSettings, ListWatchSource
from kubevents.export._startup import (
    build_sink,
    close_sinks,
    open_capture,
    open_dead_letter,
    start_sinks,
)
from kubevents.export._state import EventTracker, load_checkpoint
from kubevents.export._supervisor import TaskSupervisor
from kubevents.export._topology import routes
from kubevents.export._transforms import Transforms
from kubevents.export.sinks import DeadLetterFile, Sink
from kubevents.kube import KubeClient

if TYPE_CHECKING:
    # Loaded when the configuration asks for them (the heartbeat's recorder, the metadata
    # caches, the HTTP server), not by every start.
    from kubevents.export._heartbeat import Heartbeat
    from kubevents.export._metacache import MetadataCaches
    from kubevents.export._server import HealthReport, MetricsServer

__all__ = ["Exporter", "build_sink"]

log = logging.getLogger(__name__)

EXIT_FAILED = 1


class Exporter:
    """The export service. ``await exporter.run(stop)`` returns the process exit code."""

    def __init__(
        self,
        config: ExportConfig,
        *,
        client: KubeClient | None = None,
        sinks: Sequence[Sink] | None = None,
        metrics: ExportMetrics | None = None,
        progress: bool = False,
        resume_resource_version: str | None = None,
    ) -> None:
        self.config = config
        # A resume point handed over by a previous leader (export/_leader.py); it wins over
        # the local checkpoint's, which belongs to whenever this replica last led.
        self._resume_rv = resume_resource_version
        self.metrics = metrics or ExportMetrics()
        self._client = client
        self._own_client = client is None
        self._sinks = list(sinks) if sinks is not None else None
        self._progress = progress
        self.pipeline: Pipeline | None = None
        self.source: ListWatchSource | None = None
        self.checkpointer: Checkpointer | None = None
        self.server: MetricsServer | None = None
        self.caches: MetadataCaches | None = None
        self.heartbeat: Heartbeat | None = None
        self._heartbeat_task: asyncio.Task[None] | None = None
        self.supervisor = TaskSupervisor(self.metrics)
        self._started = asyncio.Event()

    async def wait_started(self) -> None:
        await self._started.wait()

    async def _connect(self) -> KubeClient:
        c = self.config
        try:
            client = await KubeClient.connect(c.kubeconfig, c.context, in_cluster=c.in_cluster)
        except ConfigError as exc:
            raise ConfigError(f"kubeconfig: {exc}") from None
        # One cheap LIST proves the cluster is reachable, the identity may list Events and
        # the selectors parse (a 400 here is a bad selector); the access reviews name every
        # verb that is missing. Neither waits for the other; the LIST's verdict comes first.
        probe, access = await asyncio.gather(
            client.events.list(
                c.namespace,
                field_selector=c.field_selector,
                label_selector=c.label_selector,
                limit=1,
            ),
            check_access(client, c),
            return_exceptions=True,
        )
        try:
            for outcome in (probe, access):
                if isinstance(outcome, BaseException):
                    raise outcome
        except StatusError as exc:
            await client.close()
            if exc.code == 400:
                which = "field_selector" if "field" in exc.message.lower() else "label_selector"
                raise ConfigError(f"{which}: rejected by the API server: {exc.message}") from None
            raise ConfigError(f"cluster {client.cluster.host}: {exc}") from None
        except KubeError as exc:
            await client.close()
            raise ConfigError(f"cluster {client.cluster.host} is not reachable: {exc}") from None
        except BaseException:
            await client.close()
            raise
        return client

    async def _start_sinks(self) -> tuple[list[Sink], list[SinkConfig] | None]:
        """The sinks, started, and their configurations (None for sinks given as objects)."""
        return await start_sinks(self.config, self._sinks)

    async def _open(self) -> tuple[KubeClient, list[Sink], list[SinkConfig] | None]:
        """The client (connected, its checks passed) and the started sinks.

        Both at once: the sinks' connections (a Kafka producer's bootstrap, say) need nothing
        from the cluster, and neither waits for the other's round trips. When either fails the
        other is closed again, and the cluster's error is the one raised.
        """
        if self._client is not None:
            return (self._client, *await self._start_sinks())
        # The sinks first: their first round trip is then in flight while the cluster's
        # client library imports.
        started, connected = await asyncio.gather(
            self._start_sinks(), self._connect(), return_exceptions=True
        )
        if isinstance(connected, BaseException):
            if not isinstance(started, BaseException):
                await close_sinks(started[0])
            raise connected
        if isinstance(started, BaseException):
            await connected.close()
            raise started
        return (connected, *started)

    def health(self) -> HealthReport:
        from kubevents.export._server import HealthReport

        problems: list[str] = []
        c = self.config
        source, pipeline, checkpointer = self.source, self.pipeline, self.checkpointer
        details: dict[str, object] = {}
        if self.supervisor.failure is not None:
            problems.append(str(self.supervisor.failure))
        if source is None or pipeline is None or checkpointer is None:
            return HealthReport(False, False, (*problems, "starting"), details)
        idle = time.monotonic() - source.last_progress
        if idle > c.health.stall_after:
            problems.append(f"watch stalled: no event and no re-watch for {idle:.0f}s")
        for name, seconds, error in pipeline.failing_sinks():
            if seconds > c.health.sink_failing_after:
                problems.append(f"sink {name} has been failing for {seconds:.0f}s: {error}")
        stale = checkpointer.stale_for()
        if stale > c.health.checkpoint_stale_after:
            problems.append(f"checkpoint not saved for {stale:.0f}s: {checkpointer.last_error}")
        if self.heartbeat is not None:
            problems += self.heartbeat.problems()
            details["heartbeat_age_seconds"] = self.heartbeat.ages()
        details.update(
            watching=source.watching,
            synced=source.synced,
            resource_version=source.resource_version,
            checkpoint=pipeline.acklog.resource_version,
            buffer_depth=pipeline.depths(),
            acknowledged=pipeline.acknowledged,
        )
        return HealthReport(not problems, source.synced, tuple(problems), details)

    async def _progress_loop(self) -> None:
        assert self.source is not None and self.pipeline is not None
        source, pipeline = self.source, self.pipeline
        while not (source.synced and pipeline.idle()):
            total = source.initial_list_total
            done = source.initial_list_done
            of = f"/{total}" if total else ""
            sys.stderr.write(
                f"\rbackfill: listed {done}{of} events, stored {pipeline.acknowledged} occurrences"
            )
            sys.stderr.flush()
            await asyncio.sleep(0.2)
        sys.stderr.write(f"\rbackfill: done, {pipeline.acknowledged} occurrences stored\n")

    async def run(self, stop: asyncio.Event) -> int:
        """Export until ``stop`` is set or a background task dies; return the exit code.

        Raises ``ConfigError`` for an unusable configuration (before anything is exported).
        """
        c = self.config
        heartbeat_target = _heartbeat_object(c)  # before connecting: a config error is exit 2
        client, sinks, sink_configs = await self._open()
        dead_letter: DeadLetterFile | None = None
        capture: CaptureWriter | None = None
        supervisor = self.supervisor
        try:
            dead_letter = await open_dead_letter(c)
            capture = open_capture(c, self.metrics)
            checkpoint = load_checkpoint(c.checkpoint_path())
            if checkpoint is not None and checkpoint.cluster != c.cluster_name:
                log.warning(
                    "checkpoint %s belongs to cluster %r, not %r: ignoring it",
                    c.checkpoint_path(),
                    checkpoint.cluster,
                    c.cluster_name,
                )
                checkpoint = None
            tracker = EventTracker(checkpoint, ttl_seconds=c.state_ttl)
            start_rv = self._resume_rv or (checkpoint.resource_version if checkpoint else None)
            sink_routes = routes(c, sinks, sink_configs, dead_letter)
            self.pipeline = Pipeline(
                sink_routes,
                tracker,
                AckLog(start_rv),
                self.metrics,
                supervisor=supervisor,
            )
            self.checkpointer = Checkpointer(
                c.checkpoint_path(),
                c.cluster_name,
                tracker,
                self.pipeline,
                self.metrics,
                interval=c.checkpoint_interval,
                saved_resource_version=start_rv,
            )
            watch_timeout = None if c.watch_timeout is None else int(c.watch_timeout)
            if c.enrich is not None:
                from kubevents.export._metacache import MetadataCaches

                self.caches = MetadataCaches(
                    client, c.enrich, self.metrics, namespace=c.namespace,
                    watch_timeout=watch_timeout,
                )  # fmt: skip
            transforms = Transforms(
                self.pipeline.submit,
                tracker,
                self.metrics,
                cluster=c.cluster_name,
                rules=compile_rules(c.rules),
                time_window=c.time_window.window(),
                capture=capture,
                enrich=None if self.caches is None else self.caches.enricher,
            )
            self.source = ListWatchSource(
                client,
                transforms,
                self.metrics,
                settings=ListWatchSettings(
                    namespace=c.namespace,
                    field_selector=c.field_selector,
                    label_selector=c.label_selector,
                    page_size=c.page_size,
                    watch_timeout=watch_timeout,
                ),
            )
            if heartbeat_target is not None:
                from kubevents.export._heartbeat import plan_heartbeat

                self.heartbeat = plan_heartbeat(c, heartbeat_target, sink_routes, self.metrics)
            if self.heartbeat is not None:
                self.pipeline.watch_heartbeats(self.heartbeat.matches, self.heartbeat.stored)
            if c.listen is not None:
                await self._serve(c.listen)
            await self.pipeline.start()
            if self.caches is not None:
                await self._sync_caches(self.caches, stop)
            watch_task = supervisor.spawn(self.source.run(start_rv), "watcher")
            supervisor.spawn(self.checkpointer.run(), "checkpoint")
            if self.heartbeat is not None:
                self._heartbeat_task = supervisor.spawn(
                    self.heartbeat.run(client), "heartbeat", forever=False
                )
            if self._progress:
                supervisor.spawn(self._progress_loop(), "progress", forever=False)
            self._started.set()
            log.info(
                "exporting events of cluster %r from %s to %s (resume: %s)",
                c.cluster_name,
                client.cluster.host,
                ", ".join(s.name for s in sinks),
                start_rv or "relist",
            )
            stopping = asyncio.create_task(stop.wait())
            failing = asyncio.create_task(supervisor.failed.wait())
            await asyncio.wait([stopping, failing], return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            failing.cancel()
            return await self._drain(watch_task)
        finally:
            await supervisor.cancel_all()
            if self.pipeline is not None:
                await self.pipeline.stop()
            for sink in sinks:
                with contextlib.suppress(Exception):
                    await sink.close()
            if dead_letter is not None:
                dead_letter.close()
            if capture is not None:
                capture.close()
            if self.server is not None:
                await self.server.stop()
            if self._own_client:
                await client.close()

    async def _sync_caches(self, caches: MetadataCaches, stop: asyncio.Event) -> None:
        """Start the metadata caches; export once their first LISTs are in (or the timeout):
        occurrences exported before would all be misses."""
        assert self.config.enrich is not None
        self.supervisor.spawn(caches.run(), "enrich")
        timeout = self.config.enrich.sync_timeout
        began = time.monotonic()
        synced = asyncio.create_task(caches.wait_synced(timeout))
        stopping = asyncio.create_task(stop.wait())
        await asyncio.wait([synced, stopping], return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        synced.cancel()
        if stop.is_set():
            return
        if synced.result():
            log.info("metadata caches synced in %.1fs", time.monotonic() - began)
        else:
            pending = [k for k, cache in caches.caches.items() if not cache.synced]
            log.warning(
                "metadata caches of %s not synced after %.0fs (enrich.sync_timeout): exporting "
                "anyway; their occurrences are misses (not_synced) until they are",
                ", ".join(pending), timeout,
            )  # fmt: skip

    async def _serve(self, listen: str) -> None:
        from kubevents.export._server import serve

        self.server = await serve(self.metrics.registry, self.health, listen)

    async def _drain(self, watch_task: asyncio.Task[None]) -> int:
        assert self.pipeline is not None and self.checkpointer is not None
        failure = self.supervisor.failure
        if failure is not None:
            log.error("stopping after a failure: %s", failure)
        deadline = self.config.shutdown_timeout
        started = time.monotonic()
        stopping = [watch_task]  # stop reading, keep what is queued
        if self._heartbeat_task is not None:
            stopping.append(self._heartbeat_task)  # no beat could arrive any more
        for task in stopping:
            task.cancel()
        await asyncio.gather(*stopping, return_exceptions=True)
        flushed = await self.pipeline.drain(max(0.0, deadline - 1.0))
        await self.pipeline.stop()
        saved = await self.checkpointer.save()
        log.info(
            "stopped in %.1fs: %s; checkpoint %s at resourceVersion %s",
            time.monotonic() - started,
            "everything queued was stored"
            if flushed
            else "deadline hit, unstored events will be re-sent",
            "saved" if saved else "NOT saved",
            self.checkpointer.saved_resource_version,
        )
        return EXIT_FAILED if failure is not None or not saved else 0


def _heartbeat_object(config: ExportConfig) -> HeartbeatTarget | None:
    if not config.heartbeat.enabled:
        return None  # and the recorder behind the heartbeat is not imported
    from kubevents.export._heartbeat import heartbeat_object

    return heartbeat_object(config)

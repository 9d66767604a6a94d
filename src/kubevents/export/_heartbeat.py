"""The heartbeat: an Event the exporter records about itself, and its arrival in every sink.

Every ``interval`` the exporter records one Event about its own Pod (or its leader-election
Lease) through ``kubevents.record``. The recorder's correlator turns the repeats into count
bumps of that one Event (a PATCH each), so each beat is a new occurrence (``<uid>:<count>``)
that the watch delivers like any other and the pipeline hands to every sink. When a sink's
write of a heartbeat occurrence succeeds, the time that beat was recorded becomes the sink's
newest heartbeat; ``kubevents_heartbeat_age_seconds{sink}`` is now minus that time: API server,
watch, pipeline, buffer and sink, end to end.

- Sinks whose own ``rules`` exclude the heartbeat Event (rules are fixed, and so is the
  Event) are left out at start: no age for them, no health effect. If the top-level rules or
  ``namespace`` exclude it, no sink has an age (with ``required`` that is exit 2).
- Heartbeat occurrences pass by the sinks' throttles (``Pipeline.watch_heartbeats``).
- Without ``events`` create/patch in its namespace (a 403, or a self access review saying
  so at start) the heartbeat turns off: one log line, ``kubevents_heartbeat_failures_total
  {reason="forbidden"}``, ``kubevents_heartbeat_enabled`` 0, and health unaffected.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import time
from collections import OrderedDict
from collections.abc import Sequence

from kubevents.errors import KubeError, StatusError
from kubevents.export._access import heartbeat_permissions, missing_permissions
from kubevents.export._config import ConfigError, ExportConfig
from kubevents.export._fields import DocumentInvolvedObject, DocumentSource, EventFields, FieldsMeta
from kubevents.export._heartbeatconfig import (
    HEARTBEAT_COMPONENT,
    HeartbeatConfig,
    HeartbeatTarget,
    heartbeat_target,
)
from kubevents.export._metrics import ExportMetrics
from kubevents.export._occurrence import Occurrence
from kubevents.export._pipeline import Route
from kubevents.export._rules import compile_rules
from kubevents.export.sinks import Rejected
from kubevents.kube import KubeClient, in_cluster_namespace
from kubevents.model import Event, EventSource
from kubevents.record import CorrelatorOptions, EventBroadcaster, KubeEventSink

__all__ = [
    "Heartbeat",
    "heartbeat_fields",
    "heartbeat_message",
    "heartbeat_object",
    "plan_heartbeat",
]

log = logging.getLogger(__name__)

# Precise recording times of the latest beats, by (uid, count): the Event itself carries its
# time in whole seconds only. Older beats fall back to that.
_REMEMBERED = 256
_HTTP_FORBIDDEN = 403


def heartbeat_message(config: HeartbeatConfig) -> str:
    """The Event's message: constant, so that the correlator counts the beats on one Event."""
    return (
        f"kubevents export is running: this Event's count grows every {config.interval:g}s; "
        "its arrival in each sink is measured as kubevents_heartbeat_age_seconds"
    )


def heartbeat_fields(config: HeartbeatConfig, target: HeartbeatTarget) -> EventFields:
    """The heartbeat Event as the rules see it (every field a rule can name)."""
    return EventFields(
        metadata=FieldsMeta(namespace=target.namespace),
        involved_object=DocumentInvolvedObject(
            target.kind, target.namespace, target.name, target.uid, target.api_version
        ),
        reason=config.reason,
        message=heartbeat_message(config),
        source=DocumentSource(HEARTBEAT_COMPONENT, socket.gethostname()),
        type="Normal",
        count=1,
        reporting_controller=HEARTBEAT_COMPONENT,
    )


def heartbeat_object(config: ExportConfig) -> HeartbeatTarget | None:
    """What the heartbeat ``config`` asks for is about (None when it is off); ``ConfigError``
    naming the field when that cannot be known (no ``$POD_NAME``, say)."""
    heartbeat, le = config.heartbeat, config.leader_election
    if not heartbeat.enabled:
        return None
    return heartbeat_target(
        heartbeat,
        lease_name=le.lease_name if le.enabled else None,
        lease_namespace=(le.namespace or in_cluster_namespace()) if le.enabled else None,
    )


def plan_heartbeat(
    config: ExportConfig,
    target: HeartbeatTarget,
    routes: Sequence[Route],
    metrics: ExportMetrics,
) -> Heartbeat | None:
    """The heartbeat about ``target``, with the sinks it can reach; None when none can.

    ``ConfigError`` (exit 2) when it is ``required`` and no sink can ever receive it.
    """
    heartbeat = config.heartbeat
    fields = heartbeat_fields(heartbeat, target)
    top = compile_rules(config.rules)
    dropped = None if top is None else top(fields)
    covered: list[str] = []
    if config.namespace is not None and config.namespace != target.namespace:
        nowhere = (
            f"the exporter watches namespace {config.namespace!r} only and the heartbeat Event "
            f"is in {target.namespace!r}"
        )
    elif dropped is not None:
        nowhere = f"the top-level rule {dropped} drops it"
    else:
        for route in routes:
            rule = None if route.rules is None else route.rules(fields)
            if rule is None:
                covered.append(route.sink.name)
            else:
                log.info(
                    "heartbeat: sink %s's rule %s excludes the heartbeat Event; no heartbeat "
                    "age for that sink",
                    route.sink.name,
                    rule,
                )
        nowhere = "" if covered else "every sink's rules exclude it"
    if nowhere:
        if heartbeat.required:
            raise ConfigError(f"heartbeat.required: no sink can receive the heartbeat: {nowhere}")
        log.warning("heartbeat off: no sink can receive it (%s)", nowhere)
        return None
    return Heartbeat(heartbeat, target, covered, metrics)


class Heartbeat:
    """Records the beats (``run``, a supervised task) and measures their arrival per sink."""

    def __init__(
        self,
        config: HeartbeatConfig,
        target: HeartbeatTarget,
        sinks: Sequence[str],
        metrics: ExportMetrics,
    ) -> None:
        self.config = config
        self.target = target
        self.sinks = list(sinks)  # those whose rules let the heartbeat through
        self._metrics = metrics
        self.enabled = True
        self.started = time.time()
        self._newest: dict[str, float] = {}
        self._recorded: OrderedDict[tuple[str, int], float] = OrderedDict()
        self._covered = frozenset(self.sinks)
        self._off = asyncio.Event()
        metrics.heartbeat_enabled.set(1)
        metrics.heartbeat_ages.source = self.ages

    # -- arrival ---------------------------------------------------------------------------

    def matches(self, event: EventFields) -> bool:
        """Whether ``event`` is this exporter's heartbeat (any beat, earlier runs' too)."""
        if event.reason != self.config.reason:
            return False
        ref, target = event.involved_object, self.target
        return (
            ref.name == target.name
            and ref.namespace == target.namespace
            and ref.kind == target.kind
            and event.source.component == HEARTBEAT_COMPONENT
        )

    def stored(
        self, sink: str, occurrences: Sequence[Occurrence], rejected: Sequence[Rejected]
    ) -> None:
        """A write to ``sink`` succeeded: note the newest heartbeat it holds now."""
        if sink not in self._covered:
            return
        newest = self._newest.get(sink, float("-inf"))
        refused = {r.occurrence.id for r in rejected} if rejected else ()
        for occurrence in occurrences:
            if not self.matches(occurrence.event) or occurrence.id in refused:
                continue
            at = self._recorded.get((occurrence.uid, occurrence.count))
            if at is None:
                at = occurrence.time.timestamp()
            newest = max(newest, at)
        if newest > float("-inf"):
            self._newest[sink] = newest

    def ages(self) -> dict[str, float]:
        """Seconds since each covered sink's newest heartbeat (since the start, before one);
        empty while the heartbeat is off."""
        if not self.enabled:
            return {}
        now = time.time()
        return {
            sink: max(0.0, now - max(self.started, self._newest.get(sink, self.started)))
            for sink in self.sinks
        }

    def problems(self) -> list[str]:
        """With ``required``: one line per sink whose newest heartbeat is too old."""
        if not self.config.required:
            return []
        limit = self.config.max_age
        return [
            f"heartbeat: sink {sink} has stored no heartbeat for {age:.1f}s "
            f"(heartbeat.max_age {limit:g}s)"
            for sink, age in self.ages().items()
            if age > limit
        ]

    # -- recording -------------------------------------------------------------------------

    def _turn_off(self, why: str) -> None:
        if not self.enabled:
            return
        self.enabled = False
        self._off.set()
        self._metrics.heartbeat_enabled.set(0)
        self._metrics.heartbeat_failures.labels("forbidden").inc()
        log.warning(
            "heartbeat off: %s; the exporter runs without it (the Role kubevents-heartbeat in "
            "deploy/10-rbac.yaml grants them)",
            why,
        )

    def written(self, sent: Event, written: Event) -> None:
        """The API server accepted a beat (``sent`` carries its precise time)."""
        self._metrics.heartbeats_sent.inc()
        if sent.last_timestamp is None:
            return
        recorded = self._recorded
        recorded[(written.uid, written.count)] = sent.last_timestamp.timestamp()
        while len(recorded) > _REMEMBERED:
            recorded.popitem(last=False)

    def failed(self, error: Exception, verb: str) -> None:
        """A write of a beat failed (the recorder retries what may pass)."""
        if isinstance(error, StatusError) and error.code == _HTTP_FORBIDDEN:
            self._turn_off(
                f"the API server refused to {verb} events in namespace "
                f"{self.target.namespace!r} (403)"
            )
        else:
            self._metrics.heartbeat_failures.labels("failed").inc()

    async def _may_record(self, client: KubeClient) -> bool:
        """Ask first: without the permissions, no request is made at all."""
        try:
            missing = await missing_permissions(
                client, heartbeat_permissions(self.target.namespace)
            )
        except KubeError as exc:
            # Self-reviews refused or the server away: the writes themselves will tell.
            log.debug("cannot check the heartbeat's permissions (%s)", exc)
            return True
        if missing:
            try:
                who = await client.whoami()
            except KubeError:
                who = "this identity"
            verbs = " and ".join(p.verb for p in missing)
            self._turn_off(f"{who} may not {verbs} events in namespace {self.target.namespace!r}")
            return False
        return True

    async def run(self, client: KubeClient) -> None:
        """Record a beat every ``interval`` until cancelled or forbidden."""
        if not await self._may_record(client):
            return
        interval = self.config.interval
        broadcaster = EventBroadcaster(
            # The spam filter (25, then one per 5 minutes per object) would silence a steady
            # beat; this lets twice the configured rate through.
            correlator_options=CorrelatorOptions(qps=2.0 / interval),
            sleep_duration=min(10.0, interval),
        )
        broadcaster.start_recording_to_sink(_WatchedSink(KubeEventSink(client), self))
        recorder = broadcaster.new_recorder(
            EventSource(component=HEARTBEAT_COMPONENT, host=socket.gethostname())
        )
        reference = self.target.reference()
        message = heartbeat_message(self.config)
        log.info(
            "heartbeat: recording %s about %s every %gs",
            self.config.reason,
            self.target.describe(),
            interval,
        )
        try:
            while self.enabled:
                recorder.event(reference, "Normal", self.config.reason, message)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._off.wait(), interval)
        finally:
            await broadcaster.ashutdown(timeout=1.0)


class _WatchedSink:
    """The API sink, reporting each write's outcome to the heartbeat."""

    def __init__(self, sink: KubeEventSink, heartbeat: Heartbeat) -> None:
        self._sink = sink
        self._heartbeat = heartbeat

    async def create(self, event: Event) -> Event:
        try:
            written = await self._sink.create(event)
        except Exception as exc:
            self._heartbeat.failed(exc, "create")
            raise
        self._heartbeat.written(event, written)
        return written

    async def update(self, event: Event) -> Event:
        try:
            written = await self._sink.update(event)
        except Exception as exc:
            self._heartbeat.failed(exc, "update")
            raise
        self._heartbeat.written(event, written)
        return written

    async def patch(self, event: Event, patch: bytes) -> Event:
        try:
            written = await self._sink.patch(event, patch)
        except Exception as exc:
            # A 404 (the Event expired) becomes a create; not a failure of the heartbeat.
            if not (isinstance(exc, StatusError) and exc.code == 404):
                self._heartbeat.failed(exc, "patch")
            raise
        self._heartbeat.written(event, written)
        return written

"""The checkpoint loop: persist what every sink acknowledged, and say so when it cannot.

Acknowledgements are pushed to it (``progressed``); it saves at most once per ``interval``. The
snapshot of the tracker is taken on the event loop, which is the only place the tracker
changes, so it is consistent; encoding and the atomic write run in a worker thread. A failed
write (disk full, a directory where the file should be, a read-only volume) does not stop the
exporter: it is logged once per distinct cause, counted, and retried with backoff, and health
turns red once it has lasted ``stale_after`` (a restart would replay everything since the last
good checkpoint, which the sinks' idempotent ids absorb but which costs time).
"""

from __future__ import annotations

import asyncio
import errno
import logging
import time
from pathlib import Path
from typing import Protocol

from kubevents.export._acklog import AckLog
from kubevents.export._metrics import ExportMetrics
from kubevents.export._state import EventTracker, save_checkpoint

__all__ = ["Checkpointer"]

log = logging.getLogger(__name__)

# The tracker forgets Events older than the state TTL; checking every few minutes is plenty.
PRUNE_INTERVAL = 300.0
RETRY_MAX_INTERVAL = 30.0


class _Progress(Protocol):
    """What the checkpoint needs from the pipeline: the resume point, a progress count, and
    an event set whenever either moves."""

    @property
    def acklog(self) -> AckLog: ...

    @property
    def acknowledged(self) -> int: ...

    @property
    def progressed(self) -> asyncio.Event: ...


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.errno is not None:
        return (errno.errorcode.get(exc.errno) or "io_error").lower()
    return type(exc).__name__


class Checkpointer:
    """Saves the checkpoint every ``interval`` seconds while there is progress to save."""

    def __init__(
        self,
        path: Path,
        cluster: str,
        tracker: EventTracker,
        progress: _Progress,
        metrics: ExportMetrics,
        *,
        interval: float,
        saved_resource_version: str | None = None,
    ) -> None:
        self.path = path
        self._cluster = cluster
        self._tracker = tracker
        self._progress = progress
        self._metrics = metrics
        self._interval = interval
        self.saved_resource_version = saved_resource_version
        self._saved_acknowledged = -1
        self.failing_since: float | None = None
        self.last_error = ""
        self._last_prune = time.monotonic()

    def pending(self) -> bool:
        """Whether something was acknowledged since the last successful save."""
        p = self._progress
        return (
            p.acknowledged != self._saved_acknowledged
            or p.acklog.resource_version != self.saved_resource_version
        )

    def stale_for(self) -> float:
        """Seconds saves have been failing with progress unsaved (0 when they succeed)."""
        return 0.0 if self.failing_since is None else time.monotonic() - self.failing_since

    async def run(self) -> None:
        """Save after progress, at most once per interval, until cancelled; failures back off
        up to 30 s between attempts."""
        wait = self._interval
        progressed = self._progress.progressed
        while True:
            await progressed.wait()
            progressed.clear()
            if time.monotonic() - self._last_prune > PRUNE_INTERVAL:
                self._tracker.prune()
                self._last_prune = time.monotonic()
            if not self.pending():
                continue
            if await self.save():
                wait = self._interval
            else:
                wait = min(max(wait * 2, self._interval), RETRY_MAX_INTERVAL)
                progressed.set()  # retry without waiting for more progress
            await asyncio.sleep(wait)

    async def save(self) -> bool:
        """Write the checkpoint now; False (logged, counted) if the write failed."""
        p = self._progress
        resource_version = p.acklog.resource_version
        acknowledged = p.acknowledged
        snapshot = self._tracker.snapshot(self._cluster, resource_version)
        try:
            await asyncio.to_thread(save_checkpoint, self.path, snapshot)
        except Exception as exc:
            self._failed(exc)
            return False
        if self.failing_since is not None:
            log.info(
                "checkpoint %s saved again after %.0fs of failures",
                self.path,
                time.monotonic() - self.failing_since,
            )
        self.failing_since = None
        self.last_error = ""
        self.saved_resource_version = resource_version
        self._saved_acknowledged = acknowledged
        self._metrics.checkpoints.inc()
        self._metrics.last_checkpoint.set(snapshot.saved_at)
        self._metrics.tracked_events.set(len(self._tracker))
        return True

    def _failed(self, exc: Exception) -> None:
        reason = _reason(exc)
        self._metrics.checkpoint_failures.labels(reason).inc()
        # The cause without the temporary file's random name, so a repeat is recognised.
        error = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        error = error or type(exc).__name__
        if self.failing_since is None:
            self.failing_since = time.monotonic()
        if error != self.last_error:
            # Once per distinct cause, not once per attempt: the metric counts the attempts.
            log.error(
                "cannot save the checkpoint %s: %s; exporting continues, retrying with backoff "
                "(a restart would replay everything since the last saved checkpoint)",
                self.path,
                exc,
            )
        self.last_error = error

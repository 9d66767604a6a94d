"""Supervision of the exporter's background tasks: none of them may die unnoticed.

The watcher, the checkpoint loop, each sink's batcher and every write run as asyncio tasks. A
task that nobody awaits and that ends with an exception vanishes with it, and the process keeps
answering health checks while it exports nothing. Every such task is started here instead: an
unexpected end is logged once with its traceback, counted, turns health red, and wakes the
exporter, which drains what it can and exits non-zero so its supervisor (a Deployment,
systemd) restarts it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any

from kubevents.export._metrics import ExportMetrics

__all__ = ["TaskFailure", "TaskSupervisor"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TaskFailure:
    """The first background task that ended when it must not have, and why."""

    task: str
    error: BaseException

    def __str__(self) -> str:
        return f"background task {self.task} died: {type(self.error).__name__}: {self.error}"


class TaskSupervisor:
    """Starts background tasks and records the first one that fails.

    ``role`` names the task in logs and in ``kubevents_task_failures_total{task}``; it must be
    drawn from a bounded set (fixed names, sink names), never from event data.
    """

    def __init__(self, metrics: ExportMetrics | None = None) -> None:
        self._metrics = metrics
        self._tasks: set[asyncio.Task[Any]] = set()
        self.failure: TaskFailure | None = None
        self.failed = asyncio.Event()

    def spawn(
        self, coro: Coroutine[Any, Any, None], role: str, *, forever: bool = True
    ) -> asyncio.Task[None]:
        """Run ``coro`` as a task; with ``forever``, returning normally is a failure too."""
        task = asyncio.create_task(coro, name=role)
        self._tasks.add(task)
        task.add_done_callback(lambda t: self._ended(t, role, forever))
        return task

    def _ended(self, task: asyncio.Task[None], role: str, forever: bool) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is None:
            if not forever:
                return
            error = RuntimeError(f"{role} returned while the exporter was running")
        log.error("background task %s died; stopping the exporter", role, exc_info=error)
        if self._metrics is not None:
            self._metrics.task_failures.labels(role).inc()
        if self.failure is None:
            self.failure = TaskFailure(role, error)
        self.failed.set()

    async def cancel_all(self) -> None:
        """Cancel every task still running and wait for them to end."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

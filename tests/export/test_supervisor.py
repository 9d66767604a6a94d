"""TaskSupervisor: a background task that ends unexpectedly is never silent."""

from __future__ import annotations

import asyncio

import pytest

from kubevents.export import ExportMetrics, TaskSupervisor


async def test_a_task_that_raises_is_logged_counted_and_recorded(
    caplog: pytest.LogCaptureFixture,
) -> None:
    metrics = ExportMetrics()
    supervisor = TaskSupervisor(metrics)

    async def boom() -> None:
        raise ValueError("bad state")

    supervisor.spawn(boom(), "checkpoint")
    await asyncio.wait_for(supervisor.failed.wait(), 5)
    assert supervisor.failure is not None and supervisor.failure.task == "checkpoint"
    assert str(supervisor.failure) == "background task checkpoint died: ValueError: bad state"
    [record] = [r for r in caplog.records if "checkpoint died" in r.getMessage()]
    assert record.exc_info is not None  # the traceback is in the log
    assert metrics.task_failures.labels("checkpoint")._value.get() == 1


async def test_a_forever_task_that_returns_is_a_failure_and_a_finite_one_is_not() -> None:
    supervisor = TaskSupervisor()

    async def done() -> None:
        return None

    await supervisor.spawn(done(), "progress", forever=False)
    await asyncio.sleep(0)
    assert supervisor.failure is None and not supervisor.failed.is_set()
    await supervisor.spawn(done(), "watcher")
    await asyncio.sleep(0)
    assert supervisor.failure is not None and supervisor.failure.task == "watcher"
    assert "returned while the exporter was running" in str(supervisor.failure)


async def test_the_first_failure_is_kept_and_cancellation_is_not_a_failure() -> None:
    supervisor = TaskSupervisor()

    async def fail(message: str) -> None:
        raise RuntimeError(message)

    async def forever() -> None:
        await asyncio.Event().wait()

    supervisor.spawn(fail("first"), "a")
    await asyncio.wait_for(supervisor.failed.wait(), 5)
    supervisor.spawn(fail("second"), "b")
    waiting = supervisor.spawn(forever(), "c")
    await asyncio.sleep(0.01)
    assert supervisor.failure is not None and supervisor.failure.task == "a"
    await supervisor.cancel_all()
    assert waiting.cancelled()
    assert supervisor.failure.task == "a"

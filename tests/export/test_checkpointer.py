"""The checkpoint loop on real files: consistent snapshots, failures retried and reported."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from kubevents.export import AckLog, EventTracker, ExportMetrics, load_checkpoint
from kubevents.export._checkpointer import Checkpointer
from support import eventually


@dataclass
class Progress:
    acklog: AckLog = field(default_factory=lambda: AckLog("1"))
    acknowledged: int = 0


def make(path: Path, interval: float = 0.01) -> tuple[Checkpointer, EventTracker, Progress]:
    tracker = EventTracker()
    progress = Progress()
    return (
        Checkpointer(path, "c", tracker, progress, ExportMetrics(), interval=interval),
        tracker,
        progress,
    )


def acknowledge(tracker: EventTracker, progress: Progress, uid: str, rv: str) -> None:
    tracker.decide(uid, 1)
    tracker.stored(uid, 1)
    progress.acknowledged += 1
    progress.acklog.append(rv, 0)


async def test_saves_only_when_there_is_progress(tmp_path: Path) -> None:
    path = tmp_path / "cp"
    checkpointer, tracker, progress = make(path)
    assert checkpointer.pending()
    assert await checkpointer.save()
    assert not checkpointer.pending()
    acknowledge(tracker, progress, "u1", "2")
    assert checkpointer.pending()
    task = asyncio.create_task(checkpointer.run())
    await eventually(lambda: not checkpointer.pending(), "the loop to save")
    task.cancel()
    saved = load_checkpoint(path)
    assert saved is not None and saved.resource_version == "2" and set(saved.events) == {"u1"}


async def test_a_failing_save_is_retried_with_backoff_logged_once_and_recovers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "kubevents.export")
    path = tmp_path / "cp"
    path.mkdir()  # a directory where the file goes: every save fails, even as root
    checkpointer, tracker, progress = make(path)
    acknowledge(tracker, progress, "u1", "2")
    failures = checkpointer._metrics.checkpoint_failures.labels("eisdir")
    task = asyncio.create_task(checkpointer.run())
    await eventually(lambda: failures._value.get() >= 4, "repeated failures", within=10)
    assert checkpointer.stale_for() > 0 and checkpointer.last_error == "Is a directory"
    errors = [r for r in caplog.records if "cannot save the checkpoint" in r.getMessage()]
    assert len(errors) == 1
    path.rmdir()
    await eventually(lambda: not checkpointer.pending(), "the save to succeed", within=40)
    task.cancel()
    assert checkpointer.stale_for() == 0 and checkpointer.last_error == ""
    assert any("saved again" in r.getMessage() for r in caplog.records)
    saved = load_checkpoint(path)
    assert saved is not None and set(saved.events) == {"u1"}


async def test_the_retry_interval_doubles_up_to_the_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "cp"
    path.mkdir()
    checkpointer, tracker, progress = make(path, interval=1.0)
    acknowledge(tracker, progress, "u1", "2")
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) > 7:
            raise asyncio.CancelledError

    monkeypatch.setattr("kubevents.export._checkpointer.asyncio.sleep", sleep)
    with pytest.raises(asyncio.CancelledError):
        await checkpointer.run()
    assert waits == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from kubevents.export import Checkpoint, EventTracker, load_checkpoint, save_checkpoint


def test_new_repeated_and_gapped_counts() -> None:
    tracker = EventTracker()
    assert tracker.decide("u", 1).export
    assert not tracker.decide("u", 1).export  # a replay of the same occurrence
    assert tracker.decide("u", 2).export
    jump = tracker.decide("u", 7)
    assert jump.export and jump.missed == 4  # 3, 4, 5, 6 were never shown to us
    assert not tracker.decide("u", 5).export  # stale notification after a newer one
    # An Event first seen at count 5 (exporter started late): no gap can be claimed.
    first = tracker.decide("v", 5)
    assert first.export and first.missed == 0


def test_only_stored_counts_survive_a_restart() -> None:
    tracker = EventTracker()
    tracker.decide("u", 1)
    tracker.decide("u", 2)
    tracker.stored("u", 1)
    restored = EventTracker(tracker.snapshot("c", "10"))
    assert not restored.decide("u", 1).export
    assert restored.decide("u", 2).export  # dispatched but never stored: export again


def test_prune_keeps_in_flight_entries() -> None:
    tracker = EventTracker(ttl_seconds=100)
    tracker.decide("old-stored", 1, now=0)
    tracker.stored("old-stored", 1)
    tracker.decide("old-in-flight", 1, now=0)
    tracker.decide("fresh", 1, now=150)
    tracker.stored("fresh", 1)
    assert tracker.prune(now=150) == 1
    assert len(tracker) == 2


def test_checkpoint_round_trip_is_atomic(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "state.checkpoint"
    checkpoint = Checkpoint(cluster="prod", resource_version="42", events={"u": (3, 1.5)})
    save_checkpoint(path, checkpoint)
    loaded = load_checkpoint(path)
    assert loaded is not None
    assert (loaded.cluster, loaded.resource_version, loaded.events) == (
        "prod",
        "42",
        {"u": (3, 1.5)},
    )
    assert json.loads(path.read_bytes())["resourceVersion"] == "42"
    assert [p.name for p in path.parent.iterdir()] == ["state.checkpoint"]  # no temp files left


def test_missing_and_corrupt_checkpoints(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    assert load_checkpoint(tmp_path / "none") is None
    bad = tmp_path / "bad"
    bad.write_bytes(b'{"format": 1, "resourceVersion": ')
    assert load_checkpoint(bad) is None
    assert "unreadable checkpoint" in caplog.text
    future = tmp_path / "future"
    future.write_bytes(b'{"format": 99}')
    assert load_checkpoint(future) is None


def test_a_failed_save_leaves_the_old_checkpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "state"
    save_checkpoint(path, Checkpoint(cluster="c", resource_version="1"))

    def disk_full(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", disk_full)
    with pytest.raises(OSError, match="No space"):
        save_checkpoint(path, Checkpoint(cluster="c", resource_version="2"))
    monkeypatch.undo()
    loaded = load_checkpoint(path)
    assert loaded is not None and loaded.resource_version == "1"
    assert [p.name for p in tmp_path.iterdir()] == ["state"]  # the temp file was removed


@pytest.mark.parametrize(
    "data",
    [
        b'{"format":1,"x":' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b'{"format":1,"events":{"\xff":[1,2.0]}}',
    ],
    ids=["nested too deeply", "invalid UTF-8"],
)
def test_a_checkpoint_that_cannot_be_decoded_is_ignored(tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "checkpoint"
    path.write_bytes(data)
    assert load_checkpoint(path) is None

"""The JSON Lines sink and the dead-letter file, on real files."""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from kubevents.export._document import encode_lines
from kubevents.export.sinks._base import Rejected, Sink, SinkError
from kubevents.export.sinks._jsonl import DeadLetterFile, JSONLSink

from ._factory import make_batch, make_occurrence


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_bytes().splitlines()]


def names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def ids(path: Path) -> list[str]:
    return [doc["id"] for doc in lines(path)]


async def test_writes_one_document_per_line_and_appends_across_restarts(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "events.jsonl"
    sink: Sink = JSONLSink(path)
    assert isinstance(sink, Sink) and sink.name == "jsonl"
    await sink.start()
    batch = make_batch(3)
    result = await sink.write(batch)
    assert list(result.rejected) == []
    assert path.read_bytes() == encode_lines(batch)
    await sink.close()

    again = JSONLSink(path, name="again")
    await again.start()
    await again.write(make_batch(2, start=3))
    await again.close()
    assert ids(path) == ["u0:1", "u1:1", "u2:1", "u3:1", "u4:1"]


async def test_a_returned_write_has_been_fsynced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "events.jsonl"
    synced: list[int] = []
    real_fsync = os.fsync

    def fsync(fd: int) -> None:
        real_fsync(fd)
        if os.path.samefile(f"/proc/self/fd/{fd}", path):
            synced.append(os.fstat(fd).st_size)

    monkeypatch.setattr(os, "fsync", fsync)
    sink = JSONLSink(path)
    await sink.start()
    await sink.write(make_batch(2))
    assert synced == [path.stat().st_size]  # the file, once, with the batch in it
    await sink.close()


async def test_never_writes_an_id_twice_within_a_process(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    sink = JSONLSink(path)
    await sink.start()
    await sink.write([make_occurrence("a"), make_occurrence("a"), make_occurrence("b")])
    await sink.write([make_occurrence("b"), make_occurrence("a", 2)])  # a replayed batch
    await sink.write([make_occurrence("a")])
    await sink.close()
    assert ids(path) == ["a:1", "b:1", "a:2"]


async def test_the_recent_ids_memory_is_bounded(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    sink = JSONLSink(path, recent_ids=2)
    await sink.start()
    await sink.write(make_batch(3))  # u0 is forgotten at once
    await sink.write([make_occurrence("u0"), make_occurrence("u2")])
    await sink.close()
    assert ids(path) == ["u0:1", "u1:1", "u2:1", "u0:1"]


async def test_rotation_keeps_the_configured_backups(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    one_line = len(encode_lines([make_occurrence("u0")]))
    sink = JSONLSink(path, max_bytes=2 * one_line, backups=2)
    await sink.start()
    for i in range(7):  # one line per write: two lines per file
        await sink.write([make_occurrence(f"u{i}")])
    await sink.close()
    assert ids(path) == ["u6:1"]
    assert ids(tmp_path / "events.jsonl.1") == ["u4:1", "u5:1"]
    assert ids(tmp_path / "events.jsonl.2") == ["u2:1", "u3:1"]
    assert names(tmp_path) == [
        "events.jsonl", "events.jsonl.1", "events.jsonl.2",
    ]  # fmt: skip


async def test_a_batch_is_never_split_across_files(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    sink = JSONLSink(path, max_bytes=10, backups=0)
    await sink.start()
    await sink.write(make_batch(3))
    await sink.write(make_batch(2, start=3))
    await sink.close()
    assert ids(path) == ["u3:1", "u4:1"]  # backups=0: the older file was dropped
    assert names(tmp_path) == ["events.jsonl"]


async def test_a_failed_write_is_rolled_back_then_retried_cleanly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "events.jsonl"
    sink = JSONLSink(path)
    await sink.start()
    await sink.write(make_batch(1))
    real_fsync = os.fsync
    failures = [OSError(errno.ENOSPC, "No space left on device")]

    def fsync(fd: int) -> None:
        if failures and os.path.samefile(f"/proc/self/fd/{fd}", path):
            raise failures.pop()
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    batch = make_batch(2, start=1)
    with pytest.raises(SinkError) as caught:
        await sink.write(batch)
    assert caught.value.reason == "disk_full"
    assert ids(path) == ["u0:1"]  # the half-done batch is gone
    await sink.write(batch)  # the pipeline's retry
    await sink.close()
    assert ids(path) == ["u0:1", "u1:1", "u2:1"]


async def test_disk_full_is_a_sink_error(tmp_path: Path) -> None:
    sink = JSONLSink(Path("/dev/full"))
    await sink.start()
    with pytest.raises(SinkError) as caught:
        await sink.write(make_batch(1))
    assert caught.value.reason == "disk_full"
    assert "/dev/full" in str(caught.value)
    await sink.close()


async def test_an_unusable_path_fails_at_start(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    sink = JSONLSink(tmp_path / "file" / "events.jsonl")
    with pytest.raises(SinkError) as caught:
        await sink.start()
    assert caught.value.reason == "not_a_directory"
    await sink.close()


@pytest.mark.parametrize(
    "make",
    [lambda p: JSONLSink(p, max_bytes=0), lambda p: JSONLSink(p, max_bytes=10, backups=-1)],
)
async def test_bad_rotation_settings_fail_at_start(
    tmp_path: Path, make: Callable[[Path], JSONLSink]
) -> None:
    sink = make(tmp_path / "events.jsonl")
    with pytest.raises(SinkError) as caught:
        await sink.start()
    assert caught.value.reason == "config"
    await sink.close()


async def test_a_closed_sink_refuses_writes(tmp_path: Path) -> None:
    sink = JSONLSink(tmp_path / "events.jsonl")
    await sink.start()
    await sink.close()
    await sink.close()  # idempotent
    with pytest.raises(SinkError):
        await sink.write(make_batch(1))


@pytest.mark.parametrize("path", [None, Path("-")])
async def test_stdout_mode(path: Path | None, capsys: pytest.CaptureFixture[str]) -> None:
    sink = JSONLSink(path)
    assert sink.path is None
    await sink.start()
    print("before")
    await sink.write(make_batch(2))
    await sink.write(make_batch(3))  # u0 and u1 were written already
    await sink.close()
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "before"
    assert [json.loads(line)["id"] for line in out[1:]] == ["u0:1", "u1:1", "u2:1"]


async def test_dead_letter_file_lines(tmp_path: Path) -> None:
    path = tmp_path / "dead" / "letters.jsonl"
    dead = DeadLetterFile(path)
    a, b = make_occurrence("a"), make_occurrence("b", 2)
    await dead("webhook", [Rejected(a, "http_400"), Rejected(b, "http_400")])
    await dead("es", [Rejected(a, "mapping")])
    await dead("es", [])
    dead.close()
    docs = lines(path)
    assert [list(d) for d in docs] == [["sink", "reason", "document"]] * 3
    assert [(d["sink"], d["reason"], d["document"]["id"]) for d in docs] == [
        ("webhook", "http_400", "a:1"), ("webhook", "http_400", "b:2"), ("es", "mapping", "a:1"),
    ]  # fmt: skip
    assert docs[0]["document"]["event"] == json.loads(a.raw)


async def test_dead_letter_failure_is_a_sink_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    dead = DeadLetterFile(tmp_path / "file" / "letters.jsonl")
    with pytest.raises(SinkError):
        await dead("webhook", [Rejected(make_occurrence(), "http_400")])
    dead.close()


async def test_an_external_copytruncate_is_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "events.jsonl"
    one_line = len(encode_lines([make_occurrence("u0")]))
    sink = JSONLSink(path, max_bytes=2 * one_line)
    await sink.start()
    await sink.write(make_batch(2))
    os.truncate(path, 0)  # what logrotate's copytruncate does
    real_fsync = os.fsync
    failures = [OSError(errno.EIO, "I/O error")]

    def fsync(fd: int) -> None:
        if failures and os.path.samefile(f"/proc/self/fd/{fd}", path):
            raise failures.pop()
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with pytest.raises(SinkError):
        await sink.write(make_batch(1, start=2))
    assert path.read_bytes() == b""  # rolled back to the real size, not past it
    await sink.write(make_batch(2, start=2))
    await sink.close()
    assert ids(path) == ["u2:1", "u3:1"]  # no rotation: the file was emptied
    assert names(tmp_path) == ["events.jsonl"]


async def test_a_deleted_file_is_recreated_instead_of_written_into_the_void(tmp_path: Path) -> None:
    path = tmp_path / "out" / "events.jsonl"
    sink = JSONLSink(path)
    await sink.start()
    await sink.write(make_batch(2))
    path.unlink()
    await sink.write(make_batch(2, start=2))
    assert ids(path) == ["u2:1", "u3:1"]
    await sink.close()


async def test_a_removed_directory_is_recreated(tmp_path: Path) -> None:
    path = tmp_path / "out" / "events.jsonl"
    sink = JSONLSink(path)
    await sink.start()
    await sink.write(make_batch(1))
    (tmp_path / "out").rename(tmp_path / "archived")
    await sink.write(make_batch(1, start=1))
    assert ids(path) == ["u1:1"]
    assert ids(tmp_path / "archived" / "events.jsonl") == ["u0:1"]
    await sink.close()


async def test_a_file_moved_away_and_replaced_is_followed_by_path(tmp_path: Path) -> None:
    path = tmp_path / "events.jsonl"
    sink = JSONLSink(path)
    await sink.start()
    await sink.write(make_batch(1))
    path.rename(tmp_path / "events.jsonl.old")
    path.write_bytes(b"")  # another program put a new file in its place
    await sink.write(make_batch(1, start=1))
    assert ids(path) == ["u1:1"]
    assert ids(tmp_path / "events.jsonl.old") == ["u0:1"]
    await sink.close()

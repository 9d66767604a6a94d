"""Files the exporter creates are private (0600) by default, whatever the umask, or get the
configured ``file_mode``; existing files keep theirs (with a warning when they are more open)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from kubevents.export.sinks import DeadLetterFile, JSONLSink, Rejected, SinkError, SQLiteSink

from ._factory import make_batch


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(params=[0o022, 0o000, 0o077], ids=["umask022", "umask000", "umask077"])
def umask(request: pytest.FixtureRequest) -> Iterator[int]:
    old = os.umask(request.param)
    try:
        yield request.param
    finally:
        os.umask(old)


@pytest.mark.parametrize("file_mode", [None, 0o640], ids=["default", "0640"])
async def test_the_store_and_its_wal_and_shm(
    tmp_path: Path, umask: int, file_mode: int | None
) -> None:
    path = tmp_path / "kubevents.db"
    options = {} if file_mode is None else {"file_mode": file_mode}
    sink = SQLiteSink(path, **options)  # type: ignore[arg-type]
    await sink.start()
    try:
        await sink.write(make_batch(3))
        expected = 0o600 if file_mode is None else file_mode
        # While the store is open, WAL mode keeps its -wal and -shm next to it.
        for name in ("kubevents.db", "kubevents.db-wal", "kubevents.db-shm"):
            assert mode(tmp_path / name) == expected, name
    finally:
        await sink.close()


@pytest.mark.parametrize("file_mode", [None, 0o640], ids=["default", "0640"])
async def test_json_lines_and_rotated_backups(
    tmp_path: Path, umask: int, file_mode: int | None
) -> None:
    path = tmp_path / "events.jsonl"
    options = {} if file_mode is None else {"file_mode": file_mode}
    sink = JSONLSink(path, max_bytes=1, backups=2, **options)  # type: ignore[arg-type]
    await sink.start()
    try:
        for i in range(3):  # every batch after the first rotates
            await sink.write(make_batch(1, start=i))
    finally:
        await sink.close()
    expected = 0o600 if file_mode is None else file_mode
    for name in ("events.jsonl", "events.jsonl.1", "events.jsonl.2"):
        assert mode(tmp_path / name) == expected, name


async def test_dead_letters(tmp_path: Path, umask: int) -> None:
    path = tmp_path / "dead" / "letters.jsonl"
    dead = DeadLetterFile(path)
    try:
        await dead.check()  # start-up: created empty, with the mode
        assert path.read_bytes() == b"" and mode(path) == 0o600
        await dead("sink", [Rejected(make_batch(1)[0], "http_400")])
        assert mode(path) == 0o600 and b"http_400" in path.read_bytes()
    finally:
        dead.close()


async def test_dead_letter_check_refuses_what_cannot_be_appended_to(tmp_path: Path) -> None:
    dead = DeadLetterFile(tmp_path)  # a directory
    try:
        with pytest.raises(SinkError) as info:
            await dead.check()
        assert info.value.reason == "is_directory"
    finally:
        dead.close()


async def test_existing_files_keep_their_mode_and_a_looser_one_is_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    loose = tmp_path / "events.jsonl"
    loose.write_bytes(b"")
    loose.chmod(0o644)
    tight = tmp_path / "other.jsonl"
    tight.write_bytes(b"")
    tight.chmod(0o600)
    for path in (loose, tight):
        sink = JSONLSink(path, file_mode=0o640)
        await sink.start()
        await sink.write(make_batch(1))
        await sink.close()
    assert (mode(loose), mode(tight)) == (0o644, 0o600)  # neither loosened nor tightened
    warnings = [r.getMessage() for r in caplog.records if "more open than" in r.getMessage()]
    assert len(warnings) == 1 and str(loose) in warnings[0] and "0644" in warnings[0]

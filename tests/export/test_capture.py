"""Capture files: what is written reads back, bounded, and a file cut short still reads."""

from __future__ import annotations

import gzip
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import kubevents.export._capture as capture
from kubevents.export import CaptureError, CaptureRecord, CaptureWriter, ExportMetrics, read_capture


def writer(path: Path, metrics: ExportMetrics, **bounds: int) -> CaptureWriter:
    settings = {"max_bytes": 1 << 30, "backups": 2, **bounds}
    w = CaptureWriter(path, file_mode=0o600, cluster="c", metrics=metrics, **settings)
    w.open()
    return w


def event_json(i: int) -> bytes:
    return b'{"metadata":{"uid":"u%d","resourceVersion":"%d"},"count":1,"message":"m\\n%d"}' % (
        i, i, i,
    )  # fmt: skip


def test_objects_and_marks_read_back_in_order(tmp_path: Path) -> None:
    path = tmp_path / "cap.gz"
    metrics = ExportMetrics()
    w = writer(path, metrics)
    w.object(event_json(1), None)  # a list item
    w.mark("5")  # the list's end
    w.object(b'{"metadata":\n{"uid":"u2"}}', "6")  # a line break between JSON tokens
    w.mark(None)
    w.close()
    records = list(read_capture([path]))
    assert [(r.resource_version, r.raw) for r in records] == [
        (None, event_json(1)),
        ("5", None),
        ("6", b'{"metadata": {"uid":"u2"}}'),
        (None, None),
    ]
    assert all(isinstance(r, CaptureRecord) and r.at > 1e9 for r in records)
    assert metrics.capture_records._value.get() == 4
    assert path.stat().st_mode & 0o777 == 0o600


def test_each_start_rotates_and_the_size_is_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(capture, "FLUSH_SECONDS", 0.0)  # check the size at every record
    path = tmp_path / "cap.gz"
    metrics = ExportMetrics()
    first = writer(path, metrics)
    first.mark("1")
    first.close()
    w = writer(path, metrics, max_bytes=4096, backups=2)  # the previous run becomes cap.gz.1
    assert read_capture_rvs([path.with_name("cap.gz.1")]) == ["1"]
    # Incompressible enough: messages of distinct random-looking text.
    rng = random.Random(7)
    for i in range(400):
        text = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(200))
        w.object(b'{"metadata":{"uid":"u%d"},"message":"%s"}' % (i, text.encode()), str(i))
    w.close()
    files = sorted(tmp_path.iterdir())
    assert [f.name for f in files] == ["cap.gz", "cap.gz.1", "cap.gz.2"]
    assert all(f.stat().st_size < 4096 + 1024 for f in files)
    # The newest records are kept, the oldest rotated away; each file reads on its own.
    newest = read_capture_rvs([path.with_name("cap.gz.2"), path.with_name("cap.gz.1"), path])
    assert newest[-1] == "399"
    assert newest == [str(i) for i in range(400 - len(newest), 400)]


def read_capture_rvs(paths: list[Path]) -> list[str | None]:
    return [r.resource_version for r in read_capture(paths)]


def test_a_file_cut_short_reads_up_to_its_last_complete_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(capture, "FLUSH_SECONDS", 0.0)
    path = tmp_path / "cap.gz"
    w = writer(path, ExportMetrics())
    for i in range(20):
        w.object(event_json(i), str(i))
    # A SIGKILL now: the file holds what was flushed, with no gzip trailer.
    killed = tmp_path / "killed.gz"
    shutil.copy(path, killed)
    w.close()
    assert read_capture_rvs([killed]) == [str(i) for i in range(20)]
    # Cut in the middle of the compressed stream too.
    data = killed.read_bytes()
    killed.write_bytes(data[: len(data) * 2 // 3])
    rvs = read_capture_rvs([killed])
    assert rvs == [str(i) for i in range(len(rvs))]


def test_a_line_that_does_not_decode_is_skipped_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "cap.gz"
    with gzip.open(path, "wb") as handle:
        handle.write(b'{"capture":1}\n{"at":1,"rv":"1"}\nnot json\n{"at":"x"}\n{"at":2,"rv":"2"}\n')
    metrics = ExportMetrics()
    assert [r.resource_version for r in read_capture([path], metrics)] == ["1", "2"]
    assert metrics.malformed.labels("capture")._value.get() == 2


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "not a readable file"),
        (b"plain text\n", "not a gzip capture file"),
        (gzip.compress(b'{"something": 1}\n'), "not a kubevents capture"),
        (gzip.compress(b'{"capture": 9}\n'), "capture format 9"),
        (gzip.compress(b""), "not a kubevents capture"),
    ],
)
def test_what_is_not_a_capture_is_an_error(
    tmp_path: Path, content: bytes | None, message: str
) -> None:
    path = tmp_path / "cap.gz"
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(CaptureError, match=message):
        list(read_capture([path]))


def test_a_write_that_fails_ends_the_capture_not_the_export(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(capture, "FLUSH_SECONDS", 0.0)
    metrics = ExportMetrics()
    w = writer(tmp_path / "cap.gz", metrics)
    assert w._gzip is not None
    # The disk fills up under it: /dev/full refuses every write with ENOSPC.
    full = open("/dev/full", "wb")  # noqa: SIM115  # closed by the writer
    w._gzip.fileobj = full
    w._raw = full
    w.object(event_json(1), "1")
    w.object(event_json(2), "2")  # abandoned: nothing more is tried
    assert metrics.capture_failures._value.get() == 1
    assert metrics.capture_records._value.get() == 1
    w.close()
    assert metrics.capture_failures._value.get() == 1


def test_replay_refuses_what_is_not_a_capture_with_exit_2(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    result = run_replay(str(text), "--db", str(tmp_path / "x.db"))
    assert result.returncode == 2
    assert "not a gzip capture file" in result.stderr and "Traceback" not in result.stderr
    bad_config = tmp_path / "bad.yaml"
    bad_config.write_text("sinks: [{type: sqlite, path: x.db, rules: {drop: [{}]}}]\n")
    result = run_replay(str(text), "--config", str(bad_config))
    assert result.returncode == 2
    assert "sinks[0].rules.drop[0]: a rule needs at least one field" in result.stderr


def run_replay(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "kubevents.cli", "replay", *args],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip

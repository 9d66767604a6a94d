"""The spool's segment log on real files: order, acknowledgement, size caps, damage."""

from __future__ import annotations

import os
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kubevents.export import _segmentlog as segmentlog
from kubevents.export import _segmentrecord as segmentrecord
from kubevents.export._segmentlog import LogStats, SegmentLog, SpoolFullError
from kubevents.export._segmentrecord import HEADER_SIZE, Record, encode_record


def payload(i: int) -> bytes:
    return f"occurrence-{i:06d}".encode() * (1 + i % 3)


def opened(directory: Path, **options: object) -> SegmentLog:
    settings_: dict[str, object] = {"max_bytes": 1 << 20, "segment_bytes": 4096}
    settings_.update(options)
    log = SegmentLog(directory, **settings_)  # type: ignore[arg-type]
    log.open()
    return log


def drain(log: SegmentLog) -> list[bytes]:
    out: list[bytes] = []
    while records := log.read(7):
        out.extend(r.payload for r in records)
    return out


def segments(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.seg"))


def test_records_come_back_in_order_and_a_restart_resumes_after_the_acknowledged(
    tmp_path: Path,
) -> None:
    log = opened(tmp_path)
    assert log.append([payload(i) for i in range(10)]) == 10
    first = log.read(4)
    assert [r.sequence for r in first] == [1, 2, 3, 4]
    assert [r.payload for r in first] == [payload(i) for i in range(4)]
    log.acknowledge(4)
    log.close()

    again = opened(tmp_path)
    assert again.stats.recovered == 6
    assert drain(again) == [payload(i) for i in range(4, 10)]
    assert again.append([b"more"]) == 11
    assert [r.payload for r in again.read(5)] == [b"more"]


def test_rewind_hands_out_again_what_was_not_acknowledged(tmp_path: Path) -> None:
    log = opened(tmp_path)
    log.append([payload(i) for i in range(5)])
    assert len(log.read(3)) == 3
    log.acknowledge(1)
    log.rewind()
    assert [r.sequence for r in log.read(10)] == [2, 3, 4, 5]


def test_an_acknowledgement_cannot_pass_what_was_appended(tmp_path: Path) -> None:
    log = opened(tmp_path)
    log.append([payload(i) for i in range(5)])
    log.acknowledge(9)
    assert log.acknowledged == 5 and log.read(5) == []


def test_seek_reads_from_a_sequence_in_an_older_segment(tmp_path: Path) -> None:
    log = opened(tmp_path, segment_bytes=256)
    for i in range(30):
        log.append([payload(i)])
    log.seek(7)
    assert [r.sequence for r in log.read(3)] == [7, 8, 9]
    log.seek(25)
    assert [r.sequence for r in log.read(100)] == list(range(25, 31))


def test_a_replay_that_seeks_before_each_batch_parses_each_record_about_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # What the spool does after a restart: seek to the next sequence it wants, read a batch.
    records = 3000
    log = opened(tmp_path, max_bytes=16 << 20, segment_bytes=8 << 20)
    log.append([payload(i) for i in range(records)])
    assert len(segments(tmp_path)) == 1
    parsed = 0
    parse = segmentrecord.parse

    def counting(data: bytes | memoryview, offset: int) -> tuple[Record, int] | None:
        nonlocal parsed
        parsed += 1
        return parse(data, offset)

    monkeypatch.setattr(segmentlog, "parse", counting)
    got: list[int] = []
    while True:
        log.seek(len(got) + 1)
        if not (batch := log.read(10)):
            break
        got.extend(r.sequence for r in batch)
    assert got == list(range(1, records + 1))
    # Each batch reads on from where the previous one ended; starting the segment over for
    # each would parse it 300 times (about 450 000 records).
    assert parsed <= 2 * records
    # Backwards still works: the reader starts the segment over.
    log.seek(2)
    assert [r.sequence for r in log.read(2)] == [2, 3]


def test_segments_rotate_and_spent_ones_are_deleted(tmp_path: Path) -> None:
    log = opened(tmp_path, segment_bytes=1024)
    for i in range(40):
        log.append([payload(i)])
    assert len(segments(tmp_path)) >= 3
    assert log.size == sum(p.stat().st_size for p in segments(tmp_path))
    records = log.read(40)
    log.acknowledge(records[-1].sequence)
    assert segments(tmp_path) == [] and log.size == 0 and log.unacknowledged() == 0
    assert log.append([b"after"]) == 41
    assert [r.payload for r in log.read(1)] == [b"after"]


def test_files_are_private(tmp_path: Path) -> None:
    log = opened(tmp_path)
    log.append([b"x"])
    log.read(1)
    log.acknowledge(1)
    log.append([b"y"])
    for path in [*segments(tmp_path), tmp_path / "acknowledged"]:
        assert path.stat().st_mode & 0o777 == 0o600, path


def test_a_torn_last_record_is_cut_off_and_appending_goes_on(tmp_path: Path) -> None:
    log = opened(tmp_path)
    log.append([payload(i) for i in range(3)])
    log.close()
    [segment] = segments(tmp_path)
    torn = encode_record(4, 0, b"half of a record")[:-5]
    with segment.open("ab") as handle:
        handle.write(torn)
    again = opened(tmp_path)
    assert again.stats.torn_tail_bytes == len(torn) and again.stats.damaged_regions == 0
    assert again.append([b"next"]) == 4
    assert drain(again) == [payload(0), payload(1), payload(2), b"next"]


def test_a_flipped_bit_loses_one_record_and_is_counted(tmp_path: Path) -> None:
    log = opened(tmp_path, segment_bytes=1 << 16)
    log.append([payload(i) for i in range(20)])
    log.close()
    [segment] = segments(tmp_path)
    data: bytearray = bytearray(segment.read_bytes())
    sizes = [HEADER_SIZE + len(payload(i)) for i in range(20)]
    tenth = sum(sizes[:10])
    data[tenth + HEADER_SIZE + 3] ^= 0x40  # inside the 11th record's payload
    segment.write_bytes(bytes(data))
    again = opened(tmp_path)
    assert again.stats.damaged_regions == 1 and again.stats.damaged_bytes == sizes[10]
    assert drain(again) == [payload(i) for i in range(20) if i != 10]


def test_a_truncated_older_segment_loses_its_tail_only(tmp_path: Path) -> None:
    log = opened(tmp_path, segment_bytes=512)
    for i in range(30):
        log.append([payload(i)])
    log.close()
    oldest = segments(tmp_path)[0]
    whole = oldest.read_bytes()
    oldest.write_bytes(whole[: len(whole) - 7])
    again = opened(tmp_path)
    assert again.stats.damaged_regions == 1 and again.stats.torn_tail_bytes == 0
    read = drain(again)
    assert len(read) == 29 and read[0] == payload(0) and read[-1] == payload(29)


def first_of(segment: Path) -> int:
    return int(segment.name.removesuffix(".seg"))


def thirty_in_segments(directory: Path) -> list[Path]:
    """Records 1..30 (payloads 0..29) in several closed segments."""
    log = opened(directory, segment_bytes=256)
    for i in range(30):
        log.append([payload(i)])
    log.close()
    files = segments(directory)
    assert len(files) >= 4
    return files


def test_records_missing_without_a_trace_of_their_bytes_are_counted(tmp_path: Path) -> None:
    files = thirty_in_segments(tmp_path)
    files[1].unlink()
    # The third segment cut just before its last record: at a boundary, so no byte is torn.
    last = first_of(files[3]) - 1
    whole = files[2].read_bytes()
    files[2].write_bytes(whole[: len(whole) - HEADER_SIZE - len(payload(last - 1))])
    again = opened(tmp_path)
    assert again.stats.damaged_regions == 2 and again.stats.damaged_bytes == 0
    lost = {*range(first_of(files[1]), first_of(files[2])), last}
    assert drain(again) == [payload(s - 1) for s in range(1, 31) if s not in lost]


def test_the_oldest_unacknowledged_segment_deleted_is_counted(tmp_path: Path) -> None:
    files = thirty_in_segments(tmp_path)
    log = opened(tmp_path)
    log.acknowledge(first_of(files[1]) - 1)
    log.close()
    oldest = segments(tmp_path)[0]
    assert oldest == files[1]
    oldest.unlink()
    again = opened(tmp_path)
    assert again.stats.damaged_regions == 1
    assert drain(again) == [payload(s - 1) for s in range(first_of(files[2]), 31)]


def test_a_copy_of_a_segment_under_another_name_repeats_and_loses_nothing(tmp_path: Path) -> None:
    files = thirty_in_segments(tmp_path)
    (tmp_path / f"{0:020d}.seg").write_bytes(files[-1].read_bytes())
    again = opened(tmp_path)
    # Its records lie outside the range its name gives it: damage, skipped.
    assert again.stats.recovered == 30 and again.stats.damaged_regions == 1
    read: list[bytes] = []
    while True:  # as the spool reads: seek to the next record, then read a few
        again.seek(len(read) + 1)
        if not (records := again.read(4)):
            break
        assert [r.sequence for r in records] == list(
            range(len(read) + 1, len(read) + 1 + len(records))
        )
        read += [r.payload for r in records]
    assert read == [payload(i) for i in range(30)]


def test_files_the_log_did_not_name_are_left_alone(tmp_path: Path) -> None:
    files = thirty_in_segments(tmp_path)
    copy = files[0].read_bytes()
    junk = {
        "-1.seg": copy, "1_0.seg": b"junk", "zz.seg": copy, "00000000000000000001.seg.bak": copy,
        "\u0663.seg": copy, "notes.txt": b"x",
    }  # fmt: skip
    for name, content in junk.items():
        (tmp_path / name).write_bytes(content)
    for name in ["7.seg", f"{first_of(files[0]) + 1:020d}.seg"]:
        (tmp_path / name).mkdir()
    again = opened(tmp_path)
    assert again.stats == LogStats(recovered=30)
    assert drain(again) == [payload(i) for i in range(30)]
    assert again.append([b"after"]) == 31
    again.close()
    assert drain(opened(tmp_path)) == [*(payload(i) for i in range(30)), b"after"]
    for name, content in junk.items():
        assert (tmp_path / name).read_bytes() == content, name
    assert (tmp_path / "7.seg").is_dir()


def test_appends_stay_in_the_range_of_a_newest_segment_named_past_the_last_record(
    tmp_path: Path,
) -> None:
    thirty_in_segments(tmp_path)
    (tmp_path / f"{100:020d}.seg").write_bytes(b"")
    again = opened(tmp_path)
    assert again.stats.damaged_regions == 1  # 31..99 should be somewhere
    assert drain(again) == [payload(i) for i in range(30)]
    assert again.append([b"after"]) == 100
    again.close()
    assert drain(opened(tmp_path)) == [*(payload(i) for i in range(30)), b"after"]


def test_block_refuses_to_grow_past_the_cap_until_acknowledged(tmp_path: Path) -> None:
    log = opened(tmp_path, max_bytes=2048, segment_bytes=512)
    appended = 0
    while log.size + HEADER_SIZE + len(payload(appended)) <= 2048:
        log.append([payload(appended)])
        appended += 1
    with pytest.raises(SpoolFullError):
        log.append([payload(appended)])
    assert log.size <= 2048 and log.stats.dropped == 0
    records = log.read(appended)
    log.acknowledge(records[len(records) // 2].sequence)
    log.append([payload(appended)])
    assert [r.payload for r in log.read(100)] == [payload(appended)]


def test_drop_oldest_makes_room_and_counts_what_it_dropped(tmp_path: Path) -> None:
    log = opened(tmp_path, max_bytes=2048, segment_bytes=512, when_full="drop_oldest")
    for i in range(200):
        log.append([payload(i)])
    assert log.size <= 2048
    read = drain(log)
    assert read[-1] == payload(199)
    assert log.stats.dropped + len(read) == 200
    assert read == [payload(i) for i in range(200 - len(read), 200)]


def test_an_unreadable_acknowledgement_mark_replays_everything(tmp_path: Path) -> None:
    log = opened(tmp_path)
    log.append([payload(i) for i in range(4)])
    log.read(4)
    log.acknowledge(3)
    log.close()
    (tmp_path / "acknowledged").write_bytes(b"garbage")
    again = opened(tmp_path)
    assert again.stats.damaged_regions == 1
    assert drain(again) == [payload(i) for i in range(4)]


def test_a_directory_in_place_of_the_mark_replays_everything(tmp_path: Path) -> None:
    log = opened(tmp_path)
    log.append([payload(i) for i in range(4)])
    log.acknowledge(3)
    log.close()
    (tmp_path / "acknowledged").unlink()
    (tmp_path / "acknowledged").mkdir()
    again = opened(tmp_path)
    assert again.stats.damaged_regions == 1
    assert drain(again) == [payload(i) for i in range(4)]


def test_an_acknowledgement_that_could_not_be_written_is_written_again(tmp_path: Path) -> None:
    log = opened(tmp_path)
    log.append([payload(i) for i in range(5)])
    blocker = tmp_path / "acknowledged.tmp"
    blocker.mkdir()  # where the mark is written first: any write fails
    with pytest.raises(IsADirectoryError):
        log.acknowledge(3)
    assert log.acknowledged == 0
    blocker.rmdir()
    log.acknowledge(3)
    log.close()
    assert drain(opened(tmp_path)) == [payload(3), payload(4)]


def test_a_record_larger_than_a_read_chunk(tmp_path: Path) -> None:
    log = opened(tmp_path, max_bytes=8 << 20, segment_bytes=4 << 20)
    big = os.urandom(3 << 20)
    log.append([b"small", big, b"after"])
    assert [r.payload for r in log.read(10)] == [b"small", big, b"after"]


@settings(max_examples=150)
@given(
    seed=st.integers(0, 2**32 - 1),
    damage=st.lists(
        st.tuples(st.sampled_from(["flip", "truncate", "garbage"]), st.floats(0, 1)), max_size=3
    ),
)
def test_damage_anywhere_never_crashes_and_never_invents(
    tmp_path_factory: pytest.TempPathFactory, seed: int, damage: list[tuple[str, float]]
) -> None:
    directory = tmp_path_factory.mktemp("spool")
    rng = random.Random(seed)
    log = opened(directory, segment_bytes=rng.choice([256, 1024, 8192]))
    written = {}
    for _ in range(rng.randint(1, 12)):
        batch = [os.urandom(rng.randint(0, 300)) for _ in range(rng.randint(1, 8))]
        last = log.append(batch)
        for i, item in enumerate(batch):
            written[last - len(batch) + 1 + i] = item
        if rng.random() < 0.3:
            records = log.read(rng.randint(1, 10))
            if records:
                log.acknowledge(records[-1].sequence)
    acknowledged = log.acknowledged
    log.close()
    for kind, where in damage:
        files = segments(directory)
        if not files:
            break
        target = files[int(where * len(files)) % len(files)]
        data = bytearray(target.read_bytes())
        at = int(where * len(data)) if data else 0
        if kind == "flip" and data:
            data[min(at, len(data) - 1)] ^= 1 << rng.randint(0, 7)
        elif kind == "truncate":
            del data[at:]
        else:
            data[at:at] = os.urandom(rng.randint(1, 40))
        target.write_bytes(bytes(data))
    again = opened(directory, segment_bytes=1024)
    sequences = []
    while records := again.read(5):
        for record in records:
            assert written[record.sequence] == record.payload  # never invented nor mangled
            sequences.append(record.sequence)
    assert sequences == sorted(set(sequences))
    assert all(s > acknowledged for s in sequences)
    if not damage:
        assert sequences == [s for s in sorted(written) if s > acknowledged]
    # A damaged record's number may be given again: nothing refers to a record never read.
    next_sequence = again.append([b"after damage"])
    assert [r.payload for r in again.read(1)] == [b"after damage"]
    assert next_sequence > max([acknowledged, *sequences])

"""The spool buffer on real files: acknowledged once on disk, delivered in order, replayed.

Most tests here write everything to disk first (``spill_after=0``): the disk path is what
they check. The memory tier in front of it has its own tests (``test_spool_memory``).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from kubevents.export import (
    AckLog,
    BufferSettings,
    EventTracker,
    ExportMetrics,
    Occurrence,
    Pipeline,
    Route,
    SpoolSettings,
    TaskSupervisor,
    TimeWindow,
)
from kubevents.export._acklog import Ticket
from kubevents.export._buffer import Entry
from kubevents.export._sinkdriver import DriverSettings
from kubevents.export._spool import SpoolBuffer
from kubevents.export._spoolpayload import decode_occurrence, encode_occurrence
from support import eventually

from .memory_sink import MemorySink, occurrence


class Acks:
    def __init__(self) -> None:
        self.ids: list[str] = []

    def __call__(self, entry: Entry) -> None:
        assert entry.ticket is not None
        entry.ticket = None
        self.ids.append(entry.occurrence.id)


def spool(
    directory: Path, acks: Acks, metrics: ExportMetrics | None = None, **options: object
) -> SpoolBuffer:
    settings: dict[str, object] = {"max_bytes": 1 << 20, "commit_delay": 0.01, "spill_after": 0}
    settings.update(options)
    return SpoolBuffer(
        "hook", directory, acks, metrics or ExportMetrics(), TaskSupervisor(),
        **settings,  # type: ignore[arg-type]
    )  # fmt: skip


def entry(uid: str, count: int = 1) -> Entry:
    return Entry(occurrence(uid, count), Ticket(None, 1))


def test_an_occurrence_survives_the_round_trip_through_a_record() -> None:
    original = occurrence("u1", 7)
    again = decode_occurrence(encode_occurrence(original))
    assert (again.id, again.raw, again.cluster, again.time) == (
        original.id, original.raw, original.cluster, original.time,
    )  # fmt: skip
    with pytest.raises(ValueError, match="not a spooled occurrence"):
        decode_occurrence(b"\x93garbage")


def test_a_replayed_occurrence_keeps_the_filing_time_the_time_window_chose() -> None:
    original = occurrence("u1")  # dated 2024: far outside the default window
    now = datetime(2026, 6, 1, tzinfo=UTC)
    filed = Occurrence.of(original.event, original.raw, original.cluster, TimeWindow(), now)
    assert filed.filing_time != filed.time
    again = decode_occurrence(encode_occurrence(filed))
    assert (again.time, again.filing_time) == (filed.time, filed.filing_time)
    unclamped = decode_occurrence(encode_occurrence(original))
    assert unclamped.filing_time == unclamped.time == original.time


async def test_acknowledged_once_on_disk_then_delivered_in_order(tmp_path: Path) -> None:
    acks = Acks()
    buffer = spool(tmp_path, acks)
    await buffer.start()
    for i in range(5):
        await buffer.put(entry(f"u{i}"))
    assert acks.ids == []  # not before the group commit
    await buffer.settle()
    assert acks.ids == [f"u{i}:1" for i in range(5)]
    taken = await buffer.take(3)
    assert [e.occurrence.id for e in taken] == ["u0:1", "u1:1", "u2:1"]
    assert buffer.depth() == 5
    buffer.complete(taken)
    assert buffer.depth() == 2
    await buffer.close()


async def test_a_restart_replays_what_the_sink_had_not_stored(tmp_path: Path) -> None:
    buffer = spool(tmp_path, Acks())
    await buffer.start()
    for i in range(6):
        await buffer.put(entry(f"u{i}"))
    await buffer.settle()
    buffer.complete(await buffer.take(2))  # stored
    await buffer.take(2)  # in flight when the process ends
    await buffer.close()

    again = spool(tmp_path, Acks())
    await again.start()
    assert again.depth() == 4
    replayed = await again.take(10)  # from disk: decoded again
    assert [e.occurrence.id for e in replayed] == ["u2:1", "u3:1", "u4:1", "u5:1"]
    assert all(e.ticket is None for e in replayed)  # acknowledged in the previous life
    await again.close()


async def test_after_a_restart_what_arrives_again_is_not_spooled_again(tmp_path: Path) -> None:
    buffer = spool(tmp_path, Acks())
    await buffer.start()
    for i in range(6):
        await buffer.put(entry(f"u{i}"))
    await buffer.settle()
    buffer.complete(await buffer.take(2))  # stored before the process ended
    await buffer.close()

    # The next process resumes the watch from an older checkpoint: u1..u6 arrive again.
    acks = Acks()
    again = spool(tmp_path, acks)
    await again.start()
    for i in range(1, 7):
        await again.put(entry(f"u{i}"))
    await again.settle()
    # u2..u5 are in the spool already: acknowledged at once, not written a second time.
    assert acks.ids == ["u2:1", "u3:1", "u4:1", "u5:1", "u1:1", "u6:1"]
    assert again.written_through() == 8
    delivered: list[str] = []
    while len(delivered) < 6:  # from disk first, then from memory
        delivered += [e.occurrence.id for e in await asyncio.wait_for(again.take(10), 10)]
    assert delivered == ["u2:1", "u3:1", "u4:1", "u5:1", "u1:1", "u6:1"]
    await again.close()


async def test_past_the_memory_cache_occurrences_are_read_back_from_disk(tmp_path: Path) -> None:
    buffer = spool(tmp_path, Acks(), cache_size=3)
    await buffer.start()
    for i in range(10):
        await buffer.put(entry(f"u{i}"))
    await buffer.settle()
    ids: list[str] = []
    while len(ids) < 10:
        taken = await buffer.take(4)
        ids += [e.occurrence.id for e in taken]
        buffer.complete(taken)
    assert ids == [f"u{i}:1" for i in range(10)]
    await buffer.close()


async def test_what_the_sink_has_taken_leaves_no_room_in_the_memory_cache(
    tmp_path: Path,
) -> None:
    buffer = spool(tmp_path, Acks(), cache_size=3)
    await buffer.start()
    put = [entry(f"u{i}") for i in range(6)]
    for item in put[:3]:
        await buffer.put(item)
    await buffer.settle()
    first = await buffer.take(3)
    assert [e is p for e, p in zip(first, put, strict=False)] == [True, True, True]
    # Taken and not yet stored: they fill the bound, so what is committed meanwhile is only
    # on disk, read back (decoded anew) once the sink has room.
    for item in put[3:]:
        await buffer.put(item)
    await buffer.settle()
    buffer.complete(first)
    later = await buffer.take(3)
    assert [e.occurrence.id for e in later] == ["u3:1", "u4:1", "u5:1"]
    assert not any(e is p for e, p in zip(later, put[3:], strict=True))
    await buffer.close()


async def test_a_full_spool_makes_put_wait_until_the_sink_frees_room(tmp_path: Path) -> None:
    acks = Acks()
    buffer = spool(tmp_path, acks, max_bytes=64 * 1024, commit_max=1)
    await buffer.start()
    size = len(encode_occurrence(occurrence("u0"))) + 26
    fits = 64 * 1024 // size
    putting = asyncio.create_task(_put_many(buffer, fits + 20))
    await eventually(lambda: len(acks.ids) >= fits - 70, "the spool to fill")
    await asyncio.sleep(0.05)
    assert not putting.done()
    while not putting.done():
        buffer.complete(await buffer.take(50))
        await asyncio.sleep(0.01)
    # put returns before its group is on disk: the last groups commit as the sink frees room.
    settling = asyncio.create_task(buffer.settle())
    while not settling.done():
        with contextlib.suppress(TimeoutError):
            buffer.complete(await asyncio.wait_for(buffer.take(50), 0.1))
    assert len(acks.ids) == fits + 20
    await buffer.close()


async def test_put_goes_on_while_a_group_is_on_disk_until_two_groups_wait(
    tmp_path: Path,
) -> None:
    acks = Acks()
    buffer = spool(tmp_path, acks, commit_max=2, commit_delay=60)
    await buffer.start()
    on_disk, release = threading.Event(), threading.Event()
    append = buffer._log.append

    def slow_append(payloads: list[bytes]) -> int:
        on_disk.set()
        release.wait(30)
        return append(payloads)

    buffer._log.append = slow_append  # type: ignore[method-assign,assignment]
    await _put_many(buffer, 2)  # a whole group: committed now, not after commit_delay
    await eventually(on_disk.is_set, "the first group to reach the disk")
    # While it is there the watch goes on: the next groups gather without waiting...
    await asyncio.wait_for(_put_many(buffer, 3, first=2), 10)
    # ...until two whole groups are pending: that put waits for the disk.
    second = asyncio.create_task(buffer.put(entry("u5")))
    await asyncio.sleep(0.05)
    assert not second.done()
    release.set()
    await asyncio.wait_for(second, 10)
    await buffer.settle()
    assert acks.ids == [f"u{i}:1" for i in range(6)]
    await buffer.close()


async def _put_many(buffer: SpoolBuffer, count: int, first: int = 0) -> None:
    for i in range(first, first + count):
        await buffer.put(entry(f"u{i}"))


async def test_drop_oldest_counts_what_it_dropped_and_delivers_the_rest(tmp_path: Path) -> None:
    metrics = ExportMetrics()
    buffer = spool(tmp_path, Acks(), metrics, max_bytes=64 * 1024, overflow="drop_oldest")
    await buffer.start()
    await _put_many(buffer, 2000)
    await buffer.settle()
    dropped = metrics.buffer_dropped.labels("hook", "spool_full")._value.get()
    assert dropped > 0
    delivered: list[str] = []
    while buffer.depth():
        taken = await buffer.take(500)
        delivered += [e.occurrence.id for e in taken]
        buffer.complete(taken)
    assert len(delivered) + dropped == 2000
    assert delivered == [f"u{i}:1" for i in range(2000 - len(delivered), 2000)]
    await buffer.close()


def flip_a_byte_in_the_middle(directory: Path) -> None:
    [segment] = sorted(directory.glob("*.seg"))
    data = bytearray(segment.read_bytes())
    data[len(data) // 2] ^= 0xFF
    segment.write_bytes(bytes(data))


async def test_damaged_records_are_skipped_counted_and_never_block(tmp_path: Path) -> None:
    buffer = spool(tmp_path, Acks())
    await buffer.start()
    await _put_many(buffer, 20)
    await buffer.close()
    flip_a_byte_in_the_middle(tmp_path)
    metrics = ExportMetrics()
    again = spool(tmp_path, Acks(), metrics)
    await again.start()
    assert metrics.spool_damaged.labels("hook")._value.get() == 1
    delivered: list[str] = []
    while again.depth():
        taken = await asyncio.wait_for(again.take(7), 5)
        delivered += [e.occurrence.id for e in taken]
        again.complete(taken)
    assert len(delivered) == 19
    await again.close()


async def test_a_mark_that_cannot_be_written_is_counted_and_stops_nothing(tmp_path: Path) -> None:
    metrics, supervisor = ExportMetrics(), TaskSupervisor()
    buffer = SpoolBuffer(
        "hook", tmp_path, Acks(), metrics, supervisor, max_bytes=1 << 20, commit_delay=0.01,
        spill_after=0,
    )  # fmt: skip
    await buffer.start()
    await _put_many(buffer, 6)
    await buffer.settle()
    errors = metrics.sink_errors.labels("hook", "spool_io")
    blocker = tmp_path / "acknowledged.tmp"  # where the mark is written first
    blocker.mkdir()
    buffer.complete(await buffer.take(3))
    await eventually(lambda: errors._value.get() == 1, "the failed mark to be counted")
    blocker.rmdir()
    buffer.complete(await buffer.take(1))
    await eventually(lambda: (tmp_path / "acknowledged").exists(), "the mark to be written")
    blocker.mkdir()
    buffer.complete(await buffer.take(2))
    await buffer.close()  # its last mark fails too: counted, not raised
    assert errors._value.get() == 3 and supervisor.failure is None

    again = spool(tmp_path, Acks())
    await again.start()
    assert [e.occurrence.id for e in await again.take(10)] == ["u4:1", "u5:1"]  # repeats only
    await again.close()


async def test_a_dead_sink_with_a_spool_holds_up_neither_the_watch_nor_another_sink(
    tmp_path: Path,
) -> None:
    down = MemorySink("hook")
    down.gate = asyncio.Event()
    local = MemorySink("local")
    # In memory until the dead sink has kept its oldest for spill_after, then on disk.
    spooled = BufferSettings("spool", 100, SpoolSettings(tmp_path / "hook", spill_after=0.2))
    fast = DriverSettings(max_batch_size=50, flush_delay=0.01, retry_initial_delay=0.01)
    acklog = AckLog("0")
    pipeline = Pipeline(
        [Route(down, spooled, fast), Route(local, BufferSettings("block", 100), fast)],
        EventTracker(), acklog, ExportMetrics(),
    )  # fmt: skip
    await pipeline.start()
    for i in range(1000):  # ten times what a memory buffer would hold
        pipeline.tracker.decide(f"u{i}", 1)
        await pipeline.submit(occurrence(f"u{i}"), str(i + 1))
    await eventually(lambda: acklog.resource_version == "1000", "the checkpoint to move on")
    assert len(local.stored) == 1000 and len(down.stored) == 0
    assert pipeline.depths()["hook"] == 1000
    # What another replica may resume from stays where every sink had stored everything.
    assert pipeline.delivered_resource_version() == "0"
    down.gate.set()
    await eventually(lambda: len(down.stored) == 1000, "the spool to be delivered")
    await eventually(
        lambda: pipeline.delivered_resource_version() == "1000", "the delivered point to follow"
    )
    written = [i for w in down.writes for i in w]
    assert sorted(written) == sorted(f"u{i}:1" for i in range(1000)) and down.duplicates == 0
    await eventually(lambda: pipeline.depths()["hook"] == 0, "the spool to empty")
    await pipeline.stop()


async def test_what_a_spool_held_at_start_is_not_delivered_until_its_sink_stores_it(
    tmp_path: Path,
) -> None:
    sink = MemorySink("hook")
    sink.gate = asyncio.Event()
    spooled = BufferSettings("spool", 100, SpoolSettings(tmp_path / "hook", spill_after=0.2))
    fast = DriverSettings(max_batch_size=50, flush_delay=0.01, retry_initial_delay=0.01)

    def make(resume: str) -> Pipeline:
        return Pipeline([Route(sink, spooled, fast)], EventTracker(), AckLog(resume),
                        ExportMetrics())  # fmt: skip

    first = make("0")
    await first.start()
    for i in range(10):
        first.tracker.decide(f"u{i}", 1)
        await first.submit(occurrence(f"u{i}"), str(i + 1))
    await eventually(lambda: first.acklog.resource_version == "10", "the spool to take them")
    await first.stop()  # the sink never answered: the spool keeps all ten
    assert sink.stored == {}
    second = make("10")  # restarted from its checkpoint
    await second.start()
    assert second.delivered_resource_version() is None  # the spool's ten are stored nowhere
    sink.gate.set()
    await eventually(lambda: len(sink.stored) == 10, "the replay")
    await eventually(lambda: second.delivered_resource_version() == "10", "the point to follow")
    await second.stop()

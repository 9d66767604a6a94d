"""The spool's memory tier: a sink that keeps up never touches the disk; one that stalls spills.

An occurrence stays in memory, unacknowledged, until its sink stores it; once the oldest has
waited ``spill_after``, everything in memory is written to disk in order and acknowledged
there, and arrivals follow it to disk until the sink has stored all the spool holds.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from kubevents.export import ExportMetrics
from kubevents.export._buffer import Entry
from kubevents.export._spool import SpoolBuffer
from support import eventually

from .test_spool import Acks, entry, spool


def ids(entries: list[Entry]) -> list[str]:
    return [e.occurrence.id for e in entries]


async def put_many(buffer: SpoolBuffer, first: int, count: int) -> None:
    for i in range(first, first + count):
        await buffer.put(entry(f"u{i}"))


def segment_bytes(directory: Path) -> int:
    return sum(p.stat().st_size for p in directory.glob("*.seg"))


def spills(metrics: ExportMetrics) -> float:
    return float(metrics.spool_spills.labels("hook")._value.get())


async def test_a_sink_that_keeps_up_is_fed_from_memory_and_nothing_is_written(
    tmp_path: Path,
) -> None:
    acks, metrics = Acks(), ExportMetrics()
    buffer = spool(tmp_path, acks, metrics, spill_after=60, cache_size=10)
    await buffer.start()
    delivered: list[str] = []
    for round_ in range(5):  # more than memory holds, in rounds the sink keeps up with
        await put_many(buffer, round_ * 8, 8)
        assert acks.ids == delivered  # not before the sink stored them
        taken = await buffer.take(100)
        assert buffer.depth() == 8
        buffer.complete(taken)
        delivered += ids(taken)
        assert acks.ids == delivered  # stored: acknowledged
    assert delivered == [f"u{i}:1" for i in range(40)]
    assert buffer.written_through() == 0 and buffer.depth() == 0 and buffer.settled()
    await buffer.close()
    assert spills(metrics) == 0  # closing with nothing in memory spills nothing
    assert segment_bytes(tmp_path) == 0


async def test_a_stalled_sink_spills_memory_to_disk_in_order_and_the_reader_skips_its_own(
    tmp_path: Path,
) -> None:
    acks, metrics = Acks(), ExportMetrics()
    buffer = spool(tmp_path, acks, metrics, spill_after=0.1, cache_size=10)
    await buffer.start()
    await put_many(buffer, 0, 6)
    in_flight = await buffer.take(2)  # the sink has these and never answers
    assert acks.ids == []
    await eventually(lambda: len(acks.ids) == 6, "the spill to reach the disk")
    assert acks.ids == [f"u{i}:1" for i in range(6)]  # acknowledged in arrival order
    assert buffer.written_through() == 6 and spills(metrics) == 1
    await put_many(buffer, 6, 2)  # arrivals follow them to disk
    await buffer.settle()
    assert buffer.written_through() == 8 and len(acks.ids) == 8
    # The two in flight are not handed out again; the rest come in order.
    rest = await buffer.take(100)
    assert ids(rest) == [f"u{i}:1" for i in range(2, 8)]
    buffer.complete(rest)
    assert buffer.stored_through() == 0  # the two in flight still hold the mark back
    buffer.complete(in_flight)
    assert buffer.stored_through() == 8 and buffer.depth() == 0
    # Drained: memory takes over again.
    await put_many(buffer, 8, 3)
    assert buffer.written_through() == 8 and len(acks.ids) == 8
    buffer.complete(await buffer.take(100))
    assert len(acks.ids) == 11
    await buffer.close()


async def test_an_occurrence_stored_while_its_spill_is_written_is_done_at_once(
    tmp_path: Path,
) -> None:
    acks = Acks()
    buffer = spool(tmp_path, acks, spill_after=60)
    await buffer.start()
    await put_many(buffer, 0, 4)
    taken = await buffer.take(2)
    buffer._spill()  # what the watchdog does: the write is scheduled, not done yet
    buffer.complete(taken[:1])  # the sink answers before the spill reaches the disk
    assert acks.ids == ["u0:1"]
    await buffer.settle()
    assert acks.ids == [f"u{i}:1" for i in range(4)]
    assert buffer.stored_through() == 1  # u0's record counts as stored; u1 is in flight
    rest = await buffer.take(100)
    assert ids(rest) == ["u2:1", "u3:1"]
    buffer.complete([*taken[1:], *rest])
    assert buffer.stored_through() == 4
    await buffer.close()
    again = spool(tmp_path, Acks())
    await again.start()
    assert again.depth() == 0  # nothing is replayed: every record was stored
    await again.close()


async def test_a_full_memory_makes_put_wait_until_the_sink_frees_room_or_it_spills(
    tmp_path: Path,
) -> None:
    acks, metrics = Acks(), ExportMetrics()
    buffer = spool(tmp_path, acks, metrics, spill_after=0.3, cache_size=3)
    await buffer.start()
    await put_many(buffer, 0, 3)
    waiting = asyncio.create_task(buffer.put(entry("u3")))
    await asyncio.sleep(0.05)
    assert not waiting.done()  # memory is full
    taken = await buffer.take(1)
    buffer.complete(taken)  # the sink stores one: room
    await asyncio.wait_for(waiting, 5)
    assert buffer.written_through() == 0 and spills(metrics) == 0
    # Now the sink stalls: the next put waits at most until the oldest has waited spill_after.
    await asyncio.wait_for(buffer.put(entry("u4")), 5)
    assert spills(metrics) == 1
    await buffer.settle()
    assert buffer.written_through() == 4  # u1 to u4: u0 was stored before
    assert acks.ids == [f"u{i}:1" for i in range(5)]
    delivered: list[str] = []
    while buffer.depth():
        batch = await asyncio.wait_for(buffer.take(2), 5)
        delivered += ids(batch)
        buffer.complete(batch)
    assert delivered == [f"u{i}:1" for i in range(1, 5)]
    await buffer.close()


async def test_what_memory_holds_at_close_is_spilled_and_replayed_by_the_next_start(
    tmp_path: Path,
) -> None:
    acks = Acks()
    buffer = spool(tmp_path, acks, spill_after=60)
    await buffer.start()
    await put_many(buffer, 0, 5)
    buffer.complete(await buffer.take(1))  # stored
    await buffer.take(2)  # in flight when the exporter stops
    await buffer.close()
    assert acks.ids == [f"u{i}:1" for i in range(5)]  # durable now
    again = spool(tmp_path, Acks())
    await again.start()
    assert ids(await again.take(100)) == ["u1:1", "u2:1", "u3:1", "u4:1"]
    await again.close()


async def test_what_memory_holds_at_a_hard_stop_was_never_acknowledged(tmp_path: Path) -> None:
    # A SIGKILL loses the memory tier, so the checkpoint must not have passed it: the next
    # process resumes the watch from before these occurrences and they arrive again.
    acks = Acks()
    buffer = spool(tmp_path, acks, spill_after=60)
    await buffer.start()
    await put_many(buffer, 0, 5)
    buffer.complete(await buffer.take(2))
    assert acks.ids == ["u0:1", "u1:1"]
    assert buffer.oldest_age() >= 0 and buffer.depth() == 3 and not buffer.settled()
    again = spool(tmp_path, Acks())  # the first one is never closed
    await again.start()
    assert again.depth() == 0
    await again.close()

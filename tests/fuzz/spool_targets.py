"""Fuzz targets for the sinks' disk spools: records written, files damaged, everything replayed.

The input is not a file image but a script (``spooldisk.Choices``): what is written and
acknowledged, then what damage is done (truncation anywhere, bit flips, ranges overwritten with
random bytes, zeros or valid-looking headers, bytes inserted, segments deleted or copied, the
acknowledged mark spoiled, junk files). Reopening must not raise, and what is replayed must
match what ``spooldisk.Disk`` says a replay owes: every record replayed was written, byte for
byte, in order and once; every untouched record after the mark comes back; every other loss is
counted. Appending after the reopen works, and survives one more.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import msgspec

import kubevents.export._spool as spool_module
from export.factories import make_occurrence
from kubevents.export import ExportMetrics, Occurrence, TaskSupervisor
from kubevents.export._buffer import Entry
from kubevents.export._segmentlog import _READ_CHUNK, LogStats, SegmentLog
from kubevents.export._segmentrecord import Record
from kubevents.export._spool import SpoolBuffer
from kubevents.export._spoolpayload import encode_occurrence

from .engine import Target
from .spooldisk import Choices, Disk, payload

__all__ = ["SPOOL_TARGETS"]

Run = Callable[[bytes], bool]
NOW_MS = 1_767_225_600_000
SEGMENT_BYTES = (64, 256, 1024, 4096, 1 << 16)
# Every choice is a byte or a few: a script this long describes a whole scenario.
SCRIPT_BYTES = 400
# Bytes that make choices extreme: the first and last of every range.
TOKENS = (b"\x00" * 8, b"\xff" * 8, b"\x00\xff" * 4, b"\x63", b"\x62\xff\xff\xff")


class _SpoolTarget:
    tokens: tuple[bytes, ...] = TOKENS
    nesting = 1
    max_size: int | None = 2 * SCRIPT_BYTES
    name = ""

    def seeds(self) -> Sequence[bytes]:
        # Any bytes are a valid script; these cover the simplest scenario and random ones.
        rng = random.Random(self.name)
        return [b"", bytes(SCRIPT_BYTES)] + [rng.randbytes(SCRIPT_BYTES) for _ in range(30)]

    @contextmanager
    def _cases(self) -> Iterator[Callable[[], Path]]:
        """A fresh directory per case, the previous one removed."""
        with tempfile.TemporaryDirectory(prefix="kubevents-fuzz-spool-") as tmp:
            count = 0

            def fresh() -> Path:
                nonlocal count
                shutil.rmtree(Path(tmp) / str(count), ignore_errors=True)
                count += 1
                return Path(tmp) / str(count)

            yield fresh


def _opened(directory: Path, segment_bytes: int) -> tuple[SegmentLog, LogStats]:
    log = SegmentLog(directory, max_bytes=1 << 40, segment_bytes=segment_bytes, fsync="never")
    return log, log.open()


def _drain(log: SegmentLog, c: Choices, start: int = 0) -> list[Record]:
    """Everything readable from ``start`` on, in reads of any size; sometimes seeking to the
    next one first, as the spool does."""
    out: list[Record] = []
    while True:
        if c.chance(40):
            log.seek(out[-1].sequence + 1 if out else start)
        records = log.read(1 + c.below(20))
        if not records:
            return out
        out += records


def _check_replay(disk: Disk, records: list[Record], damaged: bool) -> None:
    """What one replay after the damage must satisfy (see ``spooldisk``)."""
    expected = disk.expected()
    sequences = [r.sequence for r in records]
    assert sequences == sorted(set(sequences)), f"out of order or repeated: {sequences}"
    for record in records:
        assert record.sequence > expected.acknowledged, ("acknowledged", record.sequence)
        assert disk.written.get(record.sequence) == record.payload, ("invented", record.sequence)
        assert disk.times[record.sequence] == record.written_ms, ("invented", record.sequence)
    missing = expected.must - set(sequences)
    assert not missing, f"untouched records not replayed: {sorted(missing)[:10]}"
    lost = [s for s in disk.written if disk.acknowledged < s <= expected.known]
    lost = [s for s in lost if s not in set(sequences)]
    assert damaged or not lost, f"records lost without a count: {lost[:10]}"


class SegmentLogTarget(_SpoolTarget):
    """``SegmentLog``: append, acknowledge, close; damage; reopen, replay, append, reopen."""

    name = "spool_segments"

    @contextmanager
    def session(self) -> Iterator[Run]:
        with self._cases() as fresh:
            yield lambda data: self._run(Choices(data), fresh())

    def _run(self, c: Choices, directory: Path) -> bool:
        segment_bytes = SEGMENT_BYTES[c.below(len(SEGMENT_BYTES))]
        log, _ = _opened(directory, segment_bytes)
        written: dict[int, bytes] = {}
        for _ in range(1 + c.below(8)):
            first = log.next_sequence
            batch = [payload(c, first + i, _READ_CHUNK) for i in range(1 + c.below(8))]
            log.append(batch, now_ms=NOW_MS)
            written.update((first + i, p) for i, p in enumerate(batch))
            if c.chance(15):
                log.acknowledge(c.below(log.next_sequence))
            if c.chance(15):
                log.close()
                log, _ = _opened(directory, segment_bytes)
        log.close()
        disk = Disk(directory, written)
        disk.damage(c)
        log, stats = _opened(directory, SEGMENT_BYTES[c.below(len(SEGMENT_BYTES))])
        try:
            return self._replay(c, disk, log, stats, segment_bytes)
        except AssertionError as exc:
            _note(exc, disk)
            raise
        finally:
            log.close()

    def _replay(
        self, c: Choices, disk: Disk, log: SegmentLog, stats: LogStats, segment_bytes: int
    ) -> bool:
        directory, written = disk.directory, disk.written
        replayed = _drain(log, c)
        damaged = stats.damaged_regions > 0 or stats.torn_tail_bytes > 0
        _check_replay(disk, replayed, damaged)
        if not disk.ops:
            assert [r.sequence for r in replayed] == [s for s in written if s > disk.acknowledged]
            assert stats == LogStats(recovered=len(replayed)), stats
        assert stats.recovered == len(replayed), (stats, len(replayed))

        # Appending after the damage: the new records come next, and after one more reopen.
        after = [payload(c, -i, _READ_CHUNK) for i in range(1 + c.below(3))]
        first = log.next_sequence
        assert first > max([disk.expected().acknowledged, *(r.sequence for r in replayed)])
        log.append(after, now_ms=NOW_MS)
        got = _drain(log, c, first)
        assert [(r.sequence, r.payload) for r in got] == list(enumerate(after, first)), got
        mark = replayed[-1].sequence if replayed and c.chance(50) else 0
        try:
            log.acknowledge(mark)
        except OSError:
            assert disk.mark_blocked()
            mark = 0  # the mark stays where it was
        log.close()
        again, _ = _opened(directory, segment_bytes)
        second = [(r.sequence, r.payload) for r in _drain(again, c)]
        again.close()
        kept = [(r.sequence, r.payload) for r in replayed if r.sequence > mark]
        assert second == kept + list(enumerate(after, first)), (second, kept)
        return bool(replayed)


def _note(exc: BaseException, disk: Disk) -> None:
    exc.add_note("after: " + ("; ".join(disk.ops) or "no damage"))


def _forged(c: Choices) -> bytes:
    """A spool record's payload that passes its checksum but holds no occurrence."""
    good = encode_occurrence(make_occurrence(object_name="forged"))
    kind = c.below(7)
    if kind == 0:
        return c.bytes(c.below(400))
    if kind == 1:
        return b""
    if kind == 2:
        return msgspec.msgpack.encode(({"a": 1}, [1, 2, 3], "x", None)[c.below(4)])
    if kind == 3:  # the right shape, not an Event inside
        raw = (b"{", b"[]", b'{"metadata":{"name":"x"}}', b"[" * 5000)[c.below(4)]
        return msgspec.msgpack.encode(["cluster", raw])
    if kind == 4:
        return good + b"\x00"
    if kind == 5:
        return good[: c.below(len(good))]
    return msgspec.msgpack.encode(["cluster", good, "extra"])


class _Sink:
    """The spool's consumer: takes, stores (completes) and remembers what it got."""

    def __init__(self, buffer: SpoolBuffer) -> None:
        self.buffer = buffer
        self.got: list[Entry] = []

    async def take_all(self, c: Choices, at_most: int = 1 << 30) -> None:
        """Take until the spool is empty (or ``at_most`` taken); never waits for ever."""
        deadline = asyncio.get_running_loop().time() + 10
        taken = 0
        while self.buffer.depth() and taken < at_most:
            task = asyncio.ensure_future(self.buffer.take(min(at_most - taken, 1 + c.below(60))))
            while not task.done() and self.buffer.depth():
                assert asyncio.get_running_loop().time() < deadline, "the spool hangs"
                await asyncio.wait({task}, timeout=0.002)
            if not task.done():  # emptied by skipping damaged records: nothing more to take
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                return
            entries = task.result()
            self.got += entries
            taken += len(entries)
            self.buffer.complete(entries)


class SpoolTarget(_SpoolTarget):
    """``SpoolBuffer``: spool occurrences (and forged records), crash or close; damage; restart.

    The restarted spool must start, deliver the decodable records in order, count the damage
    and the undecodable records, and go on spooling.
    """

    name = "spool_buffer"

    @contextmanager
    def session(self) -> Iterator[Run]:
        loop = asyncio.new_event_loop()
        # The mark is rewritten at most every ACK_INTERVAL: the fuzzer does not wait for that.
        interval, spool_module.ACK_INTERVAL = spool_module.ACK_INTERVAL, 0.0
        try:
            with self._cases() as fresh:
                yield lambda data: loop.run_until_complete(self._run(Choices(data), fresh()))
        finally:
            spool_module.ACK_INTERVAL = interval
            loop.close()

    @staticmethod
    def _buffer(directory: Path, metrics: ExportMetrics, segment_bytes: int) -> SpoolBuffer:
        return SpoolBuffer(
            "fuzz", directory, lambda entry: None, metrics, TaskSupervisor(), max_bytes=1 << 40,
            fsync="never", segment_bytes=segment_bytes, commit_delay=0.0, cache_size=64,
        )  # fmt: skip

    async def _run(self, c: Choices, directory: Path) -> bool:
        segment_bytes = (512, 2048, 8192)[c.below(3)]
        written: dict[int, bytes] = {}
        forged: set[int] = set()
        made = 0
        for _ in range(1 + c.below(3)):
            if c.chance(30):  # records that pass the checksum and hold no occurrence
                log, _ = _opened(directory, segment_bytes)
                batch = [_forged(c) for _ in range(1 + c.below(4))]
                first = log.next_sequence
                log.append(batch)
                log.close()
                written.update((first + i, p) for i, p in enumerate(batch))
                forged.update(range(first, first + len(batch)))
                continue
            buffer = self._buffer(directory, ExportMetrics(), segment_bytes)
            await buffer.start()
            entries = [Entry(self._occurrence(c, made + i), None) for i in range(c.below(30))]
            made += len(entries)
            for entry in entries:
                await buffer.put(entry)
            await buffer.settle()
            written.update((e.sequence, encode_occurrence(e.occurrence)) for e in entries)
            if c.chance(40):  # the sink stores a prefix
                await _Sink(buffer).take_all(c, at_most=c.below(40))
            if c.chance(50):
                await buffer.close()
            else:
                await _crash(buffer)
        disk = Disk(directory, written)
        disk.damage(c)
        metrics = ExportMetrics()
        buffer = self._buffer(directory, metrics, segment_bytes)
        try:
            accepted = await self._replay(c, disk, forged, made, buffer, metrics)
        except BaseException as exc:
            await _crash(buffer)  # its files closed, whatever happened
            _note(exc, disk)
            raise
        await buffer.close()
        return accepted

    async def _replay(
        self,
        c: Choices,
        disk: Disk,
        forged: set[int],
        made: int,
        buffer: SpoolBuffer,
        metrics: ExportMetrics,
    ) -> bool:
        written, expected = disk.written, disk.expected()
        await buffer.start()
        sink = _Sink(buffer)
        await sink.take_all(c)
        sequences = [e.sequence for e in sink.got]
        assert sequences == sorted(set(sequences)), f"out of order or repeated: {sequences}"
        for entry in sink.got:
            assert entry.sequence in written and entry.sequence not in forged, entry.sequence
            assert encode_occurrence(entry.occurrence) == written[entry.sequence]
        missing = (expected.must - forged) - set(sequences)
        assert not missing, f"untouched records not replayed: {sorted(missing)[:10]}"
        malformed = metrics.malformed.labels("spool")._value.get()
        could = {s for s in forged if s > expected.acknowledged}
        assert len(expected.must & forged) <= malformed <= len(could), (malformed, forged)
        lost = [s for s in written if disk.acknowledged < s <= expected.known]
        lost = [s for s in lost if s not in forged and s not in set(sequences)]
        damaged = metrics.spool_damaged.labels("fuzz")._value.get()
        assert damaged or not lost, f"records lost without a count: {lost[:10]}"

        # Spooling goes on after the damage.
        entries = [Entry(self._occurrence(c, made + i), None) for i in range(1 + c.below(5))]
        for entry in entries:
            await buffer.put(entry)
        await buffer.settle()
        after = _Sink(buffer)
        await after.take_all(c)
        assert [e.occurrence.id for e in after.got] == [e.occurrence.id for e in entries]
        assert min(e.sequence for e in entries) > max([expected.acknowledged, *sequences])
        return bool(sink.got)

    @staticmethod
    def _occurrence(c: Choices, n: int) -> Occurrence:
        message = c.bytes(c.below(500)).decode("latin-1")
        return make_occurrence(object_name=f"web-{n}", count=1 + c.below(5), message=message)


async def _crash(buffer: SpoolBuffer) -> None:
    """The process dies: no mark written, no pending work finished; its files close."""
    await buffer._supervisor.cancel_all()
    await buffer._run(buffer._log.close)
    buffer._executor.shutdown()


SPOOL_TARGETS: tuple[Target, ...] = (SegmentLogTarget(), SpoolTarget())

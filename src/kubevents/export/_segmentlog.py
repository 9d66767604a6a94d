"""A durable FIFO of byte records on disk: append-only segment files and an acknowledged mark.

What a sink's disk spool stands on. Records are appended in order, read in order, and
acknowledged in order; a restart resumes after the last acknowledged record. Each record is
framed and checksummed (``_segmentrecord``). A segment is named after
its first record's sequence (20 digits, ``.seg``) and holds the records from there up to the
next segment's first: a record outside that range (a copy of a segment under another name) is
damage too. A crash can leave a torn record at the end of the newest segment: it is cut off at
open. A record damaged anywhere else (a bit flip, a truncated copy) is skipped by scanning
forward to the next record whose framing and checksum are valid; each damaged stretch is
counted, never fatal, and so is a stretch of records missing without a trace of their bytes
(an older segment cut at a record boundary, or deleted). What nothing on disk shows cannot be
counted: records cut off the newest segment at a record boundary, or the newest segments
deleted. Other files in the directory are left alone. Segments whose records are all
acknowledged are deleted. The total size is capped: past ``max_bytes`` an append
either raises ``SpoolFullError`` (the caller waits: backpressure) or drops the oldest segments,
counting the records lost. A failing disk makes ``append`` and ``acknowledge`` raise
``OSError``: a failed append appends nothing, a failed acknowledgement leaves the mark where it
was; the caller retries.

Not thread-safe: one owner (the spool's worker thread) calls every method.

One module of about 430 lines: opening (recovery), appending, reading, acknowledging and
dropping share the segments' in-memory index and its invariants; the record format is apart
(``_segmentrecord``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import struct
import time
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from kubevents.export._segmentrecord import (
    HEADER_SIZE,
    MAX_RECORD_BYTES,
    Record,
    encode_record,
    parse,
    payload_length,
    scan,
)

__all__ = ["LogStats", "Record", "SegmentLog", "SpoolFullError"]

log = logging.getLogger(__name__)

DEFAULT_SEGMENT_BYTES = 16 * 1024 * 1024
_SEGMENT_SUFFIX = ".seg"
_NAME_DIGITS = 20  # every u64 sequence fits, so that names sort as their numbers do
_NO_SEQUENCE = 1 << 64  # past every sequence: the newest segment's range is open
_ACK_FILE = "acknowledged"
_ACK = struct.Struct("<QI")  # sequence, crc32 of it
_READ_CHUNK = 1024 * 1024

FsyncPolicy = Literal["always", "never"]
WhenFull = Literal["block", "drop_oldest"]


class SpoolFullError(Exception):
    """The log is at ``max_bytes``; nothing was appended."""


@dataclass
class LogStats:
    """What opening found, and what has been lost since (all counts, for metrics)."""

    recovered: int = 0  # unacknowledged records found at open
    damaged_regions: int = 0  # stretches of bytes that did not parse, or of records missing
    damaged_bytes: int = 0
    torn_tail_bytes: int = 0  # cut off the newest segment (a crash mid-append)
    dropped: int = 0  # records deleted unsent by drop_oldest


@dataclass
class _Segment:
    path: Path
    first: int  # sequence of its first record (from its name)
    last: int = 0  # sequence of its last valid record (first - 1 when empty)
    size: int = 0
    skips: dict[int, int] = field(default_factory=dict)  # damaged offset -> resume offset


def _first_sequence(name: str) -> int | None:
    """The sequence a segment file starts at, from its name; None for any other file."""
    digits = name.removesuffix(_SEGMENT_SUFFIX)
    if digits == name or len(digits) != _NAME_DIGITS or not (digits.isascii() and digits.isdigit()):
        return None
    return int(digits)


class SegmentLog:
    """The log in ``directory`` (created if missing). Call ``open`` before anything else."""

    def __init__(
        self,
        directory: Path,
        *,
        max_bytes: int,
        segment_bytes: int = DEFAULT_SEGMENT_BYTES,
        fsync: FsyncPolicy = "always",
        when_full: WhenFull = "block",
        file_mode: int = 0o600,
    ) -> None:
        self.directory = Path(directory)
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self.fsync = fsync
        self.when_full = when_full
        self.file_mode = file_mode
        self.stats = LogStats()
        self._segments: list[_Segment] = []
        self._acknowledged = 0
        self._next = 1
        self._fd: int | None = None  # the newest segment, open for append
        # Reading: the segment index and byte offset of the next record to hand out.
        self._read_segment = 0
        self._read_offset = 0
        self._read_next = 1
        self._reader: tuple[Path, int] | None = None  # the segment being read, open

    # -- opening -------------------------------------------------------------------------------

    def open(self) -> LogStats:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._acknowledged, trusted = self._read_ack()
        found = sorted(
            (first, path)
            for path in self.directory.glob("*" + _SEGMENT_SUFFIX)
            if (first := _first_sequence(path.name)) is not None and path.is_file()
        )
        if trusted and found and found[0][0] > self._acknowledged + 1:
            self._count_missing(self._acknowledged + 1, found[0][0] - 1)  # oldest segments gone
        last_seen = self._acknowledged
        for i, (first, path) in enumerate(found):
            newest = i == len(found) - 1
            upper = _NO_SEQUENCE if newest else found[i + 1][0]
            data = path.read_bytes()
            records, skips, valid_end = scan(data, first, upper)
            segment = _Segment(path, first, first - 1, len(data), skips)
            if records:
                segment.last = records[-1].sequence
                last_seen = max(last_seen, segment.last)
            self._count_damage(skips, valid_end, len(data), newest=newest)
            if newest and valid_end < len(data):
                self._truncate(segment, valid_end)
            elif valid_end < len(data):
                skips[valid_end] = len(data)  # what a reader must not take for records either
            elif not newest and max(segment.last, self._acknowledged) < upper - 1:
                # Cut at a record boundary, or the segments after it deleted.
                self._count_missing(max(segment.last, self._acknowledged) + 1, upper - 1)
            self.stats.recovered += sum(1 for r in records if r.sequence > self._acknowledged)
            self._segments.append(segment)
        # Appends go to the newest segment: their sequences must lie in its range.
        self._next = max(last_seen, found[-1][0] - 1 if found else 0) + 1
        self._read_next = self._acknowledged + 1
        self._delete_acknowledged()
        return self.stats

    def _count_damage(self, skips: dict[int, int], valid_end: int, size: int, newest: bool) -> None:
        for start, resume in skips.items():
            self.stats.damaged_regions += 1
            self.stats.damaged_bytes += resume - start
        if valid_end < size:
            if newest:  # a crash mid-append; cut off at open
                self.stats.torn_tail_bytes += size - valid_end
            else:
                self.stats.damaged_regions += 1
                self.stats.damaged_bytes += size - valid_end

    def _count_missing(self, first: int, last: int) -> None:
        log.error(
            "spool %s: records %d to %d are missing (a segment cut short or deleted); lost",
            self.directory, first, last,
        )  # fmt: skip
        self.stats.damaged_regions += 1

    def _truncate(self, segment: _Segment, size: int) -> None:
        with open(segment.path, "r+b") as handle:
            handle.truncate(size)
            os.fsync(handle.fileno())
        segment.size = size
        segment.skips = {k: v for k, v in segment.skips.items() if k < size}

    def _read_ack(self) -> tuple[int, bool]:
        """The acknowledged mark (0 if there is none yet), and whether it could be read."""
        try:
            data = (self.directory / _ACK_FILE).read_bytes()
        except FileNotFoundError:
            return 0, True
        except OSError:  # a directory in its place, no permission: unreadable all the same
            data = b""
        if len(data) == _ACK.size:
            sequence, crc = _ACK.unpack(data)
            if zlib.crc32(struct.pack("<Q", sequence)) == crc:
                return int(sequence), True
        # Without a trustworthy mark, everything on disk is sent again: repeats, never a loss.
        log.error("spool %s: unreadable acknowledgement mark; replaying it all", self.directory)
        self.stats.damaged_regions += 1
        return 0, False

    # -- size and state ------------------------------------------------------------------------

    @property
    def size(self) -> int:
        return sum(s.size for s in self._segments)

    @property
    def acknowledged(self) -> int:
        return self._acknowledged

    def unacknowledged(self) -> int:
        """Records appended and not yet acknowledged (damaged ones included, as an estimate)."""
        return max(0, self._next - 1 - self._acknowledged)

    def unread(self) -> int:
        return max(0, self._next - self._read_next)

    @property
    def next_sequence(self) -> int:
        """The sequence the next appended record gets."""
        return self._next

    # -- appending -----------------------------------------------------------------------------

    def append(self, payloads: Sequence[bytes], now_ms: int | None = None) -> int:
        """Append ``payloads`` in order, durably per the fsync policy; the last sequence."""
        if not payloads:
            return self._next - 1
        written_ms = int(time.time() * 1000) if now_ms is None else now_ms
        sequence = self._next
        frames = []
        for payload in payloads:
            frames.append(encode_record(sequence, written_ms, payload))
            sequence += 1
        blob = b"".join(frames)
        self._make_room(len(blob))
        segment = self._writable(len(blob))
        assert self._fd is not None
        view = memoryview(blob)
        try:
            while view:
                view = view[os.write(self._fd, view) :]
            if self.fsync == "always":
                os.fsync(self._fd)
        except OSError:
            # Cut back to the last whole record, so that the next append starts clean.
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, segment.size)
            raise
        segment.size += len(blob)
        segment.last = sequence - 1
        self._next = sequence
        return sequence - 1

    def _make_room(self, needed: int) -> None:
        if needed > self.max_bytes:
            raise SpoolFullError(
                f"{needed} bytes at once are more than the spool holds ({self.max_bytes})"
            )
        while self.size + needed > self.max_bytes:
            if self.when_full == "block":
                raise SpoolFullError(f"spool {self.directory} is full ({self.size} bytes)")
            oldest = self._segments[0]
            lost = max(
                0, oldest.last - max(self._acknowledged, self._read_next - 1, oldest.first - 1)
            )
            self.stats.dropped += lost
            log.warning(
                "spool %s is full (%d bytes): dropped %d unsent records, the oldest",
                self.directory, self.max_bytes, lost,
            )  # fmt: skip
            mark = max(self._acknowledged, oldest.last)
            self._write_ack(mark)
            self._acknowledged = mark
            self._remove(0)

    def _writable(self, needed: int) -> _Segment:
        newest = self._segments[-1] if self._segments else None
        if newest is None or (newest.size > 0 and newest.size + needed > self.segment_bytes):
            self._close_fd()
            path = self.directory / f"{self._next:0{_NAME_DIGITS}d}{_SEGMENT_SUFFIX}"
            flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC
            fd = os.open(path, flags, self.file_mode)
            os.fchmod(fd, self.file_mode)
            self._fd = fd
            newest = _Segment(path, self._next, self._next - 1)
            self._segments.append(newest)
            self._fsync_directory()
        elif self._fd is None:
            self._fd = os.open(newest.path, os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC)
        return newest

    # -- reading -------------------------------------------------------------------------------

    def read(self, limit: int) -> list[Record]:
        """Up to ``limit`` records after the last one read, in order (damage skipped)."""
        out: list[Record] = []
        while len(out) < limit and self._read_segment < len(self._segments):
            segment = self._segments[self._read_segment]
            offset = self._read_offset
            if offset >= segment.size:
                if self._read_segment == len(self._segments) - 1:
                    break  # the newest segment: more may be appended
                self._next_read_segment()
                continue
            if offset in segment.skips:
                self._read_offset = segment.skips[offset]
                continue
            records, consumed = self._parse_from(segment, offset, limit - len(out))
            # Nothing valid before the end of the segment: damage found at open ends here.
            self._read_offset = offset + consumed if consumed else segment.size
            for record in records:
                if record.sequence >= self._read_next:  # after a rewind, skip the delivered
                    out.append(record)
                    self._read_next = record.sequence + 1
        return out

    def _parse_from(self, segment: _Segment, offset: int, limit: int) -> tuple[list[Record], int]:
        """Records from ``offset`` up to the next damaged stretch; and the bytes they span."""
        chunk = self._pread(segment, offset, min(_READ_CHUNK, segment.size - offset))
        if len(chunk) >= HEADER_SIZE:
            length = payload_length(chunk)
            if len(chunk) < HEADER_SIZE + length <= HEADER_SIZE + MAX_RECORD_BYTES:
                chunk = self._pread(segment, offset, HEADER_SIZE + length)  # one large record
        records: list[Record] = []
        at = 0
        while len(records) < limit and (at == 0 or offset + at not in segment.skips):
            parsed = parse(chunk, at)
            if parsed is None:
                break
            record, at = parsed
            records.append(record)
        return records, at

    def _next_read_segment(self) -> None:
        self._close_reader()
        self._read_segment += 1
        self._read_offset = 0

    def _pread(self, segment: _Segment, offset: int, size: int) -> bytes:
        if self._reader is None or self._reader[0] != segment.path:
            self._close_reader()
            self._reader = (segment.path, os.open(segment.path, os.O_RDONLY | os.O_CLOEXEC))
        return os.pread(self._reader[1], size, offset)

    def _close_reader(self) -> None:
        if self._reader is not None:
            os.close(self._reader[1])
            self._reader = None

    def rewind(self) -> None:
        """Hand out again everything not acknowledged (after a failed send)."""
        self.seek(self._acknowledged + 1)

    def seek(self, sequence: int) -> None:
        """Make ``sequence`` (or the first record after it) the next one ``read`` returns."""
        target = max(sequence, self._acknowledged + 1)
        index = 0
        for i, segment in enumerate(self._segments):
            if segment.first <= target:
                index = i
        # Forward within the segment being read: the position is kept and ``read`` skips what
        # lies before the target. Starting the segment over for every read would make a replay
        # parse each segment again per batch (quadratic in the records a segment holds).
        if index != self._read_segment or target < self._read_next:
            self._close_reader()
            self._read_segment = index
            self._read_offset = 0
        self._read_next = target

    # -- acknowledging -------------------------------------------------------------------------

    def acknowledge(self, sequence: int) -> None:
        """Everything up to ``sequence`` is delivered: persist the mark, delete spent segments."""
        sequence = min(sequence, self._next - 1)
        if sequence <= self._acknowledged:
            return
        self._write_ack(sequence)  # an OSError leaves the mark as it was, to be written again
        self._acknowledged = sequence
        self._delete_acknowledged()

    def _write_ack(self, sequence: int) -> None:
        data = _ACK.pack(sequence, zlib.crc32(struct.pack("<Q", sequence)))
        tmp = self.directory / (_ACK_FILE + ".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, self.file_mode)
        try:
            os.write(fd, data)
            if self.fsync == "always":
                os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.directory / _ACK_FILE)

    def _delete_acknowledged(self) -> None:
        while self._segments and self._segments[0].last <= self._acknowledged:
            self._remove(0)

    def _remove(self, index: int) -> None:
        segment = self._segments.pop(index)
        if index == len(self._segments):
            self._close_fd()  # it was the newest: the next append starts a new segment
        if self._reader is not None and self._reader[0] == segment.path:
            self._close_reader()
        segment.path.unlink(missing_ok=True)
        if self._read_segment > index:
            self._read_segment -= 1
        elif self._read_segment == index:
            self._read_offset = 0
            self._read_next = max(self._read_next, self._acknowledged + 1)

    # -- closing -------------------------------------------------------------------------------

    def _fsync_directory(self) -> None:
        if self.fsync != "always":
            return
        fd = os.open(self.directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _close_fd(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)

    def close(self) -> None:
        self._close_fd()
        self._close_reader()

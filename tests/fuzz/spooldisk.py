"""Spool directories for the fuzzer: records written, then damage done to the files.

A spool scenario is read from the fuzz input as a stream of choices (``Choices``): how many
records of which sizes, in how many segments, which prefix is acknowledged, and which damage
is done afterwards. ``Disk`` keeps, for every segment file, where each written record still
lies byte for byte intact, and from that derives what a replay must deliver:

- every record in a segment named like the log names them (20 digits, ``.seg``), whose framing
  and payload are untouched, that lies in its segment's range of sequences (from the file's
  name up to the next segment's name: a copy of a segment under another name cannot be told
  from the original), and that comes after the acknowledged mark (zero when the mark is
  unreadable: replayed again, never lost);
- every other record may be lost, and then the loss is counted, unless nothing on disk shows
  that it existed: records past the last one found in the newest segment (its tail cut at a
  record boundary, or the newest segments deleted).
"""

from __future__ import annotations

import random
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from kubevents.export._segmentrecord import HEADER_SIZE, MAGIC, encode_record

__all__ = ["Choices", "Disk", "Expected", "payload"]

_ACK_FILE = "acknowledged"
# Not segments: the log must leave them alone, whatever they hold.
JUNK_NAMES = (
    "7.seg", "+7.seg", " 8.seg", "1_0.seg", "\u0663.seg", "-1.seg", "zz.seg", "notes.txt",
    "acknowledged.tmp", "00000000000000000001.seg.tmp", ".00000000000000000002.seg",
    "0000000000000000000000000099.seg",
)  # fmt: skip


class Choices:
    """Decisions read from the fuzz input, a few bytes each; past its end, always 0."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self._at = 0

    def below(self, n: int) -> int:
        """A number in ``range(n)``."""
        if n <= 1:
            return 0
        width = 1 if n <= 1 << 8 else 2 if n <= 1 << 16 else 4
        chunk = self._data[self._at : self._at + width]
        self._at += width
        return int.from_bytes(chunk, "little") % n

    def chance(self, percent: int) -> bool:
        return self.below(100) >= 100 - percent

    def bytes(self, n: int) -> bytes:
        """``n`` bytes that depend on the input only (a seed drawn from it)."""
        return random.Random(self.below(1 << 32)).randbytes(n)


def payload(choices: Choices, sequence: int, read_chunk: int) -> bytes:
    """A payload of a size from none to past ``read_chunk``; some look like record headers."""
    kind = choices.below(100)
    rng = random.Random(sequence)
    if kind < 10:
        return b""
    if kind < 80:
        return rng.randbytes(choices.below(300))
    if kind < 92:
        return rng.randbytes(300 + choices.below(3000))
    if kind < 99:  # valid-looking headers inside: a scan that resumes there must not be fooled
        fake = MAGIC + struct.pack("<I", choices.below(600)) + rng.randbytes(20)
        return (rng.randbytes(choices.below(40)) + fake) * (1 + choices.below(4))
    return rng.randbytes(read_chunk + choices.below(1 << 16))


@dataclass(frozen=True)
class Placement:
    """A written record, intact at ``offset`` of a file."""

    offset: int
    sequence: int
    length: int

    @property
    def end(self) -> int:
        return self.offset + self.length


@dataclass(frozen=True)
class Expected:
    """What a replay after the damage must and may deliver."""

    acknowledged: int  # the mark as the log can read it
    must: frozenset[int]  # untouched records after the mark
    known: int  # records past this one may be lost without a trace


def is_segment(name: str) -> bool:
    stem = name.removesuffix(".seg")
    return name.endswith(".seg") and len(stem) == 20 and stem.isascii() and stem.isdigit()


def read_mark(data: bytes) -> int:
    """The acknowledged mark in the log's format (sequence, CRC-32 of it), else 0."""
    if len(data) != 12:
        return 0
    (sequence,) = struct.unpack("<Q", data[:8])
    return sequence if zlib.crc32(data[:8]) == struct.unpack("<I", data[8:])[0] else 0


class Disk:
    """A closed spool directory, and where its written records lie intact."""

    def __init__(self, directory: Path, written: dict[int, bytes]) -> None:
        """``written``: each record's payload by sequence, as appended."""
        self.directory = directory
        self.written = written
        self.acknowledged = 0  # the mark as written by the log
        self.times: dict[int, int] = {}  # each record's time, as framed
        self.files: dict[str, list[Placement]] = {}
        self.ops: list[str] = []
        self.survey()

    def frame(self, sequence: int) -> bytes:
        return encode_record(sequence, self.times[sequence], self.written[sequence])

    def survey(self) -> None:
        """Record where everything lies; every segment must hold exactly consecutive records."""
        ack = self.directory / _ACK_FILE
        self.acknowledged = read_mark(ack.read_bytes()) if ack.exists() else 0
        for path in sorted(self.directory.glob("*.seg")):
            assert is_segment(path.name), path
            data = path.read_bytes()
            sequence, offset, placements = int(path.name[:20]), 0, []
            while offset < len(data):
                self.times[sequence] = struct.unpack_from("<Q", data, offset + 14)[0]
                frame = self.frame(sequence)
                assert data[offset : offset + len(frame)] == frame, (path.name, offset, sequence)
                placements.append(Placement(offset, sequence, len(frame)))
                offset += len(frame)
                sequence += 1
            self.files[path.name] = placements
        kept = {p.sequence for placements in self.files.values() for p in placements}
        unacknowledged = {s for s in self.written if s > self.acknowledged}
        assert unacknowledged <= kept, sorted(unacknowledged - kept)[:5]

    # -- damage ------------------------------------------------------------------------------

    def damage(self, c: Choices) -> None:
        for _ in range(c.below(6)):
            names = sorted(self.files)
            op = c.below(12)
            if op >= 9 or not names:
                self._other(c, op)
                continue
            name = names[c.below(len(names))]
            path = self.directory / name
            data = bytearray(path.read_bytes())
            at = self._where(c, name, len(data))
            if op == 0:
                self.ops.append(f"truncate {name} at {at}")
                del data[at:]
                self._touch(name, at, 1 << 62)
            elif op == 1 and data:
                at = min(at, len(data) - 1)
                self.ops.append(f"flip {name} at {at}")
                data[at] ^= 1 << c.below(8)
                self._touch(name, at, at + 1)
            elif op in (2, 3, 4):
                blob = self._overwrite(c, op, len(data) - at)
                self.ops.append(f"overwrite {name} at {at} with {bytes(blob[:30])!r}")
                data[at : at + len(blob)] = blob
                self._touch(name, at, at + len(blob))
            elif op == 5:
                blob = c.bytes(1 + c.below(64))
                self.ops.append(f"insert {len(blob)} bytes into {name} at {at}")
                data[at:at] = blob
                self._insert(name, at, len(blob))
            elif op == 6:
                self.ops.append(f"delete {name}")
                path.unlink()
                del self.files[name]
                continue
            elif op in (7, 8):
                self._duplicate(c, name)
                continue
            path.write_bytes(bytes(data))

    def _where(self, c: Choices, name: str, size: int) -> int:
        """An offset: anywhere, or close to where a record or its payload starts or ends."""
        placements = self.files[name]
        kind = c.below(4)
        if kind == 0 or not placements:
            return c.below(size + 1)
        if kind == 3:
            return max(0, size - c.below(40))
        p = placements[c.below(len(placements))]
        at = p.offset + (HEADER_SIZE if kind == 2 else 0) + c.below(7) - 3
        return max(0, min(size, at))

    def _overwrite(self, c: Choices, op: int, room: int) -> bytes:
        size = 1 + c.below(64 if c.chance(80) else 4096)
        if op == 2:
            return c.bytes(size)
        if op == 3:
            return bytes(size)
        # A valid-looking header: the magic, a plausible length; the rest copied from a real
        # record's header (its checksum spoiled) or random.
        length = c.below(max(1, room)) if c.chance(50) else c.below(600)
        rest = c.bytes(20)
        copies = [p for ps in self.files.values() for p in ps]
        if copies and c.chance(60):
            p = copies[c.below(len(copies))]
            header = self.frame(p.sequence)[:HEADER_SIZE]
            crc = struct.unpack_from("<I", header, 22)[0] ^ (1 + c.below(255))
            length = len(self.written[p.sequence]) if c.chance(50) else length
            rest = header[6:22] + struct.pack("<I", crc)
        return MAGIC + struct.pack("<I", length) + rest

    def _other(self, c: Choices, op: int) -> None:
        if op in (9, 10):
            self._damage_mark(c)
            return
        name = JUNK_NAMES[c.below(len(JUNK_NAMES))]
        path = self.directory / name
        if path.exists():
            return
        if c.chance(10):
            self.ops.append(f"junk directory {name!r}")
            path.mkdir()
            return
        sources = sorted(self.files)
        if sources and c.chance(50):
            content = (self.directory / sources[c.below(len(sources))]).read_bytes()
        else:
            content = c.bytes(c.below(200))
        self.ops.append(f"junk file {name!r} of {len(content)} bytes")
        path.write_bytes(content)

    def _damage_mark(self, c: Choices) -> None:
        path = self.directory / _ACK_FILE
        if path.is_dir():
            return
        kind = c.below(6)
        if kind == 0:
            self.ops.append("delete the mark")
            path.unlink(missing_ok=True)
            return
        if kind == 5:
            self.ops.append("a directory in place of the mark")
            path.unlink(missing_ok=True)
            path.mkdir()
            return
        data = bytearray(path.read_bytes()) if path.exists() else bytearray()
        if kind == 1:
            del data[c.below(len(data) + 1) :]
        elif kind == 2 and data:
            data[c.below(len(data))] ^= 1 << c.below(8)
        elif kind == 3:
            data = bytearray(c.bytes(c.below(24)))
        else:
            data = bytearray(len(data))
        self.ops.append(f"mark becomes {bytes(data)!r}")
        path.write_bytes(bytes(data))

    def _duplicate(self, c: Choices, name: str) -> None:
        """A copy of a segment: under a name the log never uses, or under a segment's name."""
        first = int(name[:20])
        kind = c.below(4)
        if kind == 0:
            copy = name + ".bak"
        elif kind == 1:
            copy = f"{name[:20]} (1).seg"
        else:
            highest = max(int(n[:20]) for n in self.files)
            number = first + 1 + c.below(40) if kind == 2 else c.below(highest + 40)
            copy = f"{number:020d}.seg"
        if (self.directory / copy).exists():
            return
        self.ops.append(f"copy {name} to {copy!r}")
        (self.directory / copy).write_bytes((self.directory / name).read_bytes())
        if is_segment(copy):
            self.files[copy] = list(self.files[name])

    def _touch(self, name: str, start: int, end: int) -> None:
        self.files[name] = [p for p in self.files[name] if p.end <= start or p.offset >= end]

    def _insert(self, name: str, at: int, size: int) -> None:
        kept = []
        for p in self.files[name]:
            if p.offset >= at:
                kept.append(Placement(p.offset + size, p.sequence, p.length))
            elif p.end <= at:
                kept.append(p)
        self.files[name] = kept

    def mark_blocked(self) -> bool:
        """Whether a directory stands where the log writes its mark."""
        return any((self.directory / name).is_dir() for name in (_ACK_FILE, _ACK_FILE + ".tmp"))

    # -- what replay owes ----------------------------------------------------------------------

    def expected(self) -> Expected:
        path = self.directory / _ACK_FILE
        mark = read_mark(path.read_bytes()) if path.is_file() else 0
        firsts = sorted(int(name[:20]) for name in self.files)
        must: set[int] = set()
        for name, placements in self.files.items():
            first = int(name[:20])
            later = [f for f in firsts if f > first]
            upper = later[0] if later else 1 << 64
            must.update(
                p.sequence for p in placements if first <= p.sequence < upper and p.sequence > mark
            )
        newest = (
            [p.sequence for p in self.files.get(f"{firsts[-1]:020d}.seg", [])] if firsts else []
        )
        known = max([mark, firsts[-1] - 1 if firsts else 0, *newest])
        return Expected(mark, frozenset(must), known)

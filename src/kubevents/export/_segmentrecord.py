"""The segment log's record: how one record is framed, checksummed, parsed and found again.

Each record on disk is::

    magic "KV" | length u32 | sequence u64 | unix ms u64 | crc32 u32 | payload

(little-endian; the CRC covers length, sequence, time and payload). Damage is found by the
framing and the checksum, and skipped by scanning forward to the next record that has both.
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass

__all__ = [
    "HEADER_SIZE",
    "MAGIC",
    "MAX_RECORD_BYTES",
    "Record",
    "encode_record",
    "parse",
    "payload_length",
    "scan",
]

MAGIC = b"KV"
_HEADER = struct.Struct("<2sIQQI")
HEADER_SIZE = _HEADER.size
_CHECKED = struct.Struct("<IQQ")  # the header fields the checksum covers
MAX_RECORD_BYTES = 64 * 1024 * 1024  # a larger length field can only be damage


@dataclass(frozen=True, slots=True)
class Record:
    sequence: int
    written_ms: int
    payload: bytes


def _crc(length: int, sequence: int, written_ms: int, payload: bytes) -> int:
    return zlib.crc32(payload, zlib.crc32(_CHECKED.pack(length, sequence, written_ms)))


def encode_record(sequence: int, written_ms: int, payload: bytes) -> bytes:
    crc = _crc(len(payload), sequence, written_ms, payload)
    return _HEADER.pack(MAGIC, len(payload), sequence, written_ms, crc) + payload


def payload_length(header: bytes | memoryview) -> int:
    """The payload length a record's header claims (check it against ``MAX_RECORD_BYTES``)."""
    length: int = _HEADER.unpack_from(header)[1]
    return length


def parse(data: bytes | memoryview, offset: int) -> tuple[Record, int] | None:
    """The valid record at ``offset`` and the offset after it, or None."""
    end = offset + HEADER_SIZE
    if end > len(data):
        return None
    magic, length, sequence, written_ms, crc = _HEADER.unpack_from(data, offset)
    if magic != MAGIC or length > MAX_RECORD_BYTES or end + length > len(data):
        return None
    payload = bytes(data[end : end + length])
    if _crc(length, sequence, written_ms, payload) != crc:
        return None
    return Record(sequence, written_ms, payload), end + length


def scan(data: bytes, first: int, upper: int) -> tuple[list[Record], dict[int, int], int]:
    """Every valid record of a segment, the damaged stretches, and the end of the last record.

    Valid: framing and checksum, and a sequence after the previous record's, from ``first`` and
    below ``upper`` (the segment's range).
    """
    records: list[Record] = []
    skips: dict[int, int] = {}
    offset = valid_end = 0
    previous = first - 1
    while offset < len(data):
        parsed = parse(data, offset)
        if parsed is not None and previous < parsed[0].sequence < upper:
            record, offset = parsed
            records.append(record)
            previous = record.sequence
            valid_end = offset
            continue
        # Damage: resume at the next place where a whole valid record starts.
        start, probe = offset, offset + 1
        while (probe := data.find(MAGIC, probe)) >= 0:
            found = parse(data, probe)
            if found is not None and previous < found[0].sequence < upper:
                break
            probe += 1
        if probe < 0:
            break
        skips[start] = probe
        offset = probe
    return records, skips, valid_end

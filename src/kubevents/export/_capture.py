"""Capture files: what the source read from the apiserver, recorded for ``kubevents replay``.

``kubevents export --capture FILE`` records every notification the source hands to the
transforms: each Event object exactly as the server sent it (LIST items and the watch's
ADDED/MODIFIED objects) with its resourceVersion, and each resume point with no object (a
LIST's end, a bookmark, a deletion), with the time it was received. Replaying that sequence
through the transforms and the sinks (``_replay``) produces the same occurrences, ids and
filing times as the live run did.

Format: gzip-compressed JSON Lines. The first line is a header (``{"capture": 1, ...}``), then
one line per notification: ``{"at": <unix time>, "rv": "<resourceVersion>" | null, "object":
<the server's Event JSON, embedded as sent>}``, without ``object`` for a resume point. An
object with a line break (insignificant whitespace in JSON) has it replaced by a space.

Bounds: each start begins a new file (an existing one is rotated to ``FILE.1``); a file that
reaches ``max_bytes`` (compressed) is rotated too, keeping ``backups`` older ones (``FILE.1``
newest), so a capture takes at most about ``(backups + 1) × max_bytes``. The stream is flushed
to the file at least once a second: a SIGKILL loses at most the last second, and the reader
takes a file cut short up to its last complete line. A capture that cannot be written (a full
disk) is logged and abandoned; the export goes on.
"""

from __future__ import annotations

import contextlib
import gzip
import logging
import os
import time
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import msgspec

from kubevents import __version__
from kubevents.export._metrics import ExportMetrics
from kubevents.model import DECODE_ERRORS

__all__ = ["CAPTURE_FORMAT", "CaptureError", "CaptureRecord", "CaptureWriter", "read_capture"]

log = logging.getLogger(__name__)

CAPTURE_FORMAT = 1
FLUSH_SECONDS = 1.0
# Fast compression: the capture is written on the watch's path. Event JSON still shrinks ~8x.
_LEVEL = 1


class CaptureError(Exception):
    """A capture file that cannot be read at all (not a capture, not gzip, missing)."""


class _Header(msgspec.Struct):
    capture: int
    cluster: str = ""
    kubevents: str = ""


class _Line(msgspec.Struct):
    at: float
    rv: str | None = None
    object: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)  # empty: a resume point


@dataclass(frozen=True, slots=True)
class CaptureRecord:
    """One notification: an Event object (``raw``) or a resume point alone (``raw`` None)."""

    at: float
    resource_version: str | None
    raw: bytes | None


class CaptureWriter:
    """Writes a capture file; ``object`` and ``mark`` never raise (a failure ends the capture)."""

    def __init__(
        self,
        path: Path,
        *,
        max_bytes: int,
        backups: int,
        file_mode: int,
        cluster: str,
        metrics: ExportMetrics,
    ) -> None:
        self.path = path
        self._max_bytes = max_bytes
        self._backups = backups
        self._mode = file_mode
        self._cluster = cluster
        self._records = metrics.capture_records
        self._failures = metrics.capture_failures
        self._raw: BinaryIO | None = None
        self._gzip: gzip.GzipFile | None = None
        self._flushed = time.monotonic()

    def open(self) -> None:
        """Start a new file (the previous one becomes a backup). Raises ``OSError``."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if self.path.exists():
            self._rotate()
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, self._mode)
        os.fchmod(fd, self._mode)
        self._raw = os.fdopen(fd, "wb")
        self._gzip = gzip.GzipFile(fileobj=self._raw, mode="wb", compresslevel=_LEVEL, mtime=0)
        header = _Header(CAPTURE_FORMAT, self._cluster, __version__)
        self._gzip.write(msgspec.json.encode(header) + b"\n")

    def _rotate(self) -> None:
        path = self.path
        if self._backups == 0:
            path.unlink(missing_ok=True)
            return
        for i in range(self._backups - 1, 0, -1):
            older = path.with_name(f"{path.name}.{i}")
            if older.exists():
                older.replace(path.with_name(f"{path.name}.{i + 1}"))
        path.replace(path.with_name(f"{path.name}.1"))

    def object(self, raw: bytes, resource_version: str | None) -> None:
        if b"\n" in raw or b"\r" in raw:
            raw = raw.replace(b"\n", b" ").replace(b"\r", b" ")
        self._write(b'{"at":%.6f,"rv":%s,"object":%s}\n' % (
            time.time(), msgspec.json.encode(resource_version), raw,
        ))  # fmt: skip

    def mark(self, resource_version: str | None) -> None:
        self._write(b'{"at":%.6f,"rv":%s}\n' % (time.time(), msgspec.json.encode(resource_version)))

    def _write(self, line: bytes) -> None:
        if self._gzip is None or self._raw is None:
            return
        try:
            self._gzip.write(line)
            self._records.inc()
            now = time.monotonic()
            if now - self._flushed >= FLUSH_SECONDS:
                self._flushed = now
                self._gzip.flush(zlib.Z_SYNC_FLUSH)
                if self._raw.tell() >= self._max_bytes:
                    self._close()
                    self.open()
        except OSError as exc:
            self._failures.inc()
            log.error("capture %s: cannot write (%s); capturing stops, exporting goes on",
                      self.path, exc.strerror or exc)  # fmt: skip
            self._abandon()

    def _close(self) -> None:
        gz, raw = self._gzip, self._raw
        self._gzip = self._raw = None
        if gz is not None:
            gz.close()
        if raw is not None:
            raw.close()

    def _abandon(self) -> None:
        with contextlib.suppress(OSError):
            self._close()

    def close(self) -> None:
        try:
            self._close()
        except OSError as exc:
            self._failures.inc()
            log.error("capture %s: cannot finish the file: %s", self.path, exc.strerror or exc)


def _chunks(path: Path) -> Iterator[bytes]:
    """The decompressed bytes of a gzip file, as far as they go: a file cut short (a SIGKILL)
    gives everything up to where it was cut."""
    if not path.is_file() or not os.access(path, os.R_OK):
        raise CaptureError(f"{path}: not a readable file")
    # zlib directly, not gzip.open: that one drops what it decompressed when the end is missing.
    inflate = zlib.decompressobj(wbits=31)
    between = True  # at the start of a gzip member: nothing of one is pending
    with path.open("rb") as handle:
        while chunk := handle.read(1 << 16):
            while chunk:
                try:
                    yield inflate.decompress(chunk)
                except zlib.error as exc:
                    raise CaptureError(f"{path}: not a gzip capture file ({exc})") from None
                between, chunk = False, b""
                if inflate.eof:  # another member may follow
                    between, chunk = True, inflate.unused_data
                    inflate = zlib.decompressobj(wbits=31)
    if not between:
        log.warning("capture %s ends mid-stream (its writer was killed?): replaying up to its "
                    "last complete line", path)  # fmt: skip


def _lines(path: Path) -> Iterator[bytes]:
    """The complete lines of a capture file."""
    pending = b""
    for chunk in _chunks(path):
        pending += chunk
        *complete, pending = pending.split(b"\n")
        yield from complete
    if pending:
        log.warning("capture %s: its last line is incomplete and is skipped", path)


_header = msgspec.json.Decoder(_Header)
_line = msgspec.json.Decoder(_Line)


def read_capture(
    paths: Iterable[Path], metrics: ExportMetrics | None = None
) -> Iterator[CaptureRecord]:
    """The records of capture files, file after file. A line that does not decode is logged,
    counted (``kubevents_malformed_total{stage="capture"}``) and skipped."""
    malformed = metrics.malformed.labels("capture") if metrics is not None else None
    for path in paths:
        lines = _lines(path)
        first = next(lines, None)
        try:
            header = _header.decode(first) if first is not None else None
        except DECODE_ERRORS:
            header = None
        if header is None:
            raise CaptureError(f"{path}: not a kubevents capture (no header line)")
        if header.capture != CAPTURE_FORMAT:
            raise CaptureError(
                f"{path}: capture format {header.capture}; this version reads {CAPTURE_FORMAT}"
            )
        for number, text in enumerate(lines, start=2):
            try:
                line = _line.decode(text)
            except DECODE_ERRORS as exc:
                log.error("capture %s line %d skipped: %s: %.200r", path, number, exc, text)
                if malformed is not None:
                    malformed.inc()
                continue
            raw = bytes(line.object) if len(line.object) else None
            yield CaptureRecord(line.at, line.rv, raw)

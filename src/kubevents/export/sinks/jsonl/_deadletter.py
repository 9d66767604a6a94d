"""The dead-letter file: where occurrences a sink refused for good are kept, as JSON Lines."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import msgspec

from kubevents.export._document import ExportDocument, occurrence_document
from kubevents.export.sinks._base import Rejected
from kubevents.export.sinks._files import (
    DEFAULT_FILE_MODE,
    Worker,
    fsync_dir,
    io_error,
    open_append,
    write_all,
)

__all__ = ["DeadLetterFile"]


class _DeadLetter(msgspec.Struct, gc=False):
    sink: str
    reason: str
    document: ExportDocument


class DeadLetterFile:
    """The pipeline's ``dead_letter`` hook: append rejected occurrences to a JSON Lines file.

    Each line is ``{"sink": ..., "reason": ..., "document": <export document>}``, written and
    ``fsync``ed before the call returns. A failure raises ``SinkError``: the batch is then not
    acknowledged, so a rejected occurrence is never dropped without a trace. ``check`` proves
    at start that the file can be opened for appending (creating it, empty, if missing).
    """

    def __init__(self, path: Path, *, file_mode: int = DEFAULT_FILE_MODE) -> None:
        self.path = Path(path)
        self._mode = file_mode
        self._worker = Worker("kubevents-dead-letter")
        self._encoder = msgspec.json.Encoder()

    async def check(self) -> None:
        """Raise ``SinkError`` (reason ``is_directory``, ``permission``, …) if the file cannot
        be opened for appending; create it with ``file_mode`` if it does not exist."""
        await self._worker.run(lambda: self._append(b""))

    async def __call__(self, sink_name: str, rejected: Sequence[Rejected]) -> None:
        if not rejected:
            return
        data = self._encoder.encode_lines(
            [_DeadLetter(sink_name, r.reason, occurrence_document(r.occurrence)) for r in rejected]
        )
        await self._worker.run(lambda: self._append(data))

    def _append(self, data: bytes) -> None:
        # Opened per call: dead letters are rare, and nothing stays open to be closed.
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, created = open_append(self.path, self._mode)
            try:
                if data:
                    write_all(fd, data)
                os.fsync(fd)
            finally:
                os.close(fd)
            if created:
                fsync_dir(self.path.parent)
        except OSError as exc:
            raise io_error("cannot write dead letters to", self.path, exc) from None

    def close(self) -> None:
        self._worker.shutdown()

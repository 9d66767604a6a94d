"""``type: jsonl``: JSON Lines to a file or stdout (docs/sinks/jsonl-and-webhook.md)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from kubevents.export._checks import bounded, writable_target
from kubevents.export._configbase import DEFAULT_FILE_MODE, ConfigError, parse_file_mode
from kubevents.export.sinks._base import Sink
from kubevents.export.sinks._config import SinkConfigBase

__all__ = ["JSONLSinkConfig"]


class JSONLSinkConfig(SinkConfigBase, tag="jsonl", tag_field="type", kw_only=True):
    """``type: jsonl``: one export document per line, to a rotated file or stdout (``-``)."""

    path: str = "-"  # "-" is stdout
    max_bytes: int | None = None
    backups: int = 5
    file_mode: str | int = DEFAULT_FILE_MODE  # octal string; the file and its backups
    name: str = "jsonl"

    remote: ClassVar[bool] = False

    def validate(self, where: str) -> None:
        parse_file_mode(self.file_mode, f"{where}.file_mode")
        if self.max_bytes is not None and self.max_bytes < 1:
            raise ConfigError(f"{where}.max_bytes: must be positive (or null)")
        bounded(self.backups, f"{where}.backups", 0, "backups")

    def files(self, where: str) -> Iterator[tuple[str, Path]]:
        if self.path == "-":
            return
        path = writable_target(self.path, where)
        yield where, path
        for n in range(1, self.backups + 1):
            yield where, path.with_name(f"{path.name}.{n}")

    def build(self) -> Sink:
        from kubevents.export.sinks.jsonl._service import JSONLSink

        path = None if self.path == "-" else Path(self.path).expanduser()
        return JSONLSink(
            path,
            name=self.name,
            max_bytes=self.max_bytes,
            backups=self.backups,
            file_mode=parse_file_mode(self.file_mode, "file_mode"),
        )

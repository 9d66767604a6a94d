"""``type: sqlite``: the embedded store's settings (docs/sinks/sqlite.md)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar, Literal

from kubevents.export._checks import LIMITS, writable_target
from kubevents.export._configbase import DEFAULT_FILE_MODE, ConfigError, parse_file_mode
from kubevents.export.sinks._base import Sink
from kubevents.export.sinks._config import SinkConfigBase
from kubevents.export.sinks.sqlite._schema import DEFAULT_DB_PATH

__all__ = ["SQLiteSinkConfig"]


class SQLiteSinkConfig(SinkConfigBase, tag="sqlite", tag_field="type", kw_only=True):
    """``type: sqlite``: the embedded store ``kubevents query`` reads (docs/sinks/sqlite.md)."""

    path: str = DEFAULT_DB_PATH
    retention_days: float | None = 30.0
    # "full" syncs each batch: an acknowledged batch survives a power loss, not only a crash.
    synchronous: Literal["full", "normal"] = "full"
    file_mode: str | int = DEFAULT_FILE_MODE  # octal string; the database, -wal and -shm
    name: str = "sqlite"

    remote: ClassVar[bool] = False

    def validate(self, where: str) -> None:
        parse_file_mode(self.file_mode, f"{where}.file_mode")
        days = self.retention_days
        if days is not None and not 0 < days <= LIMITS["retention_days"]:  # NaN fails too
            raise ConfigError(
                f"{where}.retention_days: must be positive and at most "
                f"{LIMITS['retention_days']} (or null), got {days!r}"
            )

    def files(self, where: str) -> Iterator[tuple[str, Path]]:
        path = writable_target(self.path, where, in_directory=True)
        for suffix in ("", "-wal", "-shm", "-journal"):
            yield where, path.with_name(path.name + suffix)

    def build(self) -> Sink:
        from kubevents.export.sinks.sqlite._service import SQLiteSink

        return SQLiteSink(
            Path(self.path).expanduser(),
            retention_days=self.retention_days,
            name=self.name,
            synchronous=self.synchronous,
            file_mode=parse_file_mode(self.file_mode, "file_mode"),
        )

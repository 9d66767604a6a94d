"""The vocabulary every part of the exporter's configuration is written in.

Durations (``Seconds``), sizes and file modes are parsed here, once, with the field's name in
any error;
the buffer and retry blocks are shared by the top level (defaults) and each sink (overrides).
"""

from __future__ import annotations

import math
import re
from typing import Literal

import msgspec

from kubevents.clock import parse_duration
from kubevents.errors import ConfigError

__all__ = [
    "DEFAULT_FILE_MODE",
    "ENV_PREFIX",
    "MAX_DURATION",
    "BufferConfig",
    "ConfigError",
    "RetryConfig",
    "Seconds",
    "SinkBufferConfig",
    "SpoolConfig",
    "StrictConfig",
    "ThrottleConfig",
    "WhenFull",
    "decode_hook",
    "parse_file_mode",
    "parse_size",
]

ENV_PREFIX = "KUBEVENTS_"
#: Files the exporter creates are private to its user unless a ``file_mode`` says otherwise.
DEFAULT_FILE_MODE = "0600"

#: The longest duration any setting accepts: more is a typo, and sleeps or timers that long
#: overflow the event loop's clock arithmetic.
MAX_DURATION = 365 * 86400.0


class Seconds(float):
    """A configured duration in seconds, parsed once when the configuration is decoded.

    A file, a variable or a flag gives ``30s``, ``5m``, ``1h30m`` or a number
    (``kubevents.clock.parse_duration``); code that builds a configuration gives
    ``Seconds(30)`` or ``Seconds.parse("30s")``.
    """

    @classmethod
    def parse(cls, value: str | float) -> Seconds:
        """Finite, not negative and at most 365 days, or ``ValueError`` saying why."""
        seconds = parse_duration(value)
        if not math.isfinite(seconds):
            raise ValueError(f"must be a finite duration, got {value!r}")
        if seconds < 0:
            raise ValueError("must not be negative")
        if seconds > MAX_DURATION:
            raise ValueError(f"at most 365d, got {value!r}")
        return cls(seconds)


def decode_hook(type_: type, value: object) -> object:
    """msgspec's ``dec_hook`` for configuration types; errors get the field's path."""
    if type_ is Seconds:
        return Seconds.parse(value)  # type: ignore[arg-type]  # parse refuses other types
    raise NotImplementedError(type_)


_FILE_MODE = re.compile(r"^0?o?([0-7]{3})$")


def parse_file_mode(value: str | int, field: str) -> int:
    """The permission bits of an octal string such as ``"0640"``, or ``ConfigError``.

    Owner read and write are required (the exporter writes the file); execute bits are refused.
    """
    if isinstance(value, bool) or not isinstance(value, str):
        # YAML reads an unquoted 0640 as the number 416 and 640 as six hundred and forty.
        raise ConfigError(f'{field}: give the mode as a quoted octal string such as "0640"')
    match = _FILE_MODE.match(value.strip())
    if match is None:
        raise ConfigError(f"{field}: expected an octal mode such as 0600 or 0640, got {value!r}")
    mode = int(match.group(1), 8)
    if mode & 0o600 != 0o600:
        raise ConfigError(f"{field}: {value} must let the owner read and write (0600 at least)")
    if mode & 0o111:
        raise ConfigError(f"{field}: {value} has execute bits; data files need none")
    return mode


class StrictConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """A configuration block: unknown keys are errors, every field is named."""


_SIZE = re.compile(r"^\s*(\d+)\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB|Ki|Mi|Gi|Ti)?\s*$")
_SIZE_UNITS = {
    None: 1, "B": 1, "KB": 10**3, "MB": 10**6, "GB": 10**9, "TB": 10**12,
    "KiB": 2**10, "MiB": 2**20, "GiB": 2**30, "TiB": 2**40,
    "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40,
}  # fmt: skip


def parse_size(value: str | int, field: str) -> int:
    """Bytes from ``1073741824``, ``"512MiB"``, ``"1Gi"`` or ``"100MB"``, or ``ConfigError``."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ConfigError(f"{field}: expected a size like 512MiB or 1GiB, got {value!r}")
    if isinstance(value, int):
        size = value
    else:
        match = _SIZE.match(value)
        if match is None:
            raise ConfigError(f"{field}: invalid size {value!r} (use e.g. 512MiB, 1GiB, 100MB)")
        size = int(match.group(1)) * _SIZE_UNITS[match.group(2)]
    if size < 0:
        raise ConfigError(f"{field}: must not be negative")
    return size


WhenFull = Literal["block", "spool", "drop_newest"]


class SpoolConfig(StrictConfig):
    """A sink's disk spool (``when_full: spool``)."""

    # Default: next to the checkpoint, ``<checkpoint>.spool/<sink name>``.
    directory: str | None = None
    max_bytes: str | int = "1GiB"
    # Full: wait for room (pausing the watch), or drop the oldest occurrences and count them.
    overflow: Literal["block", "drop_oldest"] = "block"
    # "always": fsync each group commit (a power loss keeps what was acknowledged); "never":
    # a crash of the process keeps it, a power loss may not.
    fsync: Literal["always", "never"] = "always"
    # An occurrence stays in memory until its sink stores it or this long has passed; then
    # what memory holds is written here. 0: everything is written here first.
    spill_after: Seconds = Seconds.parse("5s")


class BufferConfig(StrictConfig):
    """The top-level ``buffer``: every sink's defaults."""

    # None: spool for remote sinks (webhook, Elasticsearch), block for local ones (SQLite, JSON
    # Lines): a local disk that fails would fail the spool too.
    when_full: WhenFull | None = None
    queue_size: int = 4_000
    max_batch_size: int = 500
    flush_delay: Seconds = Seconds.parse("1s")
    max_concurrency: int = 4
    spool: SpoolConfig = msgspec.field(default_factory=SpoolConfig)


class SinkBufferConfig(StrictConfig):
    """A sink's ``buffer``: what it sets replaces the top-level default."""

    when_full: WhenFull | None = None
    queue_size: int | None = None
    max_batch_size: int | None = None
    flush_delay: Seconds | None = None
    max_concurrency: int | None = None
    spool: SpoolConfig | None = None


class ThrottleConfig(StrictConfig):
    """A sink's ``throttle``: at most one occurrence per Event per ``min_interval``."""

    min_interval: Seconds


class RetryConfig(StrictConfig):
    """How a sink's failed writes are retried."""

    initial_delay: Seconds = Seconds.parse("500ms")
    max_delay: Seconds = Seconds.parse("30s")
    # A permanent failure (refused credentials, a missing index, a request that can never
    # pass) is tried this many times, then the batch goes to the dead letters.
    permanent_attempts: int = 3

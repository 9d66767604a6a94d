"""What every sink's configuration has, and the hooks the exporter calls on it.

A sink's configuration knows how to check itself (``validate``), which files it writes
(``files``, so that no two parts of the exporter write the same file), how to expand
``${NAME}`` references in its credentials (``expand``) and how to build its sink (``build``).
The exporter never switches on a sink's type.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import ClassVar, Self

import msgspec

from kubevents.export._configbase import (
    RetryConfig,
    SinkBufferConfig,
    StrictConfig,
    ThrottleConfig,
)
from kubevents.export._rules import RuleSet
from kubevents.export.sinks._base import Sink

__all__ = ["SinkConfigBase"]


class SinkConfigBase(StrictConfig):
    """Fields and hooks every ``sinks[]`` entry has; each sink type adds its own."""

    name: str = ""
    buffer: SinkBufferConfig | None = None  # overrides of the top-level ``buffer``
    retry: RetryConfig | None = None  # replaces the top-level ``retry``
    # This sink's own drop/match rules, applied after the top-level ``rules``.
    rules: RuleSet = msgspec.field(default_factory=RuleSet)
    # At most one occurrence per Event per interval to this sink (count bumps of a crash loop).
    throttle: ThrottleConfig | None = None

    # Whether the sink writes across a network: remote sinks spool by default, local ones
    # (whose disk a spool would share) block.
    remote: ClassVar[bool] = True

    def validate(self, where: str) -> None:
        """Raise ``ConfigError`` naming ``where.<field>`` for the first problem found."""

    def files(self, where: str) -> Iterator[tuple[str, Path]]:
        """Each file the sink writes, with the field that names it (checked as writable)."""
        return iter(())

    def expand(self, environ: Mapping[str, str], where: str) -> Self:
        """A copy with ``${NAME}`` references in credential fields expanded."""
        return self

    def build(self) -> Sink:
        raise NotImplementedError

"""What both ``FakeRecorder``s share: a Go-like buffered channel of strings, and type meta."""

from __future__ import annotations

import logging
import queue
from collections.abc import Mapping
from typing import Any, Self

from kubevents.model import ObjectReference

__all__ = ["FakeRecorderBase", "type_meta"]


class FakeRecorderBase:
    """The queue ``events`` of recorded strings, as client-go's fakes have a channel.

    Like Go's buffered channel, ``events`` holds ``buffer_size`` strings and a record call
    blocks while it is full; ``buffer_size=None`` discards everything (Go's nil channel) and
    ``0`` means unbounded (Python's queue convention; Go's would be unbuffered). Thread-safe.
    """

    def __init__(self, buffer_size: int | None) -> None:
        self.events: queue.Queue[str] | None = (
            queue.Queue(buffer_size) if buffer_size is not None else None
        )

    def with_logger(self, logger: logging.Logger) -> Self:
        return self

    def drain(self) -> list[str]:
        """Every string recorded so far (and not yet read), oldest first."""
        out: list[str] = []
        if self.events is None:
            return out
        while True:
            try:
                out.append(self.events.get_nowait())
            except queue.Empty:
                return out


def type_meta(obj: Any) -> tuple[str, str]:
    """The object's own kind and group/version, as Go's ``GetObjectKind()`` reports them."""
    if isinstance(obj, Mapping):
        kind = obj.get("kind")
        api_version = obj.get("apiVersion") or obj.get("api_version")
    elif isinstance(obj, ObjectReference):
        kind, api_version = obj.kind, obj.api_version
    else:
        kind = getattr(obj, "kind", None)
        api_version = getattr(obj, "api_version", None) or getattr(obj, "apiVersion", None)
    return (kind if isinstance(kind, str) else ""), _group_version(
        api_version if isinstance(api_version, str) else ""
    )


def _group_version(api_version: str) -> str:
    # schema.ParseGroupVersion, then GroupVersion.String(); an unparsable value is empty.
    if api_version in ("", "/"):
        return ""
    parts = api_version.split("/")
    if len(parts) == 1:
        return api_version
    if len(parts) > 2:
        return ""
    group, version = parts
    return f"{group}/{version}" if group else version

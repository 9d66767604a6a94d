"""``FakeRecorder``: client-go's ``record.FakeRecorder`` for controllers' unit tests."""

from __future__ import annotations

import logging
import queue
from collections.abc import Mapping
from typing import Any

from kubevents.model import ObjectReference
from kubevents.record._logging import go_map, sprintf

__all__ = ["FakeRecorder"]


class FakeRecorder:
    """Records ``"Type Reason Message"`` strings into the queue ``events``.

    Like Go's buffered channel, ``events`` holds ``buffer_size`` strings and a record call
    blocks while it is full; ``buffer_size=None`` discards everything (Go's nil channel) and
    ``0`` means unbounded (Python's queue convention; Go's would be unbuffered). With
    ``include_object`` each string ends in ``" involvedObject{kind=K,apiVersion=G/V}"``, taken
    from the object's own kind/apiVersion. Annotations follow as ``" map[a:b c:d]"``. As in Go,
    type and reason are part of the format string. Thread-safe; validates nothing.
    """

    def __init__(self, buffer_size: int | None = 100, include_object: bool = False) -> None:
        self.events: queue.Queue[str] | None = (
            queue.Queue(buffer_size) if buffer_size is not None else None
        )
        self.include_object = include_object

    def event(self, obj: Any, type: str, reason: str, message: str) -> None:
        # The message goes through "%s", so a "%" in it is not interpreted.
        self._write(obj, None, type, reason, "%s", (message,))

    def eventf(self, obj: Any, type: str, reason: str, fmt: str, *args: Any) -> None:
        self._write(obj, None, type, reason, fmt, args)

    def annotated_eventf(
        self,
        obj: Any,
        annotations: Mapping[str, str] | None,
        type: str,
        reason: str,
        fmt: str,
        *args: Any,
    ) -> None:
        self._write(obj, annotations, type, reason, fmt, args)

    def with_logger(self, logger: logging.Logger) -> FakeRecorder:
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

    def _write(
        self,
        obj: Any,
        annotations: Mapping[str, str] | None,
        event_type: str,
        reason: str,
        fmt: str,
        args: tuple[Any, ...],
    ) -> None:
        if self.events is None:
            return
        line = sprintf(f"{event_type} {reason} {fmt}", args)
        if self.include_object:
            kind, group_version = _type_meta(obj)
            line += f" involvedObject{{kind={kind},apiVersion={group_version}}}"
        if annotations:
            line += " " + go_map(annotations)
        self.events.put(line)


def _type_meta(obj: Any) -> tuple[str, str]:
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

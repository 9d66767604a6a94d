"""``FakeRecorder``: client-go's ``record.FakeRecorder`` for controllers' unit tests."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kubevents._recorderbase.fake import FakeRecorderBase, type_meta
from kubevents._recorderbase.gocompat import go_map, sprintf

__all__ = ["FakeRecorder"]


class FakeRecorder(FakeRecorderBase):
    """Records ``"Type Reason Message"`` strings into the queue ``events``.

    Like Go's buffered channel, ``events`` holds ``buffer_size`` strings and a record call
    blocks while it is full; ``buffer_size=None`` discards everything (Go's nil channel) and
    ``0`` means unbounded (Python's queue convention; Go's would be unbuffered). With
    ``include_object`` each string ends in ``" involvedObject{kind=K,apiVersion=G/V}"``, taken
    from the object's own kind/apiVersion. Annotations follow as ``" map[a:b c:d]"``. As in Go,
    type and reason are part of the format string. Thread-safe; validates nothing.
    """

    def __init__(self, buffer_size: int | None = 100, include_object: bool = False) -> None:
        super().__init__(buffer_size)
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
            kind, group_version = type_meta(obj)
            line += f" involvedObject{{kind={kind},apiVersion={group_version}}}"
        if annotations:
            line += " " + go_map(annotations)
        self.events.put(line)

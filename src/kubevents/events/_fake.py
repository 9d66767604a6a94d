"""``FakeRecorder``: client-go ``tools/events``' ``FakeRecorder`` for controllers' unit tests."""

from __future__ import annotations

from typing import Any

from kubevents._recorderbase.fake import FakeRecorderBase, type_meta
from kubevents._recorderbase.gocompat import sprintf

__all__ = ["FakeRecorder"]


class FakeRecorder(FakeRecorderBase):
    """Records ``"Type Reason Note"`` strings into the queue ``events``.

    As client-go's (v0.38): action and related are not shown, and type and reason are part of
    the format string. ``verbose=True`` is its ``Verbose``:
    ``"Type Reason Action Note"`` then ``" {kind=K,apiVersion=G/V}"`` for regarding and for
    related when they have a kind or apiVersion of their own.

    Like Go's buffered channel, ``events`` holds ``buffer_size`` strings and a record call
    blocks while it is full; ``buffer_size=None`` discards everything (Go's nil channel) and
    ``0`` means unbounded (Python's queue convention). Thread-safe; validates nothing.
    """

    def __init__(self, buffer_size: int | None = 100, *, verbose: bool = False) -> None:
        super().__init__(buffer_size)
        self.verbose = verbose

    def eventf(
        self,
        regarding: Any,
        related: Any,
        type: str,
        reason: str,
        action: str,
        note: str,
        *args: Any,
    ) -> None:
        if self.events is None:
            return
        if self.verbose:
            line = (
                f"{type} {reason} {action} {sprintf(note, args)}"
                f"{_object_string(regarding)}{_object_string(related)}"
            )
        else:
            line = sprintf(f"{type} {reason} {note}", args)
        self.events.put(line)


def _object_string(obj: Any) -> str:
    if obj is None:
        return ""
    kind, group_version = type_meta(obj)
    if not kind and not group_version:
        return ""
    return f" {{kind={kind},apiVersion={group_version}}}"

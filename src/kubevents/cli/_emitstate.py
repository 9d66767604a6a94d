"""The state ``kubevents emit`` keeps between its runs: the server's copy of each Event it wrote.

A recorder dedups repeats from memory (client-go's correlator, the EventSeries cache); a
one-shot process has no memory, so ``emit`` keeps that one part of it in a small JSON file and
locks the file while it runs, so that parallel steps of a job count correctly. The spam filter
and the aggregation of similar messages are not kept (see docs/operators.md).
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from kubevents.errors import ConfigError
from kubevents.model import Event, EventsV1Event

__all__ = ["MAX_ENTRIES", "EmitState", "default_state_path", "locked_state"]

# Per API: the Events of the last hundreds of distinct emits are more than a job repeats, and
# the server forgets Events after an hour anyway (a patch of a forgotten one re-creates it).
MAX_ENTRIES = 256
_CORE, _EVENTS_V1 = "v1", "events.k8s.io/v1"

_E = TypeVar("_E", Event, EventsV1Event)


def default_state_path() -> Path:
    """``$XDG_STATE_HOME/kubevents/emit-state.json`` (``~/.local/state`` by default)."""
    base = os.environ.get("XDG_STATE_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "state"
    )
    return Path(base) / "kubevents" / "emit-state.json"


class EmitState:
    """The Events written so far, per API, oldest first."""

    def __init__(self, core: list[Event], events_v1: list[EventsV1Event]) -> None:
        self.core = core
        self.events_v1 = events_v1

    @staticmethod
    def _remember(entries: list[_E], event: _E) -> None:
        key = (event.metadata.namespace, event.metadata.name)
        entries[:] = [e for e in entries if (e.metadata.namespace, e.metadata.name) != key]
        entries.append(event)
        del entries[:-MAX_ENTRIES]

    def remember(self, event: Event | EventsV1Event) -> None:
        if isinstance(event, Event):
            self._remember(self.core, event)
        else:
            self._remember(self.events_v1, event)

    def encode(self) -> bytes:
        return json.dumps(
            {
                _CORE: [e.to_dict() for e in self.core],
                _EVENTS_V1: [e.to_dict() for e in self.events_v1],
            }
        ).encode()

    @classmethod
    def decode(cls, data: bytes, path: Path) -> EmitState:
        """The state in ``data``; an unreadable file is reported and treated as empty (the
        Event is still written, only the count starts again)."""
        if not data.strip():
            return cls([], [])
        try:
            raw: Any = json.loads(data)
            return cls(
                [Event.from_dict(e) for e in raw.get(_CORE, [])],
                [EventsV1Event.from_dict(e) for e in raw.get(_EVENTS_V1, [])],
            )
        except Exception as exc:  # the file is the user's: anything can be in it
            click.echo(
                f"kubevents emit: ignoring the unreadable state file {path}: {type(exc).__name__}",
                err=True,
            )
            return cls([], [])


@contextmanager
def locked_state(path: Path | None) -> Iterator[EmitState]:
    """The state in ``path``, held under an exclusive lock and saved on a clean exit; without a
    path (``--no-state``) an empty state that is not kept."""
    if path is None:
        yield EmitState([], [])
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = path.open("a+b")
    except OSError as exc:
        raise ConfigError(
            f"state file {path}: {exc.strerror or exc} (--no-state keeps none)"
        ) from exc
    with handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        state = EmitState.decode(handle.read(), path)
        yield state
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(state.encode())
            handle.flush()
            os.fsync(handle.fileno())
        except OSError as exc:
            # The Event is written; only the count of a later repeat is lost.
            click.echo(f"kubevents emit: cannot save the state file {path}: {exc}", err=True)

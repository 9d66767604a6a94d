"""What has been exported: per-Event counts and the resume point, persisted atomically.

The tracker answers "is this (uid, count) new?" for every object the watch or a relist shows.
It keeps two counts per uid: ``seen`` (dispatched to the sinks by this process) and ``stored``
(acknowledged by every sink). Only ``stored`` is persisted, so after a crash anything not yet
stored is exported again, and the stable occurrence ids make that replay harmless.
Entries are pruned once older than the Event TTL plus a margin, which bounds the map.
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import msgspec

from kubevents.model import DECODE_ERRORS

__all__ = ["Checkpoint", "Decision", "EventTracker", "load_checkpoint", "save_checkpoint"]

log = logging.getLogger(__name__)

CHECKPOINT_FORMAT = 1
# kube-apiserver's default --event-ttl is 1 h; keep state a while longer so a late relist of an
# Event that is about to expire still dedups.
DEFAULT_STATE_TTL_SECONDS = 3 * 3600.0


class Checkpoint(msgspec.Struct, kw_only=True):
    """The checkpoint file's content: the cluster, the resume resourceVersion, and per Event
    uid the highest count every sink stored with when it was last seen (``EventTracker``)."""

    format: int = CHECKPOINT_FORMAT
    cluster: str = ""
    resource_version: str | None = msgspec.field(default=None, name="resourceVersion")
    # uid -> [highest count stored by every sink, unix time last seen]
    events: dict[str, tuple[int, float]] = msgspec.field(default_factory=dict)
    saved_at: float = msgspec.field(default=0.0, name="savedAt")


_decoder = msgspec.json.Decoder(Checkpoint)


_MAX_COUNT = 2**31 - 1


class _Format(msgspec.Struct):
    format: int | float | str | None = None


def load_checkpoint(path: Path) -> Checkpoint | None:
    """Read a checkpoint; None when there is none or it cannot be used (logged: a relist).

    A missing file is the normal first start. Anything else that keeps the file from being
    used (a directory or something unreadable at the path, bytes that are not a checkpoint,
    a format this version does not know) is logged as an error and ignored: that costs a
    relist and replays that stable ids absorb, while refusing to start would cost history.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        log.error("ignoring checkpoint %s: cannot read it: %s", path, exc.strerror or exc)
        return None
    try:
        # The format first: a future format may have changed any other field.
        version = msgspec.json.decode(data, type=_Format).format
        if version != CHECKPOINT_FORMAT:
            log.error(
                "ignoring checkpoint %s of unknown format %r (this version reads format %d)",
                path,
                version,
                CHECKPOINT_FORMAT,
            )
            return None
        checkpoint = _decoder.decode(data)
    except DECODE_ERRORS as exc:
        log.error("ignoring unreadable checkpoint %s: %s", path, exc)
        return None
    for uid, (count, last_seen) in checkpoint.events.items():
        # Kubernetes counts are int32: a larger stored count would suppress every later
        # occurrence of that Event.
        if not (0 <= count <= _MAX_COUNT and math.isfinite(last_seen)):
            log.error("ignoring corrupt checkpoint %s: entry %r is out of range", path, uid)
            return None
    return checkpoint


def save_checkpoint(path: Path, checkpoint: Checkpoint) -> None:
    """Write atomically: a crash leaves either the old or the new file, never a torn one."""
    checkpoint.saved_at = time.time()
    data = msgspec.json.encode(checkpoint)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether to export; ``missed`` counts occurrences the server never showed us."""

    export: bool
    missed: int = 0


_SKIP = Decision(False)
_NEW = Decision(True)


# A Struct: built for every new Event uid, at a fraction of a Python __init__'s cost.
class _Entry(msgspec.Struct, gc=False):
    seen: int
    stored: int
    last_seen: float


class EventTracker:
    """The exporter's dedup state: per Event uid, the highest count dispatched and the highest
    count every sink stored.

    ``decide`` says whether an (uid, count) is new and how many counts were skipped, so a
    relist or a restart re-sends nothing already stored; ``stored`` records what every sink
    acknowledged; ``prune`` forgets uids not seen for ``ttl_seconds`` (Events that expired);
    ``snapshot`` is what the checkpoint saves, and a checkpoint seeds a new tracker.
    """

    def __init__(
        self,
        checkpoint: Checkpoint | None = None,
        *,
        ttl_seconds: float = DEFAULT_STATE_TTL_SECONDS,
    ) -> None:
        self._entries: dict[str, _Entry] = {}
        self._ttl = ttl_seconds
        if checkpoint is not None:
            for uid, (stored, last_seen) in checkpoint.events.items():
                self._entries[uid] = _Entry(stored, stored, last_seen)

    def __len__(self) -> int:
        return len(self._entries)

    def decide(self, uid: str, count: int, now: float | None = None) -> Decision:
        """Mark (uid, count) as dispatched if it is new; say how many counts were skipped."""
        now = time.time() if now is None else now
        entry = self._entries.get(uid)
        if entry is None:
            self._entries[uid] = _Entry(count, 0, now)
            return _NEW
        entry.last_seen = now
        if count <= entry.seen:
            return _SKIP
        missed = count - entry.seen - 1 if entry.seen > 0 else 0
        entry.seen = count
        return Decision(True, missed) if missed else _NEW

    def stored(self, uid: str, count: int) -> None:
        """Every sink has stored (uid, count)."""
        entry = self._entries.get(uid)
        if entry is None:
            self._entries[uid] = _Entry(count, count, time.time())
        elif count > entry.stored:
            entry.stored = count

    def prune(self, now: float | None = None) -> int:
        now = time.time() if now is None else now
        cutoff = now - self._ttl
        # Entries still in flight are kept: pruning them would re-export on the next relist.
        old = [
            uid for uid, e in self._entries.items() if e.last_seen < cutoff and e.seen == e.stored
        ]
        for uid in old:
            del self._entries[uid]
        return len(old)

    def snapshot(self, cluster: str, resource_version: str | None) -> Checkpoint:
        return Checkpoint(
            cluster=cluster,
            resource_version=resource_version,
            events={
                uid: (e.stored, e.last_seen) for uid, e in self._entries.items() if e.stored > 0
            },
        )

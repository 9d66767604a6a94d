"""Files the sinks create, with the permissions the configuration asks for (0600 by default).

The mode is set on the open descriptor right after creation (``fchmod``), so the umask cannot
widen or narrow it. Existing files keep their mode: tightening them could lock out a reader
someone set up on purpose, and loosening them would expose what was private. A file more
open than configured is reported once, so the operator can ``chmod`` it.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TypeVar

from kubevents.export.sinks._base import SinkError

__all__ = [
    "DEFAULT_FILE_MODE",
    "Worker",
    "check_mode",
    "create_private",
    "fsync_dir",
    "io_error",
    "open_append",
    "write_all",
]

log = logging.getLogger(__name__)

DEFAULT_FILE_MODE = 0o600

_warned: set[str] = set()

_T = TypeVar("_T")


def check_mode(path: Path, mode: int, st_mode: int | None = None) -> None:
    """Warn (once per path) when an existing file grants more than ``mode``."""
    if st_mode is None:
        try:
            st_mode = path.stat().st_mode
        except OSError:
            return
    extra = st_mode & 0o777 & ~mode
    if extra and str(path) not in _warned:
        _warned.add(str(path))
        log.warning(
            "%s has mode %04o, more open than the configured file_mode %04o; existing files "
            "keep their mode (chmod %04o %s to apply it)",
            path,
            st_mode & 0o777,
            mode,
            mode,
            path,
        )


def open_append(path: Path, mode: int = DEFAULT_FILE_MODE) -> tuple[int, bool]:
    """Open ``path`` for appending, creating it with exactly ``mode``; return (fd, created)."""
    flags = os.O_WRONLY | os.O_APPEND | os.O_CLOEXEC
    for _ in range(3):  # another process may create or delete it between the two opens
        try:
            fd = os.open(path, flags | os.O_CREAT | os.O_EXCL, mode)
        except FileExistsError:
            try:
                fd = os.open(path, flags)
            except FileNotFoundError:
                continue
            check_mode(path, mode, os.fstat(fd).st_mode)
            return fd, False
        try:
            os.fchmod(fd, mode)
        except BaseException:
            os.close(fd)
            raise
        return fd, True
    raise FileNotFoundError(f"{path} keeps appearing and disappearing")


def create_private(path: Path, mode: int = DEFAULT_FILE_MODE) -> bool:
    """Create ``path`` empty with exactly ``mode`` if it does not exist; True if it did not."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    except FileExistsError:
        check_mode(path, mode)
        return False
    try:
        os.fchmod(fd, mode)
    finally:
        os.close(fd)
    return True


_ERRNO_REASONS = {
    errno.ENOSPC: "disk_full",
    errno.EDQUOT: "disk_quota",
    errno.EACCES: "permission",
    errno.EPERM: "permission",
    errno.EROFS: "read_only",
    errno.ENOENT: "not_found",
    errno.ENOTDIR: "not_a_directory",
    errno.EEXIST: "not_a_directory",  # mkdir of a parent that is a file
    errno.EISDIR: "is_directory",
    errno.EPIPE: "broken_pipe",
}


def io_error(action: str, target: object, exc: OSError) -> SinkError:
    reason = _ERRNO_REASONS.get(exc.errno or 0, "io_error")
    return SinkError(f"{action} {target}: {exc.strerror or exc}", reason=reason)


def write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def fsync_dir(path: Path) -> None:
    # A new or renamed file is durable only once its directory entry is.
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Worker:
    """One thread that does all blocking I/O of an owner, in submission order.

    A single worker serialises writes without an asyncio lock, and because a cancelled
    coroutine cannot stop a running thread, later jobs (including ``close``) still wait for it.
    """

    def __init__(self, name: str) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)

    async def run(self, fn: Callable[[], _T]) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn)

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False)

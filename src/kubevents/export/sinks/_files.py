"""Files the sinks create, with the permissions the configuration asks for (0600 by default).

The mode is set on the open descriptor right after creation (``fchmod``), so the umask cannot
widen or narrow it. Existing files keep their mode: tightening them could lock out a reader
someone set up on purpose, and loosening them would expose what was private. A file more
open than configured is reported once, so the operator can ``chmod`` it.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

__all__ = ["DEFAULT_FILE_MODE", "check_mode", "create_private", "open_append"]

log = logging.getLogger(__name__)

DEFAULT_FILE_MODE = 0o600

_warned: set[str] = set()


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
            path, st_mode & 0o777, mode, mode, path,
        )  # fmt: skip


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

"""The exporter process's C allocator: large transient buffers go back to the system.

glibc serves a request that its heap cannot hold and that is at least ``M_MMAP_THRESHOLD``
large with a mapping of its own, unmapped on free; but each time it frees such a block it raises
the threshold to that block's size, up to 32 MiB. The exporter's large blocks are transient
(encoded batches of several hundred KiB, the buffers they grow through, watch chunks), so once
the threshold has risen they grow the heap instead, between the ~1 KiB Event bodies (above
pymalloc's 512-byte limit, so also glibc's) that live until their batch is written, and the
heap cannot shrink past those. Setting the threshold explicitly turns the adjustment off
(mallopt(3)).

At 1 MiB: draining a burst of 30 000 Events into JSON Lines peaked at a median of 95.8 instead
of 101.6 MiB, at the same CPU. glibc's own 128 KiB cut the peak further (90.5 MiB) but cost a
fifth more CPU: the TLS layer reads into 256 KiB blocks, which then became a mapping each
(docs/benchmarks.md, "Burst peak RSS").

Only the CLI does this: the process is its own. A library user's process is left alone. Other C
libraries (musl) have no ``mallopt``: nothing is changed there.
"""

from __future__ import annotations

import ctypes
import os

__all__ = ["MMAP_THRESHOLD", "pin_mmap_threshold"]

M_MMAP_THRESHOLD = -3  # <malloc.h>
MMAP_THRESHOLD = 1024 * 1024


def pin_mmap_threshold() -> bool:
    """Fix glibc's mmap threshold at ``MMAP_THRESHOLD``; False where there is no ``mallopt``
    or where the environment already sets it (glibc read that at start: it stays)."""
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or "glibc.malloc.mmap_threshold" in os.environ.get(
        "GLIBC_TUNABLES", ""
    ):
        return False
    try:
        # The symbols the process already has: the C library's, without searching for it.
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD))

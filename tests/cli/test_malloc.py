"""The exporter CLI pins glibc's mmap threshold, so a large transient buffer is its own mapping.

Each check runs in a child interpreter: the setting is process-wide and cannot be undone.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from kubevents.cli._malloc import MMAP_THRESHOLD, pin_mmap_threshold

# In the child: free one block far above the threshold (glibc then raises its dynamic threshold
# to that size), optionally pin, then allocate a block above the pinned threshold that the
# heap's free space cannot hold and report whether it became a mapping of its own (mallinfo2's
# hblks, glibc >= 2.33).
_CHILD = textwrap.dedent(
    """
    import ctypes, sys
    from kubevents.cli._malloc import MMAP_THRESHOLD, pin_mmap_threshold
    libc = ctypes.CDLL(None)
    if not hasattr(libc, "mallinfo2"):
        print("no-mallinfo2"); sys.exit(0)
    class MallInfo2(ctypes.Structure):
        _fields_ = [(n, ctypes.c_size_t) for n in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
            "uordblks", "fordblks", "keepcost")]
    libc.mallinfo2.restype = MallInfo2
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    libc.free(libc.malloc(8 * 1024 * 1024))
    if sys.argv[1] == "pin":
        assert pin_mmap_threshold()
    info = libc.mallinfo2()
    # More than the heap has free, or glibc serves it from there whatever the threshold.
    size = max(MMAP_THRESHOLD + 4096, info.fordblks + 65536)
    assert size < 8 * 1024 * 1024, size
    before = info.hblks
    block = libc.malloc(size)
    mapped = libc.mallinfo2().hblks - before
    libc.free(block)
    print("mapped" if mapped == 1 else "heap")
    """
)


def _where(mode: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, mode], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()


def test_a_large_block_is_mapped_once_pinned() -> None:
    unpinned = _where("default")
    if unpinned == "no-mallinfo2":
        pytest.skip("not glibc >= 2.33: nothing to pin")
    # Without the pin, glibc's raised threshold puts the block on the heap.
    assert unpinned == "heap"
    assert _where("pin") == "mapped"
    assert MMAP_THRESHOLD >= 128 * 1024


def test_a_threshold_from_the_environment_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "65536")
    assert pin_mmap_threshold() is False
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_")
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.mmap_threshold=65536")
    assert pin_mmap_threshold() is False

"""Shared test helpers."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def eventually(
    condition: Callable[[], bool], what: str, *, within: float = 10.0, interval: float = 0.005
) -> None:
    """Wait for a condition owned by another task or process, failing after ``within`` s.

    Only for observing work that has no awaitable of its own (a child process, a server);
    never a substitute for waiting on the operation under test.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while True:
        if condition():
            return
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        await asyncio.sleep(interval)
